/** The worker thread of a job: pure computation on a volume, so HTTP never waits on the maths. */
import { parentPort, workerData } from 'node:worker_threads';
import { OperationResult, modelSegments, runOperation } from '../operations';
import { loadModelConfig, runModel } from '../model';

async function main(): Promise<OperationResult> {
  const { op, params, volume, referenceGrid, dataDir } = workerData;
  const input = { ...volume, data: new Float32Array(volume.data) };
  const progress = (p: number) => parentPort!.postMessage({ type: 'progress', progress: p });
  if (op !== 'model') return runOperation(op, params, input, referenceGrid, progress);
  const config = loadModelConfig(dataDir, params.model);
  const labels = await runModel(dataDir, params.model, input, progress);
  return { kind: 'segmentation', labels, segments: modelSegments(params.model, config.labels), description: `model ${params.model}` };
}

main().then(
  (result) => {
    const buffer = result.kind === 'image' ? result.volume.data.buffer : result.labels.data.buffer;
    parentPort!.postMessage({ type: 'result', result }, [buffer as ArrayBuffer]);
  },
  (e: Error) => parentPort!.postMessage({ type: 'error', message: e.message }),
);
