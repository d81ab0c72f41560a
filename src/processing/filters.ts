/**
 * Noise reduction: Gaussian smoothing (sigma in mm, separable, kernel cut at 4 sigma) and
 * median filtering (a cube of radius r voxels). Borders are mirrored, as scipy.ndimage's
 * default 'reflect' mode does (d c b a | a b c d | d c b a).
 */
import { Volume, spacing, voxelCount } from './volume';

/** Index into [0, n) by half-sample symmetric reflection. */
function reflect(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * n;
  let m = i % period;
  if (m < 0) m += period;
  return m < n ? m : period - 1 - m;
}

function gaussianKernel(sigma: number): Float64Array {
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

/** Convolve along one axis (0, 1, 2) with a symmetric kernel. */
function convolveAxis(data: Float32Array, dims: [number, number, number], axis: number, kernel: Float64Array): Float32Array {
  const [nx, ny] = dims;
  const strides = [1, nx, nx * ny];
  const n = dims[axis];
  const stride = strides[axis];
  const radius = (kernel.length - 1) / 2;
  const out = new Float32Array(data.length);
  const line = new Float64Array(n);
  const others = [0, 1, 2].filter((a) => a !== axis);
  for (let b = 0; b < dims[others[1]]; b++) {
    for (let a = 0; a < dims[others[0]]; a++) {
      const base = a * strides[others[0]] + b * strides[others[1]];
      for (let i = 0; i < n; i++) line[i] = data[base + i * stride];
      for (let i = 0; i < n; i++) {
        let s = 0;
        for (let t = -radius; t <= radius; t++) s += kernel[t + radius] * line[reflect(i + t, n)];
        out[base + i * stride] = s;
      }
    }
  }
  return out;
}

export function gaussian(v: Volume, sigmaMm: number): Volume {
  if (!(sigmaMm > 0)) throw new Error('sigma must be positive');
  const sp = spacing(v.affine);
  let data = v.data;
  for (let axis = 0; axis < 3; axis++) {
    const sigma = sigmaMm / sp[axis];
    if (sigma < 1e-3 || v.dims[axis] === 1) continue;
    data = convolveAxis(data, v.dims, axis, gaussianKernel(sigma));
  }
  return { dims: v.dims, affine: v.affine, data: data === v.data ? new Float32Array(v.data) : data };
}

/** The k-th smallest value (Hoare's quickselect, in place): a median without a full sort. */
function select(a: Float32Array, k: number): number {
  let lo = 0;
  let hi = a.length - 1;
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

export function median(v: Volume, radius: number): Volume {
  if (!Number.isInteger(radius) || radius < 1) throw new Error('radius must be a positive integer');
  const [nx, ny, nz] = v.dims;
  const out = new Float32Array(voxelCount(v.dims));
  const window = new Float32Array((2 * radius + 1) ** 3);
  const mid = (window.length - 1) / 2;
  let p = 0;
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      for (let x = 0; x < nx; x++) {
        let w = 0;
        for (let dz = -radius; dz <= radius; dz++) {
          const zz = reflect(z + dz, nz) * nx * ny;
          for (let dy = -radius; dy <= radius; dy++) {
            const yy = zz + reflect(y + dy, ny) * nx;
            for (let dx = -radius; dx <= radius; dx++) window[w++] = v.data[yy + reflect(x + dx, nx)];
          }
        }
        out[p++] = select(window, mid);
      }
    }
  }
  return { dims: v.dims, affine: v.affine, data: out };
}
