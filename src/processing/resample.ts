/**
 * Resampling onto another grid (nearest neighbour or trilinear): every target voxel is placed
 * in the world by its affine and read from the source there. Outside the source is `fill`.
 * Coordinates follow scipy.ndimage.map_coordinates (voxel centres at integer indices).
 */
import { Affine, apply, column, invert, multiply, scale } from '../convert/geometry';
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

function sample<T extends Float32Array | Uint8Array | Uint16Array>(source: { dims: [number, number, number]; data: T }, x: number, y: number, z: number, method: Interpolation, fill: number): number {
  const [nx, ny, nz] = source.dims;
  const d = source.data;
  if (method === 'nearest') {
    const i = Math.round(x);
    const j = Math.round(y);
    const k = Math.round(z);
    if (i < 0 || j < 0 || k < 0 || i >= nx || j >= ny || k >= nz) return fill;
    return d[i + nx * (j + ny * k)];
  }
  // Trilinear, with a point exactly on the last voxel still inside.
  if (x < 0 || y < 0 || z < 0 || x > nx - 1 || y > ny - 1 || z > nz - 1) return fill;
  const i0 = Math.min(Math.floor(x), nx - 2 < 0 ? 0 : nx - 2);
  const j0 = Math.min(Math.floor(y), ny - 2 < 0 ? 0 : ny - 2);
  const k0 = Math.min(Math.floor(z), nz - 2 < 0 ? 0 : nz - 2);
  const i1 = Math.min(i0 + 1, nx - 1);
  const j1 = Math.min(j0 + 1, ny - 1);
  const k1 = Math.min(k0 + 1, nz - 1);
  const fx = x - i0;
  const fy = y - j0;
  const fz = z - k0;
  const at = (i: number, j: number, k: number) => d[i + nx * (j + ny * k)];
  const c00 = at(i0, j0, k0) * (1 - fx) + at(i1, j0, k0) * fx;
  const c10 = at(i0, j1, k0) * (1 - fx) + at(i1, j1, k0) * fx;
  const c01 = at(i0, j0, k1) * (1 - fx) + at(i1, j0, k1) * fx;
  const c11 = at(i0, j1, k1) * (1 - fx) + at(i1, j1, k1) * fx;
  return (c00 * (1 - fy) + c10 * fy) * (1 - fz) + (c01 * (1 - fy) + c11 * fy) * fz;
}

/** Source voxel coordinates of every target voxel, as one affine: target index → source index. */
function indexMap(source: Grid, target: Grid): Affine {
  return multiply(invert(source.affine), target.affine);
}

/** Every target voxel read from the source where the target grid places it. */
function resampleInto<T extends Float32Array | Uint8Array | Uint16Array>(source: { dims: [number, number, number]; affine: Affine; data: Float32Array | Uint8Array | Uint16Array }, target: Grid, out: T, method: Interpolation, fill: number): { dims: [number, number, number]; affine: Affine; data: T } {
  const m = indexMap(source, target);
  const [tx, ty, tz] = target.dims;
  let p = 0;
  for (let z = 0; z < tz; z++) {
    for (let y = 0; y < ty; y++) {
      for (let x = 0; x < tx; x++) {
        const [sx, sy, sz] = apply(m, [x, y, z]);
        out[p++] = sample(source, sx, sy, sz, method, fill);
      }
    }
  }
  return { dims: target.dims, affine: target.affine.map((r) => [...r]), data: out };
}

export function resample(source: Volume, target: Grid, method: Interpolation = 'linear', fill = 0): Volume {
  return resampleInto(source, target, new Float32Array(voxelCount(target.dims)), method, fill);
}

/** Labels can only be resampled by nearest neighbour: a label has no in-between. */
export function resampleLabels(source: LabelVolume, target: Grid): LabelVolume {
  return resampleInto(source, target, new (source.data.constructor as Uint8ArrayConstructor)(voxelCount(target.dims)), 'nearest', 0);
}
