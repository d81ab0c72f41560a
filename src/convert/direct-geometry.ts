/**
 * dcm2niix's header arithmetic, reproduced operation for operation so that a NIfTI written
 * directly from the stored slices carries the same bits as the one dcm2niix writes.
 *
 * dcm2niix keeps matrices in single precision (nifti1_io_core's mat33/mat44 are float) and
 * mixes in double precision where the C source does (determinants, inverses, quaternions).
 * Every single-precision step here is rounded with Math.fround: a product or sum of two
 * floats computed in double and rounded once equals the float operation (double rounding is
 * innocuous for +, -, *, / and sqrt when the wide format has at least 2p + 2 bits). The order
 * of operations follows the C code, so that signed zeros land where dcm2niix puts them.
 *
 * References (read, not copied): nifti1_io_core.cpp (nifti_dicom2mat, nifti_mat33_polar,
 * nifti_mat44_to_quatern, nifti_vect44mat44_mul), nii_dicom.cpp (verify_slice_dir,
 * set_nii_header_x, setQSForm, nii_flipY, nii_flipZ), nii_dicom_batch.cpp
 * (intersliceDistance, computeGantryTiltPrecise).
 */

const f = Math.fround;

/** A 3×3 or 4×4 matrix of single-precision values, row major. */
export type FMat = number[][];
export type FVec = number[];

/** C: float = float * float + ... , summed left to right. */
export function mat33Mul(a: FMat, b: FMat): FMat {
  const c: FMat = [[], [], []];
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) c[i][j] = f(f(f(a[i][0] * b[0][j]) + f(a[i][1] * b[1][j])) + f(a[i][2] * b[2][j]));
  }
  return c;
}

export function mat33Transpose(a: FMat): FMat {
  return [0, 1, 2].map((i) => [a[0][i], a[1][i], a[2][i]]);
}

/** nifti_mat33_determ: double arithmetic on the float entries, returned as float. */
export function mat33Determ(r: FMat): number {
  const [[r11, r12, r13], [r21, r22, r23], [r31, r32, r33]] = r;
  return f(r11 * r22 * r33 - r11 * r32 * r23 - r21 * r12 * r33 + r21 * r32 * r13 + r31 * r12 * r23 - r31 * r22 * r13);
}

function mat33Inverse(r: FMat): FMat {
  const [[r11, r12, r13], [r21, r22, r23], [r31, r32, r33]] = r;
  let deti = r11 * r22 * r33 - r11 * r32 * r23 - r21 * r12 * r33 + r21 * r32 * r13 + r31 * r12 * r23 - r31 * r22 * r13;
  if (deti !== 0) deti = 1 / deti;
  return [
    [f(deti * (r22 * r33 - r32 * r23)), f(deti * (-r12 * r33 + r32 * r13)), f(deti * (r12 * r23 - r22 * r13))],
    [f(deti * (-r21 * r33 + r31 * r23)), f(deti * (r11 * r33 - r31 * r13)), f(deti * (-r11 * r23 + r21 * r13))],
    [f(deti * (r21 * r32 - r31 * r22)), f(deti * (-r11 * r32 + r31 * r12)), f(deti * (r11 * r22 - r21 * r12))],
  ];
}

const rowNorm = (a: FMat) => {
  let r1 = f(f(Math.abs(a[0][0]) + Math.abs(a[0][1])) + Math.abs(a[0][2]));
  const r2 = f(f(Math.abs(a[1][0]) + Math.abs(a[1][1])) + Math.abs(a[1][2]));
  const r3 = f(f(Math.abs(a[2][0]) + Math.abs(a[2][1])) + Math.abs(a[2][2]));
  if (r1 < r2) r1 = r2;
  if (r1 < r3) r1 = r3;
  return r1;
};

const colNorm = (a: FMat) => {
  let r1 = f(f(Math.abs(a[0][0]) + Math.abs(a[1][0])) + Math.abs(a[2][0]));
  const r2 = f(f(Math.abs(a[0][1]) + Math.abs(a[1][1])) + Math.abs(a[2][1]));
  const r3 = f(f(Math.abs(a[0][2]) + Math.abs(a[1][2])) + Math.abs(a[2][2]));
  if (r1 < r2) r1 = r2;
  if (r1 < r3) r1 = r3;
  return r1;
};

/** nifti_mat33_polar: the orthogonal matrix nearest to A, iterated in single precision. */
function mat33Polar(a: FMat): FMat {
  let x = a.map((row) => [...row]);
  let gam = mat33Determ(x);
  while (gam === 0) {
    gam = f(0.00001 * (0.001 + rowNorm(x)));
    for (let i = 0; i < 3; i++) x[i][i] = f(x[i][i] + gam);
    gam = mat33Determ(x);
  }
  let dif = 1;
  let k = 0;
  let z: FMat;
  for (;;) {
    const y = mat33Inverse(x);
    let gmi: number;
    if (dif > 0.3) {
      const alp = f(Math.sqrt(f(rowNorm(x) * colNorm(x))));
      const bet = f(Math.sqrt(f(rowNorm(y) * colNorm(y))));
      gam = f(Math.sqrt(f(bet / alp)));
      gmi = f(1 / gam);
    } else {
      gam = 1;
      gmi = 1;
    }
    z = [[], [], []];
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 3; j++) z[i][j] = f(0.5 * f(f(gam * x[i][j]) + f(gmi * y[j][i])));
    }
    dif = 0;
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) dif = f(dif + Math.abs(f(z[i][j] - x[i][j])));
    k += 1;
    if (k > 100 || dif < 3e-6) break;
    x = z;
  }
  return z;
}

export interface Quatern {
  b: number;
  c: number;
  d: number;
  x: number;
  y: number;
  z: number;
  qfac: number;
}

/** nifti_mat44_to_quatern: quaternion, offsets and qfac of a float 4×4 matrix. */
export function mat44ToQuatern(r: FMat): Quatern {
  let [r11, r12, r13] = r[0];
  let [r21, r22, r23] = r[1];
  let [r31, r32, r33] = r[2];
  let xd = Math.sqrt(r11 * r11 + r21 * r21 + r31 * r31);
  let yd = Math.sqrt(r12 * r12 + r22 * r22 + r32 * r32);
  let zd = Math.sqrt(r13 * r13 + r23 * r23 + r33 * r33);
  if (xd === 0) {
    r11 = 1;
    r21 = r31 = 0;
    xd = 1;
  }
  if (yd === 0) {
    r22 = 1;
    r12 = r32 = 0;
    yd = 1;
  }
  if (zd === 0) {
    r33 = 1;
    r13 = r23 = 0;
    zd = 1;
  }
  r11 /= xd;
  r21 /= xd;
  r31 /= xd;
  r12 /= yd;
  r22 /= yd;
  r32 /= yd;
  r13 /= zd;
  r23 /= zd;
  r33 /= zd;
  const p = mat33Polar([
    [f(r11), f(r12), f(r13)],
    [f(r21), f(r22), f(r23)],
    [f(r31), f(r32), f(r33)],
  ]);
  [r11, r12, r13] = p[0];
  [r21, r22, r23] = p[1];
  [r31, r32, r33] = p[2];
  zd = r11 * r22 * r33 - r11 * r32 * r23 - r21 * r12 * r33 + r21 * r32 * r13 + r31 * r12 * r23 - r31 * r22 * r13;
  let qfac: number;
  if (zd > 0) qfac = 1;
  else {
    qfac = -1;
    r13 = -r13;
    r23 = -r23;
    r33 = -r33;
  }
  let a = r11 + r22 + r33 + 1;
  let b: number, c: number, d: number;
  if (a > 0.5) {
    a = 0.5 * Math.sqrt(a);
    b = (0.25 * (r32 - r23)) / a;
    c = (0.25 * (r13 - r31)) / a;
    d = (0.25 * (r21 - r12)) / a;
  } else {
    xd = 1 + r11 - (r22 + r33);
    yd = 1 + r22 - (r11 + r33);
    zd = 1 + r33 - (r11 + r22);
    if (xd > 1) {
      b = 0.5 * Math.sqrt(xd);
      c = (0.25 * (r12 + r21)) / b;
      d = (0.25 * (r13 + r31)) / b;
      a = (0.25 * (r32 - r23)) / b;
    } else if (yd > 1) {
      c = 0.5 * Math.sqrt(yd);
      b = (0.25 * (r12 + r21)) / c;
      d = (0.25 * (r23 + r32)) / c;
      a = (0.25 * (r13 - r31)) / c;
    } else {
      d = 0.5 * Math.sqrt(zd);
      b = (0.25 * (r13 + r31)) / d;
      c = (0.25 * (r23 + r32)) / d;
      a = (0.25 * (r21 - r12)) / d;
    }
    if (a < 0) {
      b = -b;
      c = -c;
      d = -d;
    }
  }
  return { b: f(b), c: f(c), d: f(d), x: r[0][3], y: r[1][3], z: r[2][3], qfac };
}

/** nifti_vect44mat44_mul: m × v, each sum started at 0 and accumulated in float. */
export function vect44Mat44Mul(v: FVec, m: FMat): FVec {
  const out: FVec = [];
  for (let i = 0; i < 4; i++) {
    let s = 0;
    for (let j = 0; j < 4; j++) s = f(s + f(m[i][j] * v[j]));
    out.push(s);
  }
  return out;
}

function load44(m33: FMat, t: FVec): FMat {
  return [
    [m33[0][0], m33[0][1], m33[0][2], t[0]],
    [m33[1][0], m33[1][1], m33[1][2], t[1]],
    [m33[2][0], m33[2][1], m33[2][2], t[2]],
    [0, 0, 0, 1],
  ];
}

/**
 * nifti_dicom2mat: ImageOrientationPatient (6 floats), ImagePositionPatient (3) and voxel
 * size (3) as the LPS voxel → mm matrix, rows normalised and the third the cross product.
 */
export function dicom2mat(orient: FVec, position: FVec, xyzMM: FVec): FMat {
  const q: FMat = [[orient[0], orient[1], orient[2]], [orient[3], orient[4], orient[5]], [0, 0, 0]];
  for (const r of [0, 1]) {
    let val = f(f(f(q[r][0] * q[r][0]) + f(q[r][1] * q[r][1])) + f(q[r][2] * q[r][2]));
    if (val > 0) {
      val = 1 / Math.sqrt(val);
      const s = f(val);
      q[r] = q[r].map((v) => f(v * s));
    } else {
      q[r] = r === 0 ? [1, 0, 0] : [0, 1, 0];
    }
  }
  q[2][0] = f(f(q[0][1] * q[1][2]) - f(q[0][2] * q[1][1]));
  q[2][1] = f(f(q[0][2] * q[1][0]) - f(q[0][0] * q[1][2]));
  q[2][2] = f(f(q[0][0] * q[1][1]) - f(q[0][1] * q[1][0]));
  let t = mat33Transpose(q);
  if (mat33Determ(t) < 0) for (let i = 0; i < 3; i++) t[i][2] = -t[i][2];
  const diag: FMat = [
    [xyzMM[0], 0, 0],
    [0, xyzMM[1], 0],
    [0, 0, xyzMM[2]],
  ];
  t = mat33Mul(t, diag);
  return load44(t, position);
}

/**
 * verify_slice_dir: whether the stack runs against the third column of the matrix, judged
 * by the second slice's position along the dominant axis. Flips that column in place when
 * it does; returns the slice direction (1 sagittal, 2 coronal, 3 axial; negative: flipped).
 */
export function verifySliceDir(r: FMat, slices: number, secondPosition: FVec | undefined, firstPosition: FVec): number {
  if (slices < 2) return 0;
  let iSL = 1;
  if (Math.abs(r[1][2]) >= Math.abs(r[0][2]) && Math.abs(r[1][2]) >= Math.abs(r[2][2])) iSL = 2;
  if (Math.abs(r[2][2]) >= Math.abs(r[0][2]) && Math.abs(r[2][2]) >= Math.abs(r[1][2])) iSL = 3;
  let pos = NaN;
  if (secondPosition) {
    pos = secondPosition[iSL - 1];
    if (isSameFloat(pos, firstPosition[iSL - 1])) pos = NaN;
  }
  if (Number.isNaN(pos)) return NaN; // dcm2niix would guess: the caller refuses the direct path
  const pos1 = vect44Mat44Mul([0, 0, f(slices - 1), 1], r)[iSL - 1];
  const flip = pos > r[iSL - 1][3] !== pos1 > r[iSL - 1][3];
  if (flip) {
    for (let i = 0; i < 4; i++) r[i][2] = -r[i][2];
    iSL = -iSL;
  }
  return iSL;
}

/** LPS → RAS: negate the first two rows (all four columns), as set_nii_header_x does. */
export function lpsToRas(r: FMat): void {
  for (let c = 0; c < 4; c++) for (let row = 0; row < 2; row++) r[row][c] = -r[row][c];
}

/** nii_flipY / nii_flipZ on the sform: the voxel at the far end of an axis becomes the origin. */
export function flipAxis(s: FMat, axis: 1 | 2, dim: number): FMat {
  const v: FVec = [0, 0, 0, 1];
  v[axis] = f(dim - 1);
  const origin = vect44Mat44Mul(v, s);
  const flip: FMat = [
    [1, 0, 0],
    [0, 1, 0],
    [0, 0, 1],
  ];
  flip[axis][axis] = -1;
  const m = mat33Mul(
    s.slice(0, 3).map((row) => row.slice(0, 3)),
    flip,
  );
  return load44(m, origin);
}

export const FLT_EPSILON = 1.1920928955078125e-7;

/** isSameFloat: |a - b| ≤ FLT_EPSILON, the difference taken in float. */
export function isSameFloat(a: number, b: number): boolean {
  return Math.abs(f(a - b)) <= FLT_EPSILON;
}

/** isSameFloatGE: |a - b| ≤ 0.0001, the difference taken in float. */
export function isSameFloatGE(a: number, b: number): boolean {
  return Math.abs(f(a - b)) <= 0.0001;
}

const sqr = (v: number) => f(v * v);

/** intersliceDistance (no gantry tilt): the float distance between two slice positions. */
export function intersliceDistance(a: FVec, b: FVec): number {
  return f(Math.sqrt(f(f(sqr(f(a[0] - b[0])) + sqr(f(a[1] - b[1]))) + sqr(f(a[2] - b[2])))));
}

const crossF = (u: FVec, v: FVec): FVec => [f(f(u[1] * v[2]) - f(v[1] * u[2])), f(f(-u[0] * v[2]) + f(v[0] * u[2])), f(f(u[0] * v[1]) - f(v[0] * u[1]))];
const lengthF = (v: FVec) => f(Math.sqrt(f(f(f(v[0] * v[0]) + f(v[1] * v[1])) + f(v[2] * v[2]))));
const maxMag = (v: FVec) => {
  let mx = v[0];
  if (Math.abs(v[1]) > Math.abs(mx)) mx = v[1];
  if (Math.abs(v[2]) > Math.abs(mx)) mx = v[2];
  return mx;
};
const positive = (v: FVec) => (maxMag(v) >= 0 ? v : v.map((x) => -x));

/**
 * computeGantryTiltPrecise's decision: whether dcm2niix would see a gantry tilt between the
 * first and last slice of the stack. Only the yes/no matters here (a tilted stack is not
 * written directly); the angle is dcm2niix's single-precision estimate.
 */
export function hasGantryTilt(first: FVec, last: FVec, orient: FVec, headerTilt: number): boolean {
  const slice = positive([f(last[0] - first[0]), f(last[1] - first[1]), f(last[2] - first[2])]);
  const len = lengthF(slice);
  if (isSameFloat(len, 0)) return false;
  const normal = positive(crossF(orient.slice(0, 3), orient.slice(3, 6)));
  const len90 = lengthF(normal);
  if (isSameFloat(len90, 0)) return false;
  const dotX = f(f(f(normal[0] * slice[0]) + f(slice[1] * normal[1])) + f(slice[2] * normal[2]));
  const cosX = f(dotX / f(len * len90));
  let ret = 0;
  if (!isSameFloat(cosX, 1)) ret = f(f(Math.acos(cosX)) * (180 / Math.PI));
  if (isSameFloat(ret, 0) && isSameFloat(ret, headerTilt)) return false;
  return !isSameFloatGE(ret, 0);
}
