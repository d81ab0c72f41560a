/**
 * Segmentation on a volume's grid: thresholds (with HU presets), Otsu's threshold, region
 * growing from seeds, connected components (6-connected, labelled in scan order as
 * scipy.ndimage.label does) and binary opening and closing with the 6-neighbour cross
 * (scipy.ndimage's default structure, border value 0).
 */
import { LabelVolume, Volume } from './volume';
import { histogramSimd, rangeSimd, thresholdSimd } from './kernels/scan';

export const HU_PRESETS: Record<string, [number, number]> = {
  bone: [300, 3000],
  lung: [-1000, -400],
  'soft-tissue': [-100, 300],
  fat: [-190, -30],
  air: [-1100, -900],
};

export function threshold(v: Volume, low: number, high: number): LabelVolume {
  const src = v.data;
  const data = new Uint8Array(src.length);
  if (thresholdSimd(src, data, low, high)) return { dims: v.dims, affine: v.affine, data };
  for (let i = 0; i < data.length; i++) {
    const x = src[i];
    data[i] = x >= low && x <= high ? 1 : 0;
  }
  return { dims: v.dims, affine: v.affine, data };
}

/** Otsu's threshold over a 256-bin histogram (one pass for the range, one for the counts): the value that maximises between-class variance. */
function otsuThreshold(v: Volume, bins = 256): number {
  const src = v.data;
  let [lo, hi] = rangeSimd(src) ?? [Infinity, -Infinity];
  if (lo === Infinity) {
    for (let i = 0; i < src.length; i++) {
      const x = src[i];
      if (x < lo) lo = x;
      if (x > hi) hi = x;
    }
  }
  if (hi === lo) return lo;
  const width = (hi - lo) / bins;
  const scaleToBin = 1 / width;
  let counts = bins === 256 ? histogramSimd(src, lo, scaleToBin) : undefined;
  if (!counts) {
    counts = new Uint32Array(bins);
    for (let i = 0; i < src.length; i++) {
      const b = ((src[i] - lo) * scaleToBin) | 0; // x >= lo: truncation is the floor
      counts[b < bins - 1 ? b : bins - 1]++;
    }
  }
  const hist = Float64Array.from(counts);
  const total = src.length;
  let sumAll = 0;
  for (let i = 0; i < bins; i++) sumAll += i * hist[i];
  let weightBelow = 0;
  let sumBelow = 0;
  let best = 0;
  let bestVariance = -1;
  for (let t = 0; t < bins - 1; t++) {
    weightBelow += hist[t];
    sumBelow += t * hist[t];
    const weightAbove = total - weightBelow;
    if (weightBelow === 0 || weightAbove === 0) continue;
    const meanBelow = sumBelow / weightBelow;
    const meanAbove = (sumAll - sumBelow) / weightAbove;
    const variance = weightBelow * weightAbove * (meanBelow - meanAbove) ** 2;
    if (variance > bestVariance) {
      bestVariance = variance;
      best = t;
    }
  }
  // The threshold is the upper edge of the last bin below it.
  return lo + (best + 1) * width;
}

export function otsu(v: Volume): { mask: LabelVolume; threshold: number } {
  const t = otsuThreshold(v);
  return { mask: threshold(v, t, Infinity), threshold: t };
}

/** A stack of voxel indices that grows as needed (a flood fill never allocates per voxel). */
class IndexStack {
  private items = new Int32Array(1 << 16);
  length = 0;
  push(i: number): void {
    if (this.length === this.items.length) {
      const bigger = new Int32Array(this.items.length * 2);
      bigger.set(this.items);
      this.items = bigger;
    }
    this.items[this.length++] = i;
  }
  pop(): number {
    return this.items[--this.length];
  }
}

/**
 * Flood fill from the voxels already on `stack` (each already marked): every 6-neighbour j of
 * a popped voxel with accept(j) true is marked and pushed. Returns how many voxels were popped.
 */
function flood(dims: [number, number, number], stack: IndexStack, accept: (j: number) => boolean): number {
  const [nx, ny, nz] = dims;
  const nxy = nx * ny;
  let popped = 0;
  while (stack.length) {
    const i = stack.pop();
    popped++;
    const x = i % nx;
    const r = (i - x) / nx;
    const y = r % ny;
    const z = (r - y) / ny;
    if (x + 1 < nx) accept(i + 1) && stack.push(i + 1);
    if (x > 0) accept(i - 1) && stack.push(i - 1);
    if (y + 1 < ny) accept(i + nx) && stack.push(i + nx);
    if (y > 0) accept(i - nx) && stack.push(i - nx);
    if (z + 1 < nz) accept(i + nxy) && stack.push(i + nxy);
    if (z > 0) accept(i - nxy) && stack.push(i - nxy);
  }
  return popped;
}

/** Voxels 6-connected to the seeds whose value is within `tolerance` of the mean seed value. */
export function regionGrow(v: Volume, seeds: [number, number, number][], tolerance: number): LabelVolume {
  const [nx, ny, nz] = v.dims;
  const data = new Uint8Array(v.data.length);
  const values = v.data;
  const index = (x: number, y: number, z: number) => x + nx * (y + ny * z);
  for (const [x, y, z] of seeds) {
    if (x < 0 || y < 0 || z < 0 || x >= nx || y >= ny || z >= nz) throw new Error(`seed ${x},${y},${z} is outside the volume`);
  }
  const reference = seeds.reduce((s, [x, y, z]) => s + values[index(x, y, z)], 0) / seeds.length;
  const stack = new IndexStack();
  for (const [x, y, z] of seeds) {
    const i = index(x, y, z);
    if (!data[i]) {
      data[i] = 1;
      stack.push(i);
    }
  }
  flood(v.dims, stack, (j) => {
    if (data[j] || !(Math.abs(values[j] - reference) <= tolerance)) return false;
    data[j] = 1;
    return true;
  });
  return { dims: v.dims, affine: v.affine, data };
}

/** 6-connected components of a mask, labelled 1..n in scan order (as scipy.ndimage.label); sizes[label] is its voxel count. */
export function connectedComponents(mask: LabelVolume): { labels: Uint32Array; count: number; sizes: number[] } {
  const m = mask.data;
  const labels = new Uint32Array(m.length);
  const sizes = [0];
  let count = 0;
  const stack = new IndexStack();
  const accept = (j: number): boolean => {
    if (!m[j] || labels[j]) return false;
    labels[j] = count;
    return true;
  };
  for (let start = 0; start < m.length; start++) {
    if (!m[start] || labels[start]) continue;
    count++;
    labels[start] = count;
    stack.push(start);
    sizes.push(flood(mask.dims, stack, accept));
  }
  return { labels, count, sizes };
}

/** The largest connected component of a mask (the first one found, on a tie). */
export function largestComponent(mask: LabelVolume): LabelVolume {
  const { labels, count, sizes } = connectedComponents(mask);
  const data = new Uint8Array(mask.data.length);
  if (count === 0) return { ...mask, data };
  let best = 1;
  for (let l = 2; l <= count; l++) if (sizes[l] > sizes[best]) best = l;
  for (let i = 0; i < data.length; i++) data[i] = labels[i] === best ? 1 : 0;
  return { dims: mask.dims, affine: mask.affine, data };
}

/**
 * Erosion or dilation with the 6-neighbour cross; outside the volume counts as background
 * (scipy's border value 0). Row by row: the x neighbours are the row's own, the others the
 * rows beside it.
 */
function morph(mask: LabelVolume, erode: boolean): LabelVolume {
  const [nx, ny, nz] = mask.dims;
  const m = mask.data;
  const data = new Uint8Array(m.length);
  const nxy = nx * ny;
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      const row = nx * (y + ny * z);
      const up = y + 1 < ny ? row + nx : -1;
      const down = y > 0 ? row - nx : -1;
      const next = z + 1 < nz ? row + nxy : -1;
      const prev = z > 0 ? row - nxy : -1;
      for (let x = 0; x < nx; x++) {
        const i = row + x;
        const c = m[i] ? 1 : 0;
        const l = x > 0 && m[i - 1] ? 1 : 0;
        const r = x + 1 < nx && m[i + 1] ? 1 : 0;
        const u = up >= 0 && m[up + x] ? 1 : 0;
        const d = down >= 0 && m[down + x] ? 1 : 0;
        const n = next >= 0 && m[next + x] ? 1 : 0;
        const p = prev >= 0 && m[prev + x] ? 1 : 0;
        data[i] = erode ? c & l & r & u & d & n & p : c | l | r | u | d | n | p;
      }
    }
  }
  return { dims: mask.dims, affine: mask.affine, data };
}

const erode = (m: LabelVolume): LabelVolume => morph(m, true);
const dilate = (m: LabelVolume): LabelVolume => morph(m, false);
export const open = (m: LabelVolume): LabelVolume => dilate(erode(m));
export const close = (m: LabelVolume): LabelVolume => erode(dilate(m));
