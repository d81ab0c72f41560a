/**
 * The typed specification of every task the worker pool runs: its name, what it takes and
 * what it gives back. The worker (worker.ts) and the callers share these types, so a task
 * cannot be sent with the wrong input or read with the wrong output.
 */
import type { PrepareContext, PrepareInput, PrepareOutcome } from '../ingest/prepare';
import type { RenderTaskInput } from '../imaging/render-task';
import type { PixelDescription } from '../imaging/decode';
import type { ByteRange } from '../dicom/write';
import type { FlipFramesInput } from '../convert/place-slices';
import type { NiftiSeriesTaskInput, NiftiSeriesTaskOutput } from '../convert/nifti-series-task';

export interface Tasks {
  /** Parse, validate, de-identify, encode and describe one incoming instance. */
  'prepare-instance': { input: { input: PrepareInput; ctx: PrepareContext }; output: PrepareOutcome };
  /** Decode compressed frames to native pixels. */
  'decode-frames': { input: { frames: Uint8Array[]; transferSyntaxUID: string; pixels: PixelDescription }; output: Uint8Array[] };
  /** Decode (if compressed), subsample to the viewport, window and encode one frame as an image. */
  render: { input: RenderTaskInput; output: Uint8Array };
  /** A stored instance rewritten in an uncompressed transfer syntax, as one buffer. */
  transcode: { input: { file: Uint8Array; stored: string; target: string; frames: ByteRange[][] | undefined }; output: Uint8Array };
  /** Stored frames put in NIfTI order (the direct series → NIfTI path), moved here and back; the caller copies each into the volume. */
  'place-slices': { input: FlipFramesInput; output: Uint8Array[] };
  /** A posted NIfTI volume read, checked against the series' grid and turned into derived DICOM instances. */
  'nifti-to-series': { input: NiftiSeriesTaskInput; output: NiftiSeriesTaskOutput };
}

export type TaskName = keyof Tasks;
export type TaskInput<T extends TaskName> = Tasks[T]['input'];
export type TaskOutput<T extends TaskName> = Tasks[T]['output'];
