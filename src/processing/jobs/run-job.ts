/**
 * One job from start to end: the series as a volume (through the NIfTI conversion), the
 * operation in a worker thread, and the result published back through the ingest path as a
 * derived series or a DICOM Segmentation in the same study.
 */
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { Index } from '../../index/index';
import { BlobStore } from '../../store/blob-store';
import { IngestDeps, ingest } from '../../ingest/ingest';
import { VeilgateError } from '../../errors';
import { cleanClientText } from '../../deid/clean-text';
import { seriesNifti } from '../../convert/series-nifti';
import { readNifti } from '../../convert/nifti';
import { sliceStack } from '../../convert/series-geometry';
import { volumeToDicomSeries } from '../../convert/volume-to-dicom';
import { labelsToSegmentation } from '../../convert/segmentation';
import { parsePart10 } from '../../dicom/parse';
import { DicomJson } from '../../dicom/json';
import { TS } from '../../dicom/transfer-syntax';
import { projectRoot } from '../../paths';
import { OperationResult } from '../operations';
import { Grid } from '../resample';
import { Volume, fromNifti, toNifti } from '../volume';
import { JobRecord } from './job-store';

export interface JobDeps {
  index: Index;
  store: BlobStore;
  ingestDeps: IngestDeps;
  /** Models live under <dataDir>/models. */
  dataDir: string;
}

/** The compiled worker: beside this file when running from dist/, else in dist/ (tests run the sources). */
function workerFile(): string {
  return __filename.endsWith('.ts') ? path.join(projectRoot(), 'dist', 'src', 'processing', 'jobs', 'worker.js') : path.join(__dirname, 'worker.js');
}

async function seriesVolume(deps: JobDeps, study: string, series: string): Promise<Volume> {
  const conversion = await seriesNifti(deps.index, deps.store, study, series);
  return fromNifti(readNifti(conversion.volumes[0].nii.data));
}

function compute(op: string, params: Record<string, unknown>, volume: Volume, referenceGrid: Grid | undefined, dataDir: string, maxVoxels: number, onWorker: (w: Worker) => void, onProgress: (p: number) => void): Promise<OperationResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(workerFile(), {
      workerData: { op, params, volume: { dims: volume.dims, affine: volume.affine, data: volume.data.buffer }, referenceGrid, dataDir, maxVoxels },
      transferList: [volume.data.buffer as ArrayBuffer],
    });
    onWorker(worker);
    let done = false;
    worker.on('message', (m: { type: string; progress?: number; result?: OperationResult; message?: string }) => {
      if (m.type === 'progress') onProgress(m.progress!);
      else if (m.type === 'result') {
        done = true;
        resolve(m.result!);
      } else if (m.type === 'error') {
        done = true;
        reject(new VeilgateError('unprocessable', m.message ?? 'the computation failed'));
      }
    });
    worker.once('error', (e) => reject(e instanceof VeilgateError ? e : new VeilgateError('unprocessable', (e as Error).message)));
    worker.once('exit', (code) => {
      if (!done) reject(new VeilgateError('unprocessable', code === 1 ? 'the computation was stopped' : `the computation ended with code ${code}`));
    });
  });
}

export async function runJob(job: JobRecord, deps: JobDeps, onWorker: (w: Worker) => void, onProgress: (p: number) => void): Promise<NonNullable<JobRecord['result']>> {
  const { study, series } = job;
  const instances = await deps.index.instances({ study, series });
  if (!instances.length) throw new VeilgateError('not-found', 'the input series is not stored');
  onProgress(2);
  const volume = await seriesVolume(deps, study, series);
  let referenceGrid: Grid | undefined;
  const reference = job.params.reference as { study: string; series: string } | undefined;
  if (reference) {
    const ref = await seriesVolume(deps, reference.study, reference.series);
    referenceGrid = { dims: ref.dims, affine: ref.affine };
  }
  onProgress(15);
  const result = await compute(job.op, job.params, volume, referenceGrid, deps.dataDir, deps.ingestDeps.limits.maxJobOutputVoxels, onWorker, (p) => onProgress(15 + p * 0.6));
  onProgress(80);
  // Built from the typed spec alone, and cleaned like every text that ends up in a stored object.
  const description = cleanClientText(result.description);

  const metadata = (await deps.index.metadata({ study, series })).map((m) => JSON.parse(m) as DicomJson);
  const stack = sliceStack(metadata);
  const sourceSeriesNumber = Number(metadata[0]?.['00200011']?.Value?.[0] ?? 0) || 0;
  let datasets;
  let kind: 'image' | 'segmentation';
  if (result.kind === 'image') {
    kind = 'image';
    const first = instances[0];
    const source = parsePart10(await deps.store.read(first.blobKey, [{ start: 0, end: first.size - 1 }])).dataset;
    datasets = volumeToDicomSeries({
      volume: toNifti(result.volume, description),
      source,
      stack,
      sourceSeriesUID: series,
      sourceInstances: instances,
      seriesDescription: description,
      derivationDescription: `Veilgate processing: ${description}`,
    });
  } else {
    kind = 'segmentation';
    if (!stack) throw new VeilgateError('unprocessable', 'a segmentation is made on a series of single-frame slices; this series has none');
    datasets = [
      labelsToSegmentation({
        labels: result.labels,
        segments: result.segments,
        stack,
        sourceMetadata: metadata.find((m) => m['00080018']?.Value?.[0] === stack.slices[0].sopInstanceUID) ?? metadata[0],
        sourceSeriesUID: series,
        seriesDescription: description,
        seriesNumber: sourceSeriesNumber + 2000,
      }),
    ];
  }
  let seriesInstanceUID = '';
  for (const [i, dataset] of datasets.entries()) {
    const stored = await ingest({ kind: 'derived', dataset, transferSyntaxUID: TS.ExplicitVRLittleEndian }, { source: `job ${job.id}` }, deps.ingestDeps);
    if (!stored.ok) throw stored.error;
    seriesInstanceUID = stored.seriesUID;
    onProgress(80 + (20 * (i + 1)) / datasets.length);
  }
  return { series: [{ seriesInstanceUID, kind, instances: datasets.length }] };
}
