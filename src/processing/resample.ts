/**
 * Resampling onto another grid (nearest neighbour or trilinear): every target voxel is placed
 * in the world by its affine and read from the source there.
 *
 * Edges follow ITK (and so SimpleITK's ResampleImageFilter). A voxel is a box centred on its
 * integer index, so an image of n voxels along an axis spans the continuous indices
 * [-0.5, n - 0.5): its extent is size × spacing. ITK's ImageFunction::IsInsideBuffer takes a
 * continuous index as inside when StartIndex - 0.5 <= index < EndIndex + 0.5, and
 * LinearInterpolateImageFunction clamps the neighbours it reads to the buffer, so a sample
 * within half a voxel of the edge takes the edge voxel's value. A sample outside gets the
 * filter's DefaultPixelValue; here that is `fill`, by default the source's minimum (air for a
 * CT; ITK's default of 0 would be water). Nearest neighbour rounds half up
 * (ConvertContinuousIndexToNearestIndex), with the same inside test.
 *
 * Inside the volume the values are scipy.ndimage.map_coordinates' (order 1 or 0): voxel
 * centres at integer indices.
 *
 * The work never allocates per voxel. When the target grid's axes run along the source's
 * (no rotation: the usual change of spacing or size), the trilinear sample is computed
 * separably: each needed source slice is interpolated in-plane once (x, then y) and output
 * slices are blends of two such planes. Other grids step through the index map
 * incrementally along each row. Both take a range of output slices, so a caller can split
 * the work.
 */
import { Affine, column, invert, multiply, scale } from '../convert/geometry';
import { LabelVolume, Volume, spacing, voxelCount } from './volume';

export type Interpolation = 'nearest' | 'linear';

export interface Grid {
  dims: [number, number, number];
  affine: Affine;
}

/** The grid of a volume at another voxel size: same origin and directions, same extent. */
export function gridAtSpacing(grid: Grid, target: [number, number, number]): Grid {
  const current = spacing(grid.affine);
  const dims = grid.dims.map((d, i) => Math.max(1, Math.round((d * current[i]) / target[i]))) as [number, number, number];
  const affine = grid.affine.map((r) => [...r]);
  for (let c = 0; c < 3; c++) {
    const dir = scale(column(grid.affine, c), target[c] / current[c]);
    for (let r = 0; r < 3; r++) affine[r][c] = dir[r];
  }
  return { dims, affine };
}

/** The grid of a volume with another number of voxels along each axis, covering the same extent. */
export function gridOfSize(grid: Grid, dims: [number, number, number]): Grid {
  const current = spacing(grid.affine);
  return gridAtSpacing(grid, current.map((s, i) => (s * grid.dims[i]) / dims[i]) as [number, number, number]);
}

/** Source voxel coordinates of every target voxel, as one affine: target index → source index. */
export function indexMap(source: Grid, target: Grid): Affine {
  return multiply(invert(source.affine), target.affine);
}

type Samples = Float32Array | Uint8Array | Uint16Array | Uint32Array;
type Source = { dims: [number, number, number]; data: Samples };

/**
 * Whether the index map moves each axis along itself only (a diagonal linear part): then the
 * off-diagonal terms, over the whole target grid, move no sample by more than 1e-6 voxel.
 */
function separable(m: Affine, dims: [number, number, number]): boolean {
  for (let r = 0; r < 3; r++) {
    let off = 0;
    for (let c = 0; c < 3; c++) if (c !== r) off += Math.abs(m[r][c]) * dims[c];
    if (off > 1e-6) return false;
  }
  return true;
}

/** Per-axis linear weights: sample i reads lo[i] and hi[i] blended by w[i]; inside[i] = 0 outside. */
interface AxisWeights {
  lo: Int32Array;
  hi: Int32Array;
  w: Float64Array;
  inside: Uint8Array;
}

function axisWeights(count: number, n: number, step: number, offset: number): AxisWeights {
  const lo = new Int32Array(count);
  const hi = new Int32Array(count);
  const w = new Float64Array(count);
  const inside = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const c = step * i + offset;
    if (!(c >= -0.5 && c < n - 0.5)) continue; // (written so that NaN is outside, as ITK does)
    inside[i] = 1;
    const cc = c < 0 ? 0 : c > n - 1 ? n - 1 : c;
    const f = Math.floor(cc);
    lo[i] = f;
    hi[i] = f + 1 < n ? f + 1 : f;
    w[i] = cc - f;
  }
  return { lo, hi, w, inside };
}

/** Per-axis nearest index (rounded half up), or -1 outside. */
function axisNearest(count: number, n: number, step: number, offset: number): Int32Array {
  const idx = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const c = step * i + offset;
    idx[i] = c >= -0.5 && c < n - 0.5 ? Math.min(n - 1, Math.max(0, Math.floor(c + 0.5))) : -1;
  }
  return idx;
}

/**
 * Trilinear resampling of output slices [z0, z1) when the grids' axes coincide. Each source
 * slice that is needed is interpolated in-plane once (into a plane of the target's x, y); two
 * planes are kept, and each output slice blends them along z. Values are blended as
 * v0 + (v1 - v0) * w in double precision, x then y then z, as ITK does.
 */
function linearSeparable(src: Source, out: Samples, target: [number, number, number], m: Affine, fill: number, z0: number, z1: number): void {
  const [nx, ny, nz] = src.dims;
  const [tx, ty] = target;
  const d = src.data;
  const X = axisWeights(tx, nx, m[0][0], m[0][3]);
  const Y = axisWeights(ty, ny, m[1][1], m[1][3]);
  const Z = axisWeights(target[2], nz, m[2][2], m[2][3]);
  const rows = new Float64Array(tx * ny); // one source slice interpolated along x
  const planes = [new Float64Array(tx * ty), new Float64Array(tx * ty)];
  const planeOf = [-1, -1];
  /** Source slice k in-plane; the plane of slice `keep` (the other one needed) stays cached. */
  const plane = (k: number, keep: number): Float64Array => {
    if (planeOf[0] === k) return planes[0];
    if (planeOf[1] === k) return planes[1];
    const slot = planeOf[0] === keep ? 1 : 0;
    const p = planes[slot];
    planeOf[slot] = k;
    const base = k * nx * ny;
    for (let y = 0; y < ny; y++) {
      const row = base + y * nx;
      const o = y * tx;
      for (let x = 0; x < tx; x++) {
        const a = d[row + X.lo[x]];
        rows[o + x] = a + (d[row + X.hi[x]] - a) * X.w[x];
      }
    }
    for (let y = 0; y < ty; y++) {
      const o = y * tx;
      if (!Y.inside[y]) {
        p.fill(fill, o, o + tx);
        continue;
      }
      const r0 = Y.lo[y] * tx;
      const r1 = Y.hi[y] * tx;
      const w = Y.w[y];
      for (let x = 0; x < tx; x++) {
        const a = rows[r0 + x];
        p[o + x] = X.inside[x] ? a + (rows[r1 + x] - a) * w : fill;
      }
    }
    return p;
  };
  const slice = tx * ty;
  for (let z = z0; z < z1; z++) {
    const o = z * slice;
    if (!Z.inside[z]) {
      out.fill(fill, o, o + slice);
      continue;
    }
    const w = Z.w[z];
    const p0 = plane(Z.lo[z], Z.hi[z]);
    if (w === 0 || Z.hi[z] === Z.lo[z]) {
      for (let i = 0; i < slice; i++) out[o + i] = p0[i];
      continue;
    }
    const p1 = plane(Z.hi[z], Z.lo[z]);
    for (let i = 0; i < slice; i++) {
      const a = p0[i];
      out[o + i] = a + (p1[i] - a) * w;
    }
  }
}

function nearestSeparable(src: Source, out: Samples, target: [number, number, number], m: Affine, fill: number, z0: number, z1: number): void {
  const [nx, ny, nz] = src.dims;
  const [tx, ty] = target;
  const d = src.data;
  const X = axisNearest(tx, nx, m[0][0], m[0][3]);
  const Y = axisNearest(ty, ny, m[1][1], m[1][3]);
  const Z = axisNearest(target[2], nz, m[2][2], m[2][3]);
  // Rows read whole, as they are (the usual case when only the slices or rows are reordered).
  const sameRows = tx === nx && X.every((ix, x) => ix === x);
  let p = z0 * tx * ty;
  for (let z = z0; z < z1; z++) {
    const kz = Z[z];
    for (let y = 0; y < ty; y++) {
      const jy = Y[y];
      if (kz < 0 || jy < 0) {
        out.fill(fill, p, p + tx);
        p += tx;
        continue;
      }
      const row = (kz * ny + jy) * nx;
      if (sameRows) {
        out.set(d.subarray(row, row + nx), p);
        p += tx;
        continue;
      }
      for (let x = 0; x < tx; x++, p++) {
        const ix = X[x];
        out[p] = ix < 0 ? fill : d[row + ix];
      }
    }
  }
}

/** Any grid: the source position steps by the index map's first column along each output row. */
function general(src: Source, out: Samples, target: [number, number, number], m: Affine, method: Interpolation, fill: number, z0: number, z1: number): void {
  const [nx, ny, nz] = src.dims;
  const [tx, ty] = target;
  const d = src.data;
  const nxy = nx * ny;
  const [dx0, dx1, dx2] = [m[0][0], m[1][0], m[2][0]];
  const hx = nx - 0.5;
  const hy = ny - 0.5;
  const hz = nz - 0.5;
  let p = z0 * tx * ty;
  for (let z = z0; z < z1; z++) {
    for (let y = 0; y < ty; y++) {
      const bx = m[0][1] * y + m[0][2] * z + m[0][3];
      const by = m[1][1] * y + m[1][2] * z + m[1][3];
      const bz = m[2][1] * y + m[2][2] * z + m[2][3];
      for (let x = 0; x < tx; x++, p++) {
        // From the row's start each time (not accumulated), so rounding does not drift.
        const cx = bx + dx0 * x;
        const cy = by + dx1 * x;
        const cz = bz + dx2 * x;
        if (!(cx >= -0.5 && cx < hx && cy >= -0.5 && cy < hy && cz >= -0.5 && cz < hz)) {
          out[p] = fill;
          continue;
        }
        if (method === 'nearest') {
          out[p] = d[Math.min(nx - 1, Math.floor(cx + 0.5)) + nx * Math.min(ny - 1, Math.floor(cy + 0.5)) + nxy * Math.min(nz - 1, Math.floor(cz + 0.5))];
          continue;
        }
        const xx = cx < 0 ? 0 : cx > nx - 1 ? nx - 1 : cx;
        const yy = cy < 0 ? 0 : cy > ny - 1 ? ny - 1 : cy;
        const zz = cz < 0 ? 0 : cz > nz - 1 ? nz - 1 : cz;
        const i0 = Math.floor(xx);
        const j0 = Math.floor(yy);
        const k0 = Math.floor(zz);
        const fx = xx - i0;
        const fy = yy - j0;
        const fz = zz - k0;
        const di = i0 + 1 < nx ? 1 : 0;
        const dj = j0 + 1 < ny ? nx : 0;
        const dk = k0 + 1 < nz ? nxy : 0;
        const q = i0 + nx * j0 + nxy * k0;
        const a00 = d[q] + (d[q + di] - d[q]) * fx;
        const a10 = d[q + dj] + (d[q + dj + di] - d[q + dj]) * fx;
        const a01 = d[q + dk] + (d[q + dk + di] - d[q + dk]) * fx;
        const a11 = d[q + dk + dj] + (d[q + dk + dj + di] - d[q + dk + dj]) * fx;
        const b0 = a00 + (a10 - a00) * fy;
        const b1 = a01 + (a11 - a01) * fy;
        out[p] = b0 + (b1 - b0) * fz;
      }
    }
  }
}

/**
 * The kernel: output slices [z0, z1) of `target` into `out` (which holds the whole target
 * volume). Pure: reads `source`, writes only those slices of `out`.
 */
export function resampleSlab(source: Source & { affine: Affine }, target: Grid, out: Samples, method: Interpolation, fill: number, z0 = 0, z1 = target.dims[2]): void {
  const m = indexMap(source, target);
  if (separable(m, target.dims)) {
    if (method === 'linear') linearSeparable(source, out, target.dims, m, fill, z0, z1);
    else nearestSeparable(source, out, target.dims, m, fill, z0, z1);
  } else {
    general(source, out, target.dims, m, method, fill, z0, z1);
  }
}

/** The smallest value of a volume (0 for an empty one). */
export function minimum(data: ArrayLike<number>): number {
  let lo = Infinity;
  for (let i = 0; i < data.length; i++) if (data[i] < lo) lo = data[i];
  return lo === Infinity ? 0 : lo;
}

/** A volume resampled onto `target`; outside the source is `fill` (by default the source's minimum). */
export function resample(source: Volume, target: Grid, method: Interpolation = 'linear', fill?: number): Volume {
  const out = new Float32Array(voxelCount(target.dims));
  resampleSlab(source, target, out, method, fill ?? minimum(source.data));
  return { dims: target.dims, affine: target.affine.map((r) => [...r]), data: out };
}

/** Labels can only be resampled by nearest neighbour: a label has no in-between. Outside is 0 (background). */
export function resampleLabels(source: LabelVolume, target: Grid): LabelVolume {
  const out = new (source.data.constructor as Uint8ArrayConstructor)(voxelCount(target.dims));
  resampleSlab(source, target, out, 'nearest', 0);
  return { dims: target.dims, affine: target.affine.map((r) => [...r]), data: out };
}
