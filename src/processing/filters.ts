/**
 * Noise reduction: Gaussian smoothing (sigma in mm, separable, kernel cut at 4 sigma) and
 * median filtering (a cube of radius r voxels). Borders are mirrored, as scipy.ndimage's
 * default 'reflect' mode does (d c b a | a b c d | d c b a).
 *
 * The Gaussian is three 1-D passes into one Float32 output: along x row by row (each row
 * copied once into a padded line), then along y and along z as weighted sums of whole
 * contiguous rows, so every inner loop runs over consecutive memory. Sums are in double
 * precision and each pass is stored as float32, as scipy.ndimage.correlate1d does; the kernel
 * is symmetric, so mirrored taps are added before they are weighted.
 *
 * The 3×3×3 median runs a selection network over four voxels at a time in WebAssembly SIMD
 * (kernels/median27.ts); other radii select from the window without sorting it.
 */
import { Volume, spacing, voxelCount } from './volume';
import { median27Slab } from './kernels/median27';
import { reflect } from './kernels/border';
import { convolveXSimd, convolveYSimd, convolveZSimd } from './kernels/convolve';

export { reflect };

/** scipy.ndimage's Gaussian weights: radius int(4 sigma + 0.5), normalised to sum 1. */
export function gaussianKernel(sigma: number): Float64Array {
  const radius = Math.floor(4 * sigma + 0.5);
  const k = new Float64Array(2 * radius + 1);
  let sum = 0;
  for (let i = -radius; i <= radius; i++) {
    k[i + radius] = Math.exp((-0.5 * i * i) / (sigma * sigma));
    sum += k[i + radius];
  }
  for (let i = 0; i < k.length; i++) k[i] /= sum;
  return k;
}

/** The half kernel: h[0] the centre weight, h[t] the weight of both taps at distance t. */
const half = (k: Float64Array): Float64Array => k.slice((k.length - 1) / 2);

/** Rows [r0, r1) of a volume (row r = y + ny * z), convolved along x from `src` into `dst`. */
export function convolveX(src: Float32Array, dst: Float32Array, nx: number, h: Float64Array, r0: number, r1: number): void {
  const radius = h.length - 1;
  const line = new Float64Array(nx + 2 * radius);
  const pad = new Int32Array(2 * radius);
  for (let t = 0; t < radius; t++) {
    pad[t] = reflect(t - radius, nx);
    pad[radius + t] = reflect(nx + t, nx);
  }
  const h0 = h[0];
  for (let r = r0; r < r1; r++) {
    const base = r * nx;
    for (let t = 0; t < radius; t++) {
      line[t] = src[base + pad[t]];
      line[radius + nx + t] = src[base + pad[radius + t]];
    }
    for (let i = 0; i < nx; i++) line[radius + i] = src[base + i];
    for (let i = 0; i < nx; i++) {
      const c = radius + i;
      let s = h0 * line[c];
      for (let t = 1; t <= radius; t++) s += h[t] * (line[c - t] + line[c + t]);
      dst[base + i] = s;
    }
  }
}

/**
 * Convolve along an axis whose lines are made of whole rows: `count` rows of `width` values,
 * row i at data[offset + i * stride]; rows [i0, i1) are written. `rows` is a copy of the
 * `count` input rows back to back (so the pass can run in place).
 */
function convolveRows(rows: Float32Array, out: Float32Array, width: number, count: number, offset: number, stride: number, h: Float64Array, acc: Float64Array): void {
  const radius = h.length - 1;
  const h0 = h[0];
  for (let i = 0; i < count; i++) {
    const c = i * width;
    for (let x = 0; x < width; x++) acc[x] = h0 * rows[c + x];
    for (let t = 1; t <= radius; t++) {
      const a = reflect(i - t, count) * width;
      const b = reflect(i + t, count) * width;
      const w = h[t];
      for (let x = 0; x < width; x++) acc[x] += w * (rows[a + x] + rows[b + x]);
    }
    const o = offset + i * stride;
    for (let x = 0; x < width; x++) out[o + x] = acc[x];
  }
}

/** Planes [z0, z1) convolved along y, in place. */
export function convolveY(data: Float32Array, nx: number, ny: number, h: Float64Array, z0: number, z1: number): void {
  const plane = new Float32Array(nx * ny);
  const acc = new Float64Array(nx);
  for (let z = z0; z < z1; z++) {
    const base = z * nx * ny;
    plane.set(data.subarray(base, base + nx * ny));
    convolveRows(plane, data, nx, ny, base, nx, h, acc);
  }
}

/** Rows y in [y0, y1) of every plane convolved along z, in place: the rows (x, y, 0..nz) are copied together. */
export function convolveZ(data: Float32Array, nx: number, ny: number, nz: number, h: Float64Array, y0: number, y1: number): void {
  const rows = new Float32Array(nx * nz);
  const acc = new Float64Array(nx);
  const stride = nx * ny;
  for (let y = y0; y < y1; y++) {
    for (let z = 0; z < nz; z++) rows.set(data.subarray(y * nx + z * stride, y * nx + z * stride + nx), z * nx);
    convolveRows(rows, data, nx, nz, y * nx, stride, h, acc);
  }
}

/** The per-axis half kernels of a Gaussian of sigma mm on a volume's voxels (undefined: the axis is skipped). */
export function gaussianPlan(v: { dims: [number, number, number]; affine: number[][] }, sigmaMm: number): (Float64Array | undefined)[] {
  if (!(sigmaMm > 0)) throw new Error('sigma must be positive');
  const sp = spacing(v.affine);
  return [0, 1, 2].map((axis) => {
    const sigma = sigmaMm / sp[axis];
    return sigma < 1e-3 || v.dims[axis] === 1 ? undefined : half(gaussianKernel(sigma));
  });
}

export function gaussian(v: Volume, sigmaMm: number): Volume {
  const [hx, hy, hz] = gaussianPlan(v, sigmaMm);
  const [, ny, nz] = v.dims;
  const out = new Float32Array(v.data.length);
  gaussianSlab(v.data, out, v.dims, [hx, hy, hz], 'x', 0, ny * nz);
  if (!hx) out.set(v.data);
  gaussianSlab(out, out, v.dims, [hx, hy, hz], 'y', 0, nz);
  gaussianSlab(out, out, v.dims, [hx, hy, hz], 'z', 0, ny);
  return { dims: v.dims, affine: v.affine, data: out };
}

/**
 * One pass of the Gaussian over a range, so a caller can split the work: 'x' over rows
 * [a, b) (row = y + ny·z) from `src` into `out`; 'y' over planes [a, b) and 'z' over rows y in
 * [a, b), in place in `out`. WebAssembly SIMD where there is one; the same sums in
 * JavaScript otherwise.
 */
export function gaussianSlab(src: Float32Array, out: Float32Array, dims: [number, number, number], plan: (Float64Array | undefined)[], pass: 'x' | 'y' | 'z', a: number, b: number): void {
  const [nx, ny, nz] = dims;
  const [hx, hy, hz] = plan;
  if (pass === 'x' && hx) convolveXSimd(src, out, nx, hx, a, b) || convolveX(src, out, nx, hx, a, b);
  if (pass === 'y' && hy) convolveYSimd(out, nx, ny, hy, a, b) || convolveY(out, nx, ny, hy, a, b);
  if (pass === 'z' && hz) convolveZSimd(out, nx, ny, nz, hz, a, b) || convolveZ(out, nx, ny, nz, hz, a, b);
}

/** The k-th smallest value of a[0, n) (Hoare's quickselect, in place): a median without a full sort. */
function select(a: Float32Array, n: number, k: number): number {
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const pivot = a[(lo + hi) >> 1];
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        const t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return a[k];
  }
  return a[k];
}

/** Median over a cube of any radius, planes [z0, z1), by selection from the gathered window. */
export function medianSelect(src: Float32Array, out: Float32Array, dims: [number, number, number], radius: number, z0: number, z1: number): void {
  const [nx, ny, nz] = dims;
  const size = 2 * radius + 1;
  const window = new Float32Array(size ** 3);
  const mid = (window.length - 1) / 2;
  const xs = new Int32Array(nx * size);
  for (let x = 0; x < nx; x++) for (let d = 0; d < size; d++) xs[x * size + d] = reflect(x + d - radius, nx);
  const ys = new Int32Array(size);
  const zs = new Int32Array(size);
  for (let z = z0; z < z1; z++) {
    for (let d = 0; d < size; d++) zs[d] = reflect(z + d - radius, nz) * nx * ny;
    for (let y = 0; y < ny; y++) {
      for (let d = 0; d < size; d++) ys[d] = reflect(y + d - radius, ny) * nx;
      let p = (z * ny + y) * nx;
      for (let x = 0; x < nx; x++, p++) {
        let w = 0;
        const xb = x * size;
        for (let a = 0; a < size; a++) {
          for (let b = 0; b < size; b++) {
            const row = zs[a] + ys[b];
            for (let c = 0; c < size; c++) window[w++] = src[row + xs[xb + c]];
          }
        }
        out[p] = select(window, w, mid);
      }
    }
  }
}

/** The median kernel: planes [z0, z1) of `out` from `src`. */
export function medianSlab(src: Float32Array, out: Float32Array, dims: [number, number, number], radius: number, z0 = 0, z1 = dims[2]): void {
  if (radius === 1) median27Slab(src, out, dims, z0, z1);
  else medianSelect(src, out, dims, radius, z0, z1);
}

export function median(v: Volume, radius: number): Volume {
  if (!Number.isInteger(radius) || radius < 1) throw new Error('radius must be a positive integer');
  const out = new Float32Array(voxelCount(v.dims));
  medianSlab(v.data, out, v.dims, radius);
  return { dims: v.dims, affine: v.affine, data: out };
}
