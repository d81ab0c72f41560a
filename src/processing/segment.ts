/**
 * Segmentation on a volume's grid: thresholds (with HU presets), Otsu's threshold, region
 * growing from seeds, connected components (6-connected, labelled in scan order as
 * scipy.ndimage.label does) and binary opening and closing with the 6-neighbour cross
 * (scipy.ndimage's default structure, border value 0).
 */
import { LabelVolume, Volume } from './volume';

export const HU_PRESETS: Record<string, [number, number]> = {
  bone: [300, 3000],
  lung: [-1000, -400],
  'soft-tissue': [-100, 300],
  fat: [-190, -30],
  air: [-1100, -900],
};

export function threshold(v: Volume, low: number, high: number): LabelVolume {
  const data = new Uint8Array(v.data.length);
  for (let i = 0; i < data.length; i++) data[i] = v.data[i] >= low && v.data[i] <= high ? 1 : 0;
  return { dims: v.dims, affine: v.affine, data };
}

/** Otsu's threshold over a 256-bin histogram: the value that maximises between-class variance. */
function otsuThreshold(v: Volume, bins = 256): number {
  let lo = Infinity;
  let hi = -Infinity;
  for (const x of v.data) {
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  if (hi === lo) return lo;
  const width = (hi - lo) / bins;
  const hist = new Float64Array(bins);
  for (const x of v.data) hist[Math.min(bins - 1, Math.floor((x - lo) / width))]++;
  const total = v.data.length;
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

const NEIGHBOURS: [number, number, number][] = [
  [1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1],
];

/** Call `fn` with the index of each of voxel i's 6 neighbours inside the volume. */
function forEachNeighbour(i: number, [nx, ny, nz]: [number, number, number], fn: (j: number) => void): void {
  const x = i % nx;
  const y = Math.floor(i / nx) % ny;
  const z = Math.floor(i / (nx * ny));
  for (const [dx, dy, dz] of NEIGHBOURS) {
    const xx = x + dx;
    const yy = y + dy;
    const zz = z + dz;
    if (xx < 0 || yy < 0 || zz < 0 || xx >= nx || yy >= ny || zz >= nz) continue;
    fn(xx + nx * (yy + ny * zz));
  }
}

/** Voxels 6-connected to the seeds whose value is within `tolerance` of the mean seed value. */
export function regionGrow(v: Volume, seeds: [number, number, number][], tolerance: number): LabelVolume {
  const [nx, ny, nz] = v.dims;
  const data = new Uint8Array(v.data.length);
  const index = (x: number, y: number, z: number) => x + nx * (y + ny * z);
  for (const [x, y, z] of seeds) {
    if (x < 0 || y < 0 || z < 0 || x >= nx || y >= ny || z >= nz) throw new Error(`seed ${x},${y},${z} is outside the volume`);
  }
  const reference = seeds.reduce((s, [x, y, z]) => s + v.data[index(x, y, z)], 0) / seeds.length;
  const queue: number[] = [];
  for (const [x, y, z] of seeds) {
    const i = index(x, y, z);
    if (!data[i]) {
      data[i] = 1;
      queue.push(i);
    }
  }
  while (queue.length) {
    forEachNeighbour(queue.pop()!, v.dims, (j) => {
      if (!data[j] && Math.abs(v.data[j] - reference) <= tolerance) {
        data[j] = 1;
        queue.push(j);
      }
    });
  }
  return { dims: v.dims, affine: v.affine, data };
}

/** 6-connected components of a mask, labelled 1..n in scan order; sizes[label] is its voxel count. */
export function connectedComponents(mask: LabelVolume): { labels: Uint32Array; count: number; sizes: number[] } {
  const labels = new Uint32Array(mask.data.length);
  const sizes = [0];
  let count = 0;
  const stack: number[] = [];
  for (let start = 0; start < mask.data.length; start++) {
    if (!mask.data[start] || labels[start]) continue;
    count++;
    let size = 0;
    labels[start] = count;
    stack.push(start);
    while (stack.length) {
      size++;
      forEachNeighbour(stack.pop()!, mask.dims, (j) => {
        if (mask.data[j] && !labels[j]) {
          labels[j] = count;
          stack.push(j);
        }
      });
    }
    sizes.push(size);
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

function morph(mask: LabelVolume, erode: boolean): LabelVolume {
  const [nx, ny, nz] = mask.dims;
  const data = new Uint8Array(mask.data.length);
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      for (let x = 0; x < nx; x++) {
        const i = x + nx * (y + ny * z);
        let on = mask.data[i] ? 1 : 0;
        for (const [dx, dy, dz] of NEIGHBOURS) {
          const xx = x + dx;
          const yy = y + dy;
          const zz = z + dz;
          // Outside the volume counts as background (border value 0).
          const n = xx < 0 || yy < 0 || zz < 0 || xx >= nx || yy >= ny || zz >= nz ? 0 : mask.data[xx + nx * (yy + ny * zz)] ? 1 : 0;
          on = erode ? on & n : on | n;
        }
        data[i] = on;
      }
    }
  }
  return { dims: mask.dims, affine: mask.affine, data };
}

const erode = (m: LabelVolume): LabelVolume => morph(m, true);
const dilate = (m: LabelVolume): LabelVolume => morph(m, false);
export const open = (m: LabelVolume): LabelVolume => dilate(erode(m));
export const close = (m: LabelVolume): LabelVolume => erode(dilate(m));
