/**
 * The worker thread of a job: the computation on the volume, and building its result as DICOM
 * (a derived series or a Segmentation), encoded as PS3.10 for the one ingest path. HTTP never
 * waits on the maths, nor on packing 300 frames of a SEG.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { OperationResult, modelSegments, runOperation, specOf } from '../operations';
import { loadModelConfig, runModel } from '../model';
import { cleanClientText } from '../../deid/clean-text';
import { volumeToDicomSeries } from '../../convert/volume-to-dicom';
import { labelsToSegmentation } from '../../convert/segmentation';
import { parsePart10 } from '../../dicom/parse';
import { encodeDerived } from '../../dicom/encode';
import { VeilgateError } from '../../errors';
import { lowerThisThreadPriority } from '../../workers/priority';
import { quietDicomLibraries } from '../../quiet-libraries';
import { fromNifti, toNifti } from '../volume';
import { readNifti } from '../../convert/nifti';
import type { JobWorkerData, JobWorkerResult } from './job-worker-protocol';

async function compute(data: JobWorkerData, progress: (p: number) => void): Promise<OperationResult> {
  const { op, params, referenceGrid, dataDir, maxVoxels } = data;
  const input = fromNifti(readNifti(data.nii));
  const spec = specOf(op, params);
  if (spec.op !== 'model') return runOperation(spec, input, referenceGrid, progress, maxVoxels);
  const config = loadModelConfig(dataDir, spec.model);
  const labels = await runModel(dataDir, spec.model, input, progress);
  return { kind: 'segmentation', labels, segments: modelSegments(spec.model, config.labels), description: `model ${spec.model}` };
}

/** The result as DICOM instances in the source's study, built from the typed spec's description alone. */
function publish(data: JobWorkerData, result: OperationResult): JobWorkerResult {
  const { source } = data;
  // Built from the typed spec alone, and cleaned like every text that ends up in a stored object.
  const description = cleanClientText(result.description);
  if (result.kind === 'image') {
    const model = parsePart10(Buffer.from(source.firstInstance.buffer, source.firstInstance.byteOffset, source.firstInstance.byteLength)).dataset;
    const datasets = volumeToDicomSeries({
      volume: toNifti(result.volume, description),
      source: model,
      stack: source.stack,
      sourceSeriesUID: source.seriesUID,
      sourceInstances: source.instances,
      seriesDescription: description,
      derivationDescription: `Veilgate processing: ${description}`,
    });
    return { kind: 'image', instances: datasets.map(encodeDerived) };
  }
  if (!source.stack) throw new VeilgateError('unprocessable', 'a segmentation is made on a series of single-frame slices; this series has none');
  const seg = labelsToSegmentation({
    labels: result.labels,
    segments: result.segments,
    stack: source.stack,
    sourceMetadata: source.stackMetadata,
    sourceSeriesUID: source.seriesUID,
    seriesDescription: description,
    seriesNumber: source.seriesNumber + 2000,
  });
  return { kind: 'segmentation', instances: [encodeDerived(seg)] };
}

async function main(): Promise<JobWorkerResult> {
  const data = workerData as JobWorkerData;
  const progress = (p: number) => parentPort!.postMessage({ type: 'progress', progress: p * 0.9 });
  const result = await compute(data, progress);
  return publish(data, result);
}

quietDicomLibraries();
lowerThisThreadPriority();

main().then(
  (result) => parentPort!.postMessage({ type: 'result', result }, result.instances.map((b) => b.buffer as ArrayBuffer)),
  (e: Error) => parentPort!.postMessage({ type: 'error', message: e instanceof VeilgateError || !(e instanceof Error) ? (e as Error).message : e.message }),
);
