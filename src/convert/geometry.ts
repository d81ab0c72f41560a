/**
 * Image geometry as plain data and small pure functions: 4×4 affines (voxel → mm), the
 * DICOM patient coordinate system (LPS) and NIfTI's (RAS), quaternions for the qform, and
 * how one voxel grid lies in another.
 */
export type Affine = number[][];
export type Vec3 = [number, number, number];

export function multiply(a: Affine, b: Affine): Affine {
  return a.map((row) => [0, 1, 2, 3].map((c) => row.reduce((s, v, k) => s + v * b[k][c], 0)));
}

export function apply(a: Affine, p: Vec3): Vec3 {
  return [0, 1, 2].map((r) => a[r][0] * p[0] + a[r][1] * p[1] + a[r][2] * p[2] + a[r][3]) as Vec3;
}

/** Inverse of an affine (3×3 linear part and translation). */
export function invert(a: Affine): Affine {
  const [[a00, a01, a02], [a10, a11, a12], [a20, a21, a22]] = a;
  const det = a00 * (a11 * a22 - a12 * a21) - a01 * (a10 * a22 - a12 * a20) + a02 * (a10 * a21 - a11 * a20);
  if (Math.abs(det) < 1e-12) throw new Error('affine is singular');
  const m = [
    [(a11 * a22 - a12 * a21) / det, (a02 * a21 - a01 * a22) / det, (a01 * a12 - a02 * a11) / det],
    [(a12 * a20 - a10 * a22) / det, (a00 * a22 - a02 * a20) / det, (a02 * a10 - a00 * a12) / det],
    [(a10 * a21 - a11 * a20) / det, (a01 * a20 - a00 * a21) / det, (a00 * a11 - a01 * a10) / det],
  ];
  const t = [0, 1, 2].map((r) => -(m[r][0] * a[0][3] + m[r][1] * a[1][3] + m[r][2] * a[2][3]));
  return [[...m[0], t[0]], [...m[1], t[1]], [...m[2], t[2]], [0, 0, 0, 1]];
}

/** RAS+ (NIfTI) ↔ LPS+ (DICOM): negate x and y. The same matrix converts both ways. */
export function flipXY(a: Affine): Affine {
  return a.map((row, r) => (r < 2 ? row.map((v) => -v) : [...row]));
}

export const cross = (a: Vec3, b: Vec3): Vec3 => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
export const dot = (a: Vec3, b: Vec3): number => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
export const norm = (a: Vec3): number => Math.sqrt(dot(a, a));
export const scale = (a: Vec3, s: number): Vec3 => [a[0] * s, a[1] * s, a[2] * s];

export function column(a: Affine, c: number): Vec3 {
  return [a[0][c], a[1][c], a[2][c]];
}

/**
 * The LPS affine of a DICOM slice stack: voxel (column, row, slice) → patient mm.
 * PixelSpacing is [row spacing, column spacing] (PS3.3 C.7.6.2.1.1); `step` is the vector
 * from one slice's ImagePositionPatient to the next.
 */
export function dicomGridAffine(ipp: Vec3, iop: number[], pixelSpacing: [number, number], step: Vec3): Affine {
  const x = scale(iop.slice(0, 3) as Vec3, pixelSpacing[1]);
  const y = scale(iop.slice(3, 6) as Vec3, pixelSpacing[0]);
  return [
    [x[0], y[0], step[0], ipp[0]],
    [x[1], y[1], step[1], ipp[1]],
    [x[2], y[2], step[2], ipp[2]],
    [0, 0, 0, 1],
  ];
}

/** How each axis of one grid maps onto another's: output index = sign * input index + offset. */
export interface AxisMap {
  axis: number;
  sign: 1 | -1;
  offset: number;
}

/**
 * Whether grid A (voxel → mm) is grid B with its axes permuted or reversed: A⁻¹... B.
 * Returns, for each axis of A, the axis of B it runs along, or undefined when the grids do
 * not coincide within `tolerance` (mm, relative to a voxel).
 */
export function matchGrid(a: Affine, b: Affine, tolerance = 1e-3): AxisMap[] | undefined {
  let t: Affine;
  try {
    t = multiply(invert(b), a); // A's voxel indices → B's voxel indices
  } catch {
    return undefined; // a degenerate grid matches nothing
  }
  const maps: AxisMap[] = [];
  for (let c = 0; c < 3; c++) {
    const col = [t[0][c], t[1][c], t[2][c]];
    const axis = col.findIndex((v) => Math.abs(Math.abs(v) - 1) < tolerance);
    if (axis < 0 || col.some((v, r) => r !== axis && Math.abs(v) > tolerance)) return undefined;
    const offset = t[axis][3];
    if (Math.abs(offset - Math.round(offset)) > tolerance) return undefined;
    maps.push({ axis, sign: col[axis] > 0 ? 1 : -1, offset: Math.round(offset) });
  }
  if (new Set(maps.map((m) => m.axis)).size !== 3) return undefined;
  return maps;
}

/** The NIfTI quaternion of an affine's rotation (nifti1_io's mat44_to_quatern), with qfac. */
export function affineToQuaternion(a: Affine): { b: number; c: number; d: number; x: number; y: number; z: number; qfac: number } {
  const cols = [0, 1, 2].map((c) => column(a, c));
  const [u, v, w] = cols.map((c) => {
    const n = norm(c) || 1;
    return scale(c, 1 / n);
  });
  let [r11, r21, r31] = u;
  let [r12, r22, r32] = v;
  let [r13, r23, r33] = w;
  const det = r11 * (r22 * r33 - r32 * r23) - r12 * (r21 * r33 - r31 * r23) + r13 * (r21 * r32 - r31 * r22);
  let qfac = 1;
  if (det < 0) {
    qfac = -1;
    r13 = -r13;
    r23 = -r23;
    r33 = -r33;
  }
  let qa = r11 + r22 + r33 + 1;
  let b: number, c: number, d: number;
  if (qa > 0.5) {
    qa = 0.5 * Math.sqrt(qa);
    b = (0.25 * (r32 - r23)) / qa;
    c = (0.25 * (r13 - r31)) / qa;
    d = (0.25 * (r21 - r12)) / qa;
  } else {
    const xd = 1 + r11 - (r22 + r33);
    const yd = 1 + r22 - (r11 + r33);
    const zd = 1 + r33 - (r11 + r22);
    if (xd > 1) {
      b = 0.5 * Math.sqrt(xd);
      c = (0.25 * (r12 + r21)) / b;
      d = (0.25 * (r13 + r31)) / b;
      qa = (0.25 * (r32 - r23)) / b;
    } else if (yd > 1) {
      c = 0.5 * Math.sqrt(yd);
      b = (0.25 * (r12 + r21)) / c;
      d = (0.25 * (r23 + r32)) / c;
      qa = (0.25 * (r13 - r31)) / c;
    } else {
      d = 0.5 * Math.sqrt(zd);
      b = (0.25 * (r13 + r31)) / d;
      c = (0.25 * (r23 + r32)) / d;
      qa = (0.25 * (r21 - r12)) / d;
    }
    if (qa < 0) {
      b = -b;
      c = -c;
      d = -d;
    }
  }
  return { b, c, d, x: a[0][3], y: a[1][3], z: a[2][3], qfac };
}
