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
  source: {
    seriesUID: string;
    seriesNumber: number;
    stack?: SliceStack;
    /** The metadata of the stack's first slice (a SEG copies patient and study from it). */
    stackMetadata: DicomJson;
    /** The series' first stored instance, PS3.10: the model of a derived series' instances. */
    firstInstance: Uint8Array;
    instances: { sopClassUID: string; sopInstanceUID: string }[];
  };
}

export interface JobWorkerResult {
  kind: 'image' | 'segmentation';
  /** The result's instances, PS3.10, ready for the ingest path. */
  instances: Uint8Array[];
  /** A registration's final elastix transform parameter map. */
  transform?: Record<string, string[]>;
}
