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
import { seriesNifti } from '../../convert/series-nifti';
import { readNifti } from '../../convert/nifti';
import { projectRoot } from '../../paths';
import { Grid } from '../resample';
import type { JobWorkerData, JobWorkerResult } from './job-worker-protocol';
import { JobRecord } from './job-store';

export interface JobDeps {
  index: Index;
  store: BlobStore;
  ingestDeps: IngestDeps;
  /** Models live under <dataDir>/models. */
  dataDir: string;
  /** Told of each derived series a job stored (egress routes with "from": "jobs" listen). */
  onResultStored?: (study: string, series: string) => void;
}

/** The compiled worker: beside this file when running from dist/, else in dist/ (tests run the sources). */
function workerFile(): string {
  return __filename.endsWith('.ts') ? path.join(projectRoot(), 'dist', 'src', 'processing', 'jobs', 'worker.js') : path.join(__dirname, 'worker.js');
}

async function seriesNiftiBytes(deps: JobDeps, study: string, series: string): Promise<Uint8Array> {
  return (await seriesNifti(deps.index, deps.store, study, series, { workers: deps.ingestDeps.workers })).volumes[0].nii.data;
}

function compute(data: JobWorkerData, onWorker: (w: Worker) => void, onProgress: (p: number) => void): Promise<JobWorkerResult> {
  return new Promise((resolve, reject) => {
    // The NIfTI bytes are in shared memory (dcm2niix.ts): the worker reads the cached conversion in place.
    const worker = new Worker(workerFile(), { workerData: data });
    onWorker(worker);
    let done = false;
    worker.on('message', (m: { type: string; progress?: number; result?: JobWorkerResult; message?: string }) => {
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
  const nii = await seriesNiftiBytes(deps, study, series);
  let referenceGrid: Grid | undefined;
  const reference = job.params.reference as { study: string; series: string } | undefined;
  if (reference) {
    // Only the reference's header is read (an uncompressed NIfTI's voxels are a view, not a copy).
    const ref = readNifti(await seriesNiftiBytes(deps, reference.study, reference.series));
    referenceGrid = { dims: [ref.dims[0], ref.dims[1], ref.dims[2]], affine: ref.affine };
  }
  // A registration's result lies on its fixed series' grid, in the fixed series' study and frame of reference.
  const fixed = job.op === 'register' ? (job.params.fixed as { study: string; series: string }) : undefined;
  const fixedNii = fixed ? await seriesNiftiBytes(deps, fixed.study, fixed.series) : undefined;
  const publishOn = fixed ?? { study, series };
  const source = await resultSource(deps, publishOn.study, publishOn.series);
  onProgress(15);
  // The computation and building its DICOM result both run on the job's own thread.
  const result = await compute(
    { op: job.op, params: job.params, nii, referenceGrid, fixedNii, dataDir: deps.dataDir, maxVoxels: deps.ingestDeps.limits.maxJobOutputVoxels, source },
    onWorker,
    (p) => onProgress(15 + p * 0.65),
  );
  onProgress(80);
  let seriesInstanceUID = '';
  for (const [i, bytes] of result.instances.entries()) {
    const stored = await ingest({ kind: 'derived-part10', bytes }, { origin: { kind: 'job', jobId: job.id }, derivedFrom: publishOn.study }, deps.ingestDeps);
    if (!stored.ok) throw stored.error;
    seriesInstanceUID = stored.seriesUID;
    onProgress(80 + (20 * (i + 1)) / result.instances.length);
  }
  if (seriesInstanceUID) deps.onResultStored?.(publishOn.study, seriesInstanceUID);
  return { series: [{ seriesInstanceUID, kind: result.kind, instances: result.instances.length }], ...(result.transform ? { transform: result.transform } : {}) };
}

/** What a job's result is built from: a stored series' metadata and first instance, as stored (the job's thread reads them). */
async function resultSource(deps: JobDeps, study: string, series: string): Promise<JobWorkerData['source']> {
  const instances = await deps.index.instances({ study, series });
  if (!instances.length) throw new VeilgateError('not-found', 'the series is not stored');
  const first = instances[0];
  return {
    seriesUID: series,
    metadata: await deps.index.metadata({ study, series }),
    firstInstance: await deps.store.read(first.blobKey, [{ start: 0, end: first.size - 1 }]),
    instances: instances.map((i) => ({ sopClassUID: i.sopClassUID, sopInstanceUID: i.sopInstanceUID })),
  };
}
