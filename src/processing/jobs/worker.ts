/** The worker thread of a job: pure computation on a volume, so HTTP never waits on the maths. */
import { parentPort, workerData } from 'node:worker_threads';
import { OperationResult, modelSegments, runOperation, specOf } from '../operations';
import { loadModelConfig, runModel } from '../model';

async function main(): Promise<OperationResult> {
  const { op, params, volume, referenceGrid, dataDir, maxVoxels } = workerData;
  const input = { ...volume, data: new Float32Array(volume.data) };
  const progress = (p: number) => parentPort!.postMessage({ type: 'progress', progress: p });
  const spec = specOf(op, params);
  if (spec.op !== 'model') return runOperation(spec, input, referenceGrid, progress, maxVoxels);
  const config = loadModelConfig(dataDir, spec.model);
  const labels = await runModel(dataDir, spec.model, input, progress);
  return { kind: 'segmentation', labels, segments: modelSegments(spec.model, config.labels), description: `model ${spec.model}` };
}

main().then(
  (result) => {
    const buffer = result.kind === 'image' ? result.volume.data.buffer : result.labels.data.buffer;
    parentPort!.postMessage({ type: 'result', result }, [buffer as ArrayBuffer]);
  },
  (e: Error) => parentPort!.postMessage({ type: 'error', message: e.message }),
);
