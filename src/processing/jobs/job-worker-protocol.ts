/** What the main thread hands a job's worker thread, and what it gets back. */
import type { DicomJson } from '../../dicom/json';
import type { SliceStack } from '../../convert/series-geometry';
import type { Grid } from '../resample';

export interface JobWorkerData {
  op: string;
  params: Record<string, unknown>;
  /** The series as NIfTI (its first volume): read into real values on the worker thread. */
  nii: Uint8Array;
  referenceGrid?: Grid;
  /** A registration's fixed series as NIfTI; the result is built on it (`source` is then the fixed series). */
  fixedNii?: Uint8Array;
  dataDir: string;
  maxVoxels: number;
  /** What the result is built from: the source series as stored (de-identified). */
  source: StoredSource;
}

/**
 * A stored series as the index and the store give it, unparsed: its metadata documents are
 * parsed (and its slices ordered) on the job's thread, never on the main thread.
 */
export interface StoredSource {
  seriesUID: string;
  /** Each instance's PS3.18 JSON metadata, as the index keeps it. */
  metadata: string[];
  /** The series' first stored instance, PS3.10: the model of a derived series' instances. */
  firstInstance: Uint8Array;
  instances: { sopClassUID: string; sopInstanceUID: string }[];
}

/** A StoredSource read: its number, its slice stack, and the metadata of the stack's first slice (a SEG copies patient and study from it). */
export interface SourceSeries {
  seriesNumber: number;
  stack?: SliceStack;
  stackMetadata: DicomJson;
}

export interface JobWorkerResult {
  kind: 'image' | 'segmentation';
  /** The result's instances, PS3.10, ready for the ingest path. */
  instances: Uint8Array[];
  /** A registration's final elastix transform parameter map. */
  transform?: Record<string, string[]>;
}
