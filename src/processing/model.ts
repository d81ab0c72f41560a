/**
 * A user-supplied ONNX segmentation model (onnxruntime-node, CPU), run by sliding window:
 * overlapping patches of the model's size, intensity preprocessing from the model's
 * config, outputs averaged where patches overlap, then one label per voxel (argmax over the
 * classes, or a threshold for a single channel).
 *
 * A model is a folder <dataDir>/models/<name>/ holding model.onnx and model.json:
 *   { "patchSize": [x, y, z], "input": "name", "output": "name",
 *     "preprocessing": { "clip": [low, high], "scale": s, "offset": o },   value = (clip(v) + offset) * scale
 *     "threshold": 0.5,                                                       single-channel output only
 *     "labels": [ { "value": 1, "structure": "liver" } ] }
 * The input tensor is [1, 1, z, y, x] float32; the output [1, classes, z, y, x].
 */
import fs from 'node:fs';
import path from 'node:path';
import { VeilgateError } from '../errors';
import { LabelVolume, Volume } from './volume';
import { STRUCTURES } from './operations';

export interface ModelConfig {
  patchSize: [number, number, number];
  input: string;
  output: string;
  preprocessing?: { clip?: [number, number]; scale?: number; offset?: number };
  threshold?: number;
  labels: { value: number; structure: string; label?: string }[];
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

function modelFolder(dataDir: string, name: string): string {
  if (!NAME.test(name)) throw new VeilgateError('bad-request', 'model name must be letters, digits, dot, dash or underscore');
  return path.join(dataDir, 'models', name);
}

/** Read and check a model's config; the model file must exist beside it. */
export function loadModelConfig(dataDir: string, name: string): ModelConfig {
  const folder = modelFolder(dataDir, name);
  if (!fs.existsSync(path.join(folder, 'model.onnx')) || !fs.existsSync(path.join(folder, 'model.json'))) {
    throw new VeilgateError('not-found', `no model "${name}": put model.onnx and model.json in models/${name}/ under the data directory`);
  }
  let c: ModelConfig;
  try {
    c = JSON.parse(fs.readFileSync(path.join(folder, 'model.json'), 'utf8')) as ModelConfig;
  } catch {
    throw new VeilgateError('bad-request', `models/${name}/model.json is not JSON`);
  }
  const ok =
    Array.isArray(c.patchSize) && c.patchSize.length === 3 && c.patchSize.every((n) => Number.isInteger(n) && n > 0 && n <= 512) &&
    typeof c.input === 'string' && typeof c.output === 'string' &&
    Array.isArray(c.labels) && c.labels.length > 0 && c.labels.every((l) => Number.isInteger(l.value) && l.value > 0 && l.value < 256 && STRUCTURES[l.structure]);
  if (!ok) throw new VeilgateError('bad-request', `models/${name}/model.json: needs patchSize [x,y,z], input, output and labels [{ value, structure }]`);
  return c;
}

function starts(size: number, patch: number): number[] {
  if (size <= patch) return [0];
  const stride = Math.max(1, Math.floor(patch / 2));
  const out: number[] = [];
  for (let s = 0; s + patch < size; s += stride) out.push(s);
  out.push(size - patch); // the last patch ends at the border
  return out;
}

export async function runModel(dataDir: string, name: string, v: Volume, onProgress: (p: number) => void): Promise<LabelVolume> {
  const config = loadModelConfig(dataDir, name);
  // onnxruntime-node is loaded only when a model runs: its native library is large.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ort = require('onnxruntime-node') as typeof import('onnxruntime-node');
  const session = await ort.InferenceSession.create(path.join(modelFolder(dataDir, name), 'model.onnx'));
  const [nx, ny, nz] = v.dims;
  const [px, py, pz] = config.patchSize.map((p, i) => Math.min(p, v.dims[i]));
  const pre = config.preprocessing ?? {};
  const [lo, hi] = pre.clip ?? [-Infinity, Infinity];
  const scale = pre.scale ?? 1;
  const offset = pre.offset ?? 0;

  let sums: Float32Array | undefined;
  let classes = 0;
  const counts = new Uint16Array(v.data.length);
  const patch = new Float32Array(px * py * pz);
  const positions = starts(nz, pz).flatMap((z) => starts(ny, py).flatMap((y) => starts(nx, px).map((x) => [x, y, z])));
  for (const [index, [x0, y0, z0]] of positions.entries()) {
    let p = 0;
    for (let z = 0; z < pz; z++)
      for (let y = 0; y < py; y++)
        for (let x = 0; x < px; x++) {
          const value = v.data[x0 + x + nx * (y0 + y + ny * (z0 + z))];
          patch[p++] = (Math.min(hi, Math.max(lo, value)) + offset) * scale;
        }
    const output = await session.run({ [config.input]: new ort.Tensor('float32', patch, [1, 1, pz, py, px]) });
    const out = output[config.output];
    if (!out) throw new VeilgateError('unprocessable', `the model has no output "${config.output}"`);
    const data = out.data as Float32Array;
    classes = data.length / patch.length;
    if (!Number.isInteger(classes) || classes < 1) throw new VeilgateError('unprocessable', 'the model output does not match its input patch');
    sums ??= new Float32Array(v.data.length * classes);
    for (let c = 0; c < classes; c++) {
      let q = c * patch.length;
      for (let z = 0; z < pz; z++)
        for (let y = 0; y < py; y++)
          for (let x = 0; x < px; x++) sums[(x0 + x + nx * (y0 + y + ny * (z0 + z))) * classes + c] += data[q++];
    }
    for (let z = 0; z < pz; z++) for (let y = 0; y < py; y++) for (let x = 0; x < px; x++) counts[x0 + x + nx * (y0 + y + ny * (z0 + z))]++;
    onProgress((100 * (index + 1)) / positions.length);
  }
  const labels = new Uint8Array(v.data.length);
  const threshold = config.threshold ?? 0.5;
  for (let i = 0; i < labels.length; i++) {
    if (classes === 1) {
      labels[i] = sums![i] / counts[i] > threshold ? config.labels[0].value : 0;
      continue;
    }
    let best = 0;
    for (let c = 1; c < classes; c++) if (sums![i * classes + c] > sums![i * classes + best]) best = c;
    labels[i] = config.labels.some((l) => l.value === best) ? best : 0;
  }
  return { dims: v.dims, affine: v.affine, data: labels };
}
