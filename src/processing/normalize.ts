/** Intensity normalisation: z-score (optionally over a mask), min–max to [0, 1], clipping to a range. */
import { Volume } from './volume';

export function zscore(v: Volume, mask?: Uint8Array | Uint16Array): Volume {
  let n = 0;
  let sum = 0;
  let sumSq = 0;
  for (let i = 0; i < v.data.length; i++) {
    if (mask && !mask[i]) continue;
    n++;
    sum += v.data[i];
    sumSq += v.data[i] * v.data[i];
  }
  if (n === 0) throw new Error('the mask selects no voxel');
  const mean = sum / n;
  const sd = Math.sqrt(Math.max(0, sumSq / n - mean * mean)) || 1;
  return { ...v, data: mapValues(v.data, (x) => (x - mean) / sd) };
}

/** A new Float32 volume of f(x) for every value (one monomorphic loop). */
function mapValues(src: Float32Array, f: (x: number) => number): Float32Array {
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = f(src[i]);
  return out;
}

export function minMax(v: Volume): Volume {
  let lo = Infinity;
  let hi = -Infinity;
  const src = v.data;
  for (let i = 0; i < src.length; i++) {
    const x = src[i];
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  const range = hi - lo || 1;
  return { ...v, data: mapValues(v.data, (x) => (x - lo) / range) };
}

export function clip(v: Volume, lo: number, hi: number): Volume {
  if (!(lo <= hi)) throw new Error('clip range must have low <= high');
  const src = v.data;
  const data = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const x = src[i];
    data[i] = x < lo ? lo : x > hi ? hi : x;
  }
  return { ...v, data };
}
