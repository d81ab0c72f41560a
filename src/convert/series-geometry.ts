/**
 * The slice stack of a stored series as its precomputed metadata describes it: slices
 * sorted along the normal by ImagePositionPatient, spacing from the positions, and the
 * stack's LPS affine. Classic single-frame series only (enhanced objects carry per-frame
 * geometry; their NIfTI grid comes from dcm2niix).
 */
import { DicomJson } from '../dicom/json';
import { Affine, Vec3, cross, dicomGridAffine, dot, norm } from './geometry';

export interface SourceSlice {
  sopInstanceUID: string;
  sopClassUID: string;
  position: Vec3;
}

export interface SliceStack {
  slices: SourceSlice[];
  rows: number;
  columns: number;
  /** Unit vectors along a row (column index grows) and along a column (row index grows). */
  rowDirection: Vec3;
  columnDirection: Vec3;
  /** Voxel (column, row, slice) → LPS mm, for the sorted stack. */
  affine: Affine;
  /** The spacing between consecutive slices varies by more than 1%. */
  uneven: boolean;
}

const numbers = (j: DicomJson, tag: string): number[] => (j[tag]?.Value ?? []).map(Number);

export function sliceStack(metadata: DicomJson[]): SliceStack | undefined {
  const withGeometry = metadata.filter((m) => numbers(m, '00200032').length === 3 && numbers(m, '00200037').length === 6);
  if (withGeometry.length === 0) return undefined;
  // A Siemens mosaic packs many slices in one image: its pixel grid is not a slice of the volume.
  if (withGeometry.some((m) => (m['00080008']?.Value ?? []).includes('MOSAIC'))) return undefined;
  const first = withGeometry[0];
  const iop = numbers(first, '00200037');
  const rowDirection = iop.slice(0, 3) as Vec3;
  const columnDirection = iop.slice(3, 6) as Vec3;
  const normal = cross(rowDirection, columnDirection);
  const slices = withGeometry
    .map((m) => ({
      sopInstanceUID: String(m['00080018']?.Value?.[0]),
      sopClassUID: String(m['00080016']?.Value?.[0]),
      position: numbers(m, '00200032') as Vec3,
    }))
    .sort((a, b) => dot(a.position, normal) - dot(b.position, normal));
  const spacing = numbers(first, '00280030');
  const n = slices.length;
  const last = slices[n - 1].position;
  const origin = slices[0].position;
  const step: Vec3 = n > 1 ? [(last[0] - origin[0]) / (n - 1), (last[1] - origin[1]) / (n - 1), (last[2] - origin[2]) / (n - 1)] : normal;
  const gaps = slices.slice(1).map((s, i) => dot([s.position[0] - slices[i].position[0], s.position[1] - slices[i].position[1], s.position[2] - slices[i].position[2]], normal));
  const mean = norm(step);
  // Several images at one position (repeats, echoes, time points) are no single slice stack.
  if (n > 1 && mean < 1e-6) return undefined;
  return {
    slices,
    rows: Number(first['00280010']?.Value?.[0]),
    columns: Number(first['00280011']?.Value?.[0]),
    rowDirection,
    columnDirection,
    affine: dicomGridAffine(origin, iop, [spacing[0] ?? 1, spacing[1] ?? 1], step),
    uneven: gaps.some((g) => Math.abs(g - mean) > 0.01 * mean),
  };
}
