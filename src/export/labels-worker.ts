/**
 * The export's own worker thread for one SEG → label map (labels.ts): placing every frame's
 * bits and gzipping the map never run on the thread that routes HTTP.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { LabelMapInput, segmentationLabelMap } from './labels';

try {
  const out = segmentationLabelMap(workerData as LabelMapInput);
  parentPort!.postMessage({ ok: true, out });
} catch (e) {
  parentPort!.postMessage({ ok: false, message: (e as Error).message });
}
