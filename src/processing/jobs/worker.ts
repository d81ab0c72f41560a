/**
 * The worker thread of a job: the computation on the volume, and building its result as DICOM
 * (a derived series or a Segmentation), encoded as PS3.10 for the one ingest path. HTTP never
 * waits on the maths, nor on packing 300 frames of a SEG.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { OperationResult, checkGridSize, describeOperation, modelSegments, runOperation, specOf } from '../operations';
import { describeTransform, registerVolumes } from '../register';
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
import type { JobWorkerData, JobWorkerResult, SourceSeries, StoredSource } from './job-worker-protocol';
import { sliceStack } from '../../convert/series-geometry';
import type { DicomJson } from '../../dicom/json';

/** A registration's result also carries the transform found, and the text its DerivationDescription gets. */
type ComputedResult = OperationResult & { transform?: Record<string, string[]>; derivation?: string };

async function compute(data: JobWorkerData, progress: (p: number) => void): Promise<ComputedResult> {
  const { op, params, referenceGrid, dataDir, maxVoxels } = data;
  const input = fromNifti(readNifti(data.nii));
  const spec = specOf(op, params);
  if (spec.op === 'register') {
    if (!data.fixedNii) throw new VeilgateError('unprocessable', 'the fixed series could not be read');
    const fixed = fromNifti(readNifti(data.fixedNii));
    checkGridSize(fixed.dims, maxVoxels);
    progress(10);
    const registered = await registerVolumes(fixed, input, spec.transform);
    const description = describeOperation(spec);
    // DerivationDescription carries the transform found (ST, 1024 characters at most).
    return { kind: 'image', volume: registered.volume, description, transform: registered.transform, derivation: `${description}, elastix ${describeTransform(registered.transform)}` };
  }
  if (spec.op !== 'model') return runOperation(spec, input, referenceGrid, progress, maxVoxels);
  const config = loadModelConfig(dataDir, spec.model);
  const labels = await runModel(dataDir, spec.model, input, progress);
  return { kind: 'segmentation', labels, segments: modelSegments(spec.model, config.labels), description: `model ${spec.model}` };
}

/** The stored series the result is built from, read. */
function readSource(stored: StoredSource): SourceSeries {
  const metadata = stored.metadata.map((m) => JSON.parse(m) as DicomJson);
  const stack = sliceStack(metadata);
  return {
    seriesNumber: Number(metadata[0]?.['00200011']?.Value?.[0] ?? 0) || 0,
    stack,
    stackMetadata: (stack && metadata.find((m) => m['00080018']?.Value?.[0] === stack.slices[0].sopInstanceUID)) ?? metadata[0],
  };
}

/** The result as DICOM instances in the source's study, built from the typed spec's description alone. */
function publish(data: JobWorkerData, result: ComputedResult): JobWorkerResult {
  const stored = data.source;
  const source = { ...stored, ...readSource(stored) };
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
      // Built from the typed spec and elastix's numbers alone: no client text to clean.
      derivationDescription: `Veilgate processing: ${result.derivation ?? description}`.slice(0, 1024),
    });
    return { kind: 'image', instances: datasets.map(encodeDerived), transform: result.transform };
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
