/** The worker thread of a job: pure computation on a volume, so HTTP never waits on the maths. */
import { parentPort, workerData } from 'node:worker_threads';
import { runOperation } from '../operations';

const { op, params, volume, referenceGrid } = workerData;
const result = runOperation(op, params, { ...volume, data: new Float32Array(volume.data) }, referenceGrid, (progress) =>
  parentPort!.postMessage({ type: 'progress', progress }),
);
const buffer = result.kind === 'image' ? result.volume.data.buffer : result.labels.data.buffer;
parentPort!.postMessage({ type: 'result', result }, [buffer as ArrayBuffer]);
