/**
 * A volume for processing: real values (Float32) on a grid placed by its affine. Voxel
 * (x, y, z) is data[x + nx * (y + ny * z)], NIfTI's order; the affine maps it to RAS mm.
 */
import { Affine, column, norm } from '../convert/geometry';
import { NiftiVolume } from '../convert/nifti';

export interface Volume {
  dims: [number, number, number];
  affine: Affine;
  data: Float32Array;
}

/** A label map or mask on a volume's grid: 0 is background. */
export interface LabelVolume {
  dims: [number, number, number];
  affine: Affine;
  data: Uint8Array | Uint16Array;
}

export function voxelCount(dims: [number, number, number]): number {
  return dims[0] * dims[1] * dims[2];
}

/** Voxel size along each axis in mm. */
export function spacing(affine: Affine): [number, number, number] {
  return [norm(column(affine, 0)), norm(column(affine, 1)), norm(column(affine, 2))];
}

/** Real values of the first (or only) volume of a NIfTI file. */
export function fromNifti(n: NiftiVolume): Volume {
  const [nx, ny, nz] = n.dims;
  const count = nx * ny * nz;
  const data = new Float32Array(count);
  for (let i = 0; i < count; i++) data[i] = n.data[i] * n.sclSlope + n.sclInter;
  return { dims: [nx, ny, nz], affine: n.affine.map((r) => [...r]), data };
}

export function toNifti(v: Volume | LabelVolume, description = ''): NiftiVolume {
  return { dims: [...v.dims, 1], pixdim: spacing(v.affine), affine: v.affine, sclSlope: 1, sclInter: 0, data: v.data, description };
}
