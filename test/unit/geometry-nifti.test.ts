import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Affine, affineToQuaternion, apply, dicomGridAffine, flipXY, invert, matchGrid, multiply } from '../../src/convert/geometry';
import { readNifti, writeNifti } from '../../src/convert/nifti';
import { sliceStack } from '../../src/convert/series-geometry';
import { SHARED_DATA } from '../support/gateway';

const close = (a: number[][], b: number[][], tol = 1e-9) => a.every((row, r) => row.every((v, c) => Math.abs(v - b[r][c]) <= tol));

describe('geometry', () => {
  const sheared: Affine = [
    [0.5, 0.1, 0, -10],
    [0, 0.7, 0.2, 20],
    [0.05, 0, 2.5, 30],
    [0, 0, 0, 1],
  ];

  test('inverse and product give the identity', () => {
    expect(close(multiply(invert(sheared), sheared), [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]])).toBe(true);
    expect(apply(invert(sheared), apply(sheared, [3, 4, 5])).map((v) => Number(v.toFixed(9)))).toEqual([3, 4, 5]);
  });

  test('a DICOM stack: PixelSpacing is [row, column] spacing, positions follow the step', () => {
    // Axial slices: rows run posterior, columns run to the patient's left.
    const a = dicomGridAffine([-100, -120, 50], [1, 0, 0, 0, 1, 0], [0.8, 0.6], [0, 0, 2.5]);
    expect(apply(a, [10, 0, 0])).toEqual([-94, -120, 50]); // 10 columns × 0.6 mm along x
    expect(apply(a, [0, 10, 0])).toEqual([-100, -112, 50]); // 10 rows × 0.8 mm along y
    expect(apply(a, [0, 0, 4])).toEqual([-100, -120, 60]);
    // LPS → RAS negates x and y.
    expect(apply(flipXY(a), [0, 0, 0])).toEqual([100, 120, 50]);
  });

  test('matchGrid finds reversed and swapped axes and refuses a half-voxel shift', () => {
    const b = dicomGridAffine([0, 0, 0], [1, 0, 0, 0, 1, 0], [1, 1], [0, 0, 2]);
    // The same grid with rows reversed (as dcm2niix writes): j' = 9 - j for 10 rows.
    const flipped: Affine = [
      [1, 0, 0, 0],
      [0, -1, 0, 9],
      [0, 0, 2, 0],
      [0, 0, 0, 1],
    ];
    expect(matchGrid(flipped, b)).toEqual([
      { axis: 0, sign: 1, offset: 0 },
      { axis: 1, sign: -1, offset: 9 },
      { axis: 2, sign: 1, offset: 0 },
    ]);
    const shifted = flipped.map((r) => [...r]);
    shifted[2][3] = 1; // half a slice
    expect(matchGrid(shifted, b)).toBeUndefined();
    const coarser = flipped.map((r) => [...r]);
    coarser[0][0] = 2;
    expect(matchGrid(coarser, b)).toBeUndefined();
  });

  test('quaternions: identity, a half turn about z, and a flipped k axis', () => {
    expect(affineToQuaternion([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]])).toMatchObject({ b: 0, c: 0, d: 0, qfac: 1 });
    const halfTurn = affineToQuaternion([[-2, 0, 0, 5], [0, -2, 0, 6], [0, 0, 3, 7], [0, 0, 0, 1]]);
    expect(halfTurn.d).toBeCloseTo(1, 12);
    expect(halfTurn).toMatchObject({ x: 5, y: 6, z: 7, qfac: 1 });
    expect(affineToQuaternion([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, -1, 0], [0, 0, 0, 1]]).qfac).toBe(-1);
  });

  test('slice stack: sorted along the normal whatever the instance order, uneven gaps flagged', () => {
    const slice = (uid: string, z: number) => ({
      '00080018': { vr: 'UI', Value: [uid] },
      '00080016': { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.2'] },
      '00200032': { vr: 'DS', Value: [0, 0, z] },
      '00200037': { vr: 'DS', Value: [1, 0, 0, 0, 1, 0] },
      '00280030': { vr: 'DS', Value: [0.5, 0.5] },
      '00280010': { vr: 'US', Value: [4] },
      '00280011': { vr: 'US', Value: [4] },
    });
    const even = sliceStack([slice('c', 5), slice('a', 1), slice('b', 3)])!;
    expect(even.slices.map((s) => s.sopInstanceUID)).toEqual(['a', 'b', 'c']);
    expect(apply(even.affine, [0, 0, 2])).toEqual([0, 0, 5]);
    expect(even.uneven).toBe(false);
    expect(sliceStack([slice('a', 0), slice('b', 1), slice('c', 3)])!.uneven).toBe(true);
    expect(sliceStack([slice('a', 0), slice('b', 0)])).toBeUndefined(); // repeats are no stack
  });
});

describe('NIfTI files', () => {
  test('write then read keeps dimensions, affine, scaling and voxels', () => {
    const data = Int16Array.from({ length: 4 * 3 * 2 }, (_, i) => i - 10);
    const affine: Affine = [[-0.5, 0, 0, 10], [0, 0.7, 0, -20], [0, 0, 2, 30], [0, 0, 0, 1]];
    const back = readNifti(writeNifti({ dims: [4, 3, 2, 1], pixdim: [0.5, 0.7, 2], affine, sclSlope: 2, sclInter: -1, data }));
    expect(back.dims).toEqual([4, 3, 2, 1]);
    expect(close(back.affine, affine, 1e-6)).toBe(true);
    expect(back.sclSlope).toBe(2);
    expect(back.sclInter).toBe(-1);
    expect(Array.from(back.data)).toEqual(Array.from(data));
  });

  test('reads a dcm2niix file as nibabel does', () => {
    const file = path.join(SHARED_DATA, 'dcm_qa_nih/Ref/DCM2NIIX_regression_test_4.nii');
    const ours = readNifti(fs.readFileSync(file));
    const py = spawnSync('/usr/bin/python3', ['-c', `import nibabel as nib, json; x = nib.load(${JSON.stringify(file)}); print(json.dumps({"shape": list(x.shape), "affine": x.affine.tolist(), "sum": float(x.get_fdata().sum())}))`], { encoding: 'utf8' });
    const ref = JSON.parse(py.stdout) as { shape: number[]; affine: number[][]; sum: number };
    expect(ours.dims).toEqual(ref.shape);
    expect(close(ours.affine, ref.affine, 1e-4)).toBe(true);
    let sum = 0;
    for (const v of ours.data) sum += v * ours.sclSlope + ours.sclInter;
    expect(sum).toBeCloseTo(ref.sum, 3);
  });

  test('refuses what it cannot place in space', () => {
    expect(() => readNifti(Buffer.alloc(100))).toThrow(/shorter than a header/);
    const v = writeNifti({ dims: [2, 2, 2, 1], pixdim: [1, 1, 1], affine: [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]], sclSlope: 1, sclInter: 0, data: new Int16Array(8) });
    v.writeInt16LE(0, 254); // sform_code
    v.writeInt16LE(0, 252); // qform_code
    expect(() => readNifti(v)).toThrow(/no sform or qform/);
  });
});
