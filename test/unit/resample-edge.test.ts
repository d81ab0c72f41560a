/**
 * Resampling at the edges of the volume, as ITK (and so SimpleITK's ResampleImageFilter) does.
 *
 * ITK places voxel i's centre at continuous index i, and a voxel is a box half a voxel either
 * side, so an image of n voxels covers [-0.5, n - 0.5): its extent is size × spacing.
 * - ImageFunction::IsInsideBuffer(ContinuousIndex) is true for StartIndex - 0.5 <= index <
 *   EndIndex + 0.5 (itkImageFunction.h/.hxx: m_StartContinuousIndex = start - 0.5,
 *   m_EndContinuousIndex = end + 0.5, "each voxel has its center at the integer coordinate and
 *   extends half way to the next integer coordinate").
 * - LinearInterpolateImageFunction clamps the neighbours it reads to the buffer (a base index
 *   below StartIndex is raised to it; a neighbour past EndIndex is not read and the edge value
 *   is used), so within half a voxel of the edge a sample takes the edge voxel's value.
 * - ResampleImageFilter: "If a sample is taken from outside the image domain, the default
 *   behavior is to use a default pixel value" (SetDefaultPixelValue). Veilgate's default is the
 *   source's minimum (air on a CT, where ITK's 0 would be water); the resample operation takes
 *   `fill` to choose another.
 * - NearestNeighborInterpolateImageFunction rounds the continuous index half up, with the same
 *   inside test.
 *
 * The bug this guards: a 28-slice 5 mm CT resampled to 1 mm has 140 slices, and everything
 * past the last source slice's centre (the last four slices) came out 0 HU.
 */
import fs from 'node:fs';
import path from 'node:path';
import { multiply } from '../../src/convert/geometry';
import { niftiOutputs, runDcm2niix } from '../../src/convert/dcm2niix';
import { readNifti } from '../../src/convert/nifti';
import { Grid, gridAtSpacing, minimum, resample, resampleLabels } from '../../src/processing/resample';
import { runOperation, validateOperation } from '../../src/processing/operations';
import { Volume, fromNifti } from '../../src/processing/volume';
import { SHARED_DATA } from '../support/gateway';

jest.setTimeout(120_000);

/** Voxel (x, y, z) of a volume. */
const at = (v: { dims: number[]; data: ArrayLike<number> }, x: number, y: number, z: number) => v.data[x + v.dims[0] * (y + v.dims[1] * z)];
const slice = (v: Volume, k: number) => Array.from(v.data.subarray(k * v.dims[0] * v.dims[1], (k + 1) * v.dims[0] * v.dims[1]));

describe('a synthetic 28-slice 5 mm volume, resampled as ITK does', () => {
  // 10 × 8 × 28 voxels of 1 × 1 × 5 mm; the value is linear in the index, so trilinear
  // interpolation is exact inside and the edge rule is easy to state.
  const dims: [number, number, number] = [10, 8, 28];
  const f = (x: number, y: number, z: number) => 10 * x + 100 * y + 1000 * z - 2000;
  const data = new Float32Array(10 * 8 * 28);
  for (let z = 0; z < 28; z++) for (let y = 0; y < 8; y++) for (let x = 0; x < 10; x++) data[x + 10 * (y + 8 * z)] = f(x, y, z);
  const v: Volume = { dims, affine: [[-1, 0, 0, 30], [0, -1, 0, 20], [0, 0, 5, -40], [0, 0, 0, 1]], data };
  const fill = -2000; // the minimum, at voxel (0, 0, 0)
  const close = (a: number, b: number) => Math.abs(a - b) < 0.01;

  test('to 0.4 × 0.4 × 1 mm: inside interpolated, within half a voxel the edge value, beyond it the minimum', () => {
    const target = gridAtSpacing(v, [0.4, 0.4, 1]);
    expect(target.dims).toEqual([25, 20, 140]); // the extent is size × spacing: 10 mm, 8 mm, 140 mm
    const r = resample(v, target, 'linear');
    expect(minimum(v.data)).toBe(fill);
    const clampX = (i: number) => Math.min(9, 0.4 * i);
    const clampY = (j: number) => Math.min(7, 0.4 * j);
    const clampZ = (k: number) => Math.min(27, k / 5);
    const wrong: string[] = [];
    for (let k = 0; k < 140; k++)
      for (let j = 0; j < 20; j++)
        for (let i = 0; i < 25; i++) {
          // Continuous source index 0.4 i, 0.4 j, k / 5; inside while below n - 0.5.
          const inside = 0.4 * i < 9.5 && 0.4 * j < 7.5 && k / 5 < 27.5;
          const want = inside ? f(clampX(i), clampY(j), clampZ(k)) : fill;
          if (!close(at(r, i, j, k), want)) wrong.push(`${i},${j},${k}: ${at(r, i, j, k)} not ${want}`);
        }
    expect(wrong.slice(0, 5)).toEqual([]);
    // The slices past the last source slice's centre: 136 and 137 are within half a slice (27.2, 27.4).
    expect(slice(r, 136)).toEqual(slice(r, 135));
    expect(slice(r, 137)).toEqual(slice(r, 135));
    expect(new Set(slice(r, 138))).toEqual(new Set([fill]));
    expect(new Set(slice(r, 139))).toEqual(new Set([fill]));
    // A fill of one's own.
    const filled = resample(v, target, 'linear', -1024);
    expect(new Set(slice(filled, 139))).toEqual(new Set([-1024]));
    expect(slice(filled, 137)).toEqual(slice(r, 137).map((x) => (x === fill ? -1024 : x))); // in-plane outside too
  });

  /** A grid whose x runs along the source's `axis` at 0.4 voxel per step from continuous index `start`. */
  const line = (axis: number, start: number, count: number): Grid => {
    const m = [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 1]];
    m[axis][0] = 0.4;
    m[axis][3] = start;
    // The other target axes stay put at index 2 (a voxel inside), so only one axis is tested.
    for (let r = 0; r < 3; r++) if (r !== axis) m[r][3] = 2;
    m[(axis + 1) % 3][1] = 1;
    m[(axis + 2) % 3][2] = 1;
    return { dims: [count, 1, 1], affine: multiply(v.affine, m) };
  };

  for (const axis of [0, 1, 2]) {
    test(`both edges along axis ${axis}, linear and nearest, separable and general grids`, () => {
      const n = dims[axis];
      // From -0.65 (outside) through -0.25 (within half a voxel) to past n - 0.5 (outside); no
      // sample falls on a boundary or half-way between voxels.
      const count = Math.ceil((n + 0.65) / 0.4) + 1;
      const grid = line(axis, -0.65, count);
      const value = (c: number) => {
        const p = [2, 2, 2];
        p[axis] = c;
        return f(p[0], p[1], p[2]);
      };
      const linear = resample(v, grid, 'linear');
      const nearest = resample(v, grid, 'nearest');
      for (let i = 0; i < count; i++) {
        const c = -0.65 + 0.4 * i;
        const inside = c >= -0.5 && c < n - 0.5;
        expect([axis, c, close(linear.data[i], inside ? value(Math.min(n - 1, Math.max(0, c))) : fill)]).toEqual([axis, c, true]);
        expect([axis, c, nearest.data[i]]).toEqual([axis, c, inside ? value(Math.min(n - 1, Math.floor(c + 0.5))) : fill]);
      }
      // For axes 1 and 2 the grid's axes are permuted, so the general path ran; along axis 0 it
      // was the separable one, and the general path (forced by a term that moves no sample)
      // gives the same.
      if (axis === 0) {
        const general = { dims: grid.dims, affine: multiply(v.affine, [[0.4, 0, 0, -0.65], [0, 1, 1e-3, 2], [0, 0, 1, 2], [0, 0, 0, 1]]) };
        expect(Array.from(resample(v, general, 'linear').data)).toEqual(Array.from(linear.data));
        expect(Array.from(resample(v, general, 'nearest').data)).toEqual(Array.from(nearest.data));
      }
    });
  }

  test('labels: nearest neighbour with the same edges, background outside', () => {
    const labels = { dims, affine: v.affine, data: new Uint8Array(data.length).fill(4) };
    const r = resampleLabels(labels, gridAtSpacing(v, [0.4, 0.4, 1]));
    // z: slices 0..137 round to a source slice (137 / 5 = 27.4), 138 and 139 are outside.
    expect(at(r, 0, 0, 137)).toBe(4);
    expect(at(r, 0, 0, 138)).toBe(0);
    expect(at(r, 23, 0, 0)).toBe(4); // x 9.2
    expect(at(r, 24, 0, 0)).toBe(0); // x 9.6
  });

  test('the resample operation takes a fill, checked before it is queued', () => {
    const spec = validateOperation('resample', { spacing: [0.4, 0.4, 1], fill: -1024 });
    expect(spec).toEqual({ op: 'resample', method: 'linear', spacing: [0.4, 0.4, 1], fill: -1024 });
    const result = runOperation(spec, v);
    expect(result.kind).toBe('image');
    if (result.kind === 'image') expect(new Set(slice(result.volume, 139))).toEqual(new Set([-1024]));
    expect(() => validateOperation('resample', { spacing: 1, fill: 'air' })).toThrow(/fill/);
    expect(validateOperation('resample', { spacing: 1 })).toEqual({ op: 'resample', method: 'linear', spacing: [1, 1, 1] });
  });
});

describe('the 28-slice 5 mm Philips CT resampled to 1 mm', () => {
  let v: Volume;
  beforeAll(async () => {
    const folder = path.join(SHARED_DATA, 'dcm_qa_ct/In/Philips/S21570/S2010');
    const files = fs.readdirSync(folder).filter((n) => n !== 'DIRFILE').map((name) => ({ name, data: new Uint8Array(fs.readFileSync(path.join(folder, name))) }));
    const result = await runDcm2niix(files);
    v = fromNifti(readNifti(niftiOutputs(result)[0].nii.data));
  });

  test('140 slices; the last two within half a slice are the edge slice, the two beyond are air', () => {
    expect(v.dims).toEqual([512, 512, 28]);
    const r = resample(v, gridAtSpacing(v, [1, 1, 1]), 'linear');
    expect(r.dims).toEqual([231, 231, 140]);
    const air = minimum(v.data);
    expect(air).toBeLessThan(-900);
    // Slice 135 lies on the last source slice (27 × 5 mm); 136 and 137 are 1 and 2 mm past its
    // centre, within the 2.5 mm half slice: the same values. They were 0 HU.
    const edge = slice(r, 135);
    expect(edge.some((x) => x !== 0)).toBe(true);
    expect(at(r, 0, 0, 135)).toBe(at(v, 0, 0, 27)); // corner voxels coincide in-plane
    expect(slice(r, 136)).toEqual(edge);
    expect(slice(r, 137)).toEqual(edge);
    // 138 and 139 are 3 and 4 mm past it: outside the volume, so the fill (the minimum).
    expect(new Set(slice(r, 138))).toEqual(new Set([air]));
    expect(new Set(slice(r, 139))).toEqual(new Set([air]));
    // In-plane the extent is 512 × 0.451 = 231 mm: the last column (230 mm) is still inside.
    expect(at(r, 230, 100, 50)).not.toBe(air);
  });
});
