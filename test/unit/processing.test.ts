/**
 * Processing functions against scipy.ndimage (Debian python3-scipy) on small random volumes,
 * and against cases whose answer is known by hand.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Volume, LabelVolume } from '../../src/processing/volume';
import { gaussian, median } from '../../src/processing/filters';
import { resample, resampleLabels, gridAtSpacing } from '../../src/processing/resample';
import { clip, minMax, zscore } from '../../src/processing/normalize';
import { close, connectedComponents, largestComponent, open, otsu, regionGrow, threshold } from '../../src/processing/segment';
import { apply, invert, multiply } from '../../src/convert/geometry';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'veilgate-processing-'));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

/** A reproducible pseudo-random stream (LCG). */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const affine = (sx: number, sy: number, sz: number) => [
  [-sx, 0, 0, 40],
  [0, sy, 0, -20],
  [0, 0, sz, 10],
  [0, 0, 0, 1],
];

function randomVolume(dims: [number, number, number], spacing: [number, number, number], seed = 1): Volume {
  const r = random(seed);
  const data = new Float32Array(dims[0] * dims[1] * dims[2]).map(() => Math.round(r() * 1000) - 300);
  return { dims, affine: affine(...spacing), data };
}

function scipy(job: Record<string, unknown>, input: Float32Array | Uint8Array, outType: 'f32' | 'u8' | 'i32'): Float32Array | Uint8Array | Int32Array {
  const inFile = path.join(work, `in-${Math.random()}.bin`);
  const outFile = path.join(work, `out-${Math.random()}.bin`);
  fs.writeFileSync(inFile, Buffer.from(input.buffer, input.byteOffset, input.byteLength));
  const r = spawnSync('/usr/bin/python3', [path.join(__dirname, '../support/scipy_reference.py')], { input: JSON.stringify({ ...job, input: inFile, output: outFile }), encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  const b = fs.readFileSync(outFile);
  const ab = b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
  return outType === 'f32' ? new Float32Array(ab) : outType === 'u8' ? new Uint8Array(ab) : new Int32Array(ab);
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

describe('filters against scipy.ndimage', () => {
  test('Gaussian with sigma in mm on anisotropic voxels', () => {
    const v = randomVolume([17, 13, 9], [1, 0.8, 2.5]);
    const ours = gaussian(v, 2);
    const ref = scipy({ op: 'gaussian', shape: v.dims, sigma: [2 / 1, 2 / 0.8, 2 / 2.5] }, v.data, 'f32');
    expect(maxDiff(ours.data, ref)).toBeLessThan(1e-3);
  });

  test('median of radius 1 and 2', () => {
    const v = randomVolume([11, 9, 7], [1, 1, 1], 2);
    for (const radius of [1, 2]) {
      const ref = scipy({ op: 'median', shape: v.dims, radius }, v.data, 'f32');
      expect(maxDiff(median(v, radius).data, ref)).toBe(0);
    }
  });
});

describe('resampling against scipy.ndimage.map_coordinates', () => {
  const v = randomVolume([20, 16, 10], [0.9, 0.9, 2.5], 3);
  const target = gridAtSpacing(v, [1, 1, 1]);

  test('the target grid keeps origin, directions and extent', () => {
    expect(target.dims).toEqual([18, 14, 25]);
    expect(target.affine[0][3]).toBe(v.affine[0][3]);
    expect(target.affine[0][0]).toBeCloseTo(-1, 12);
    expect(target.affine[2][2]).toBeCloseTo(1, 12);
  });

  for (const [method, order] of [['linear', 1], ['nearest', 0]] as const) {
    test(`${method} interpolation`, () => {
      const ours = resample(v, target, method);
      const m = multiply(invert(v.affine), target.affine);
      const n = target.dims[0] * target.dims[1] * target.dims[2];
      const coords = new Float64Array(3 * n);
      let p = 0;
      for (let z = 0; z < target.dims[2]; z++)
        for (let y = 0; y < target.dims[1]; y++)
          for (let x = 0; x < target.dims[0]; x++, p++) {
            const s = apply(m, [x, y, z]);
            coords[p] = s[0];
            coords[n + p] = s[1];
            coords[2 * n + p] = s[2];
          }
      const coordFile = path.join(work, `coords-${method}.bin`);
      fs.writeFileSync(coordFile, Buffer.from(coords.buffer));
      const ref = scipy({ op: 'map', shape: v.dims, coords: coordFile, order }, v.data, 'f32');
      // Compare away from the edges, where 'constant' boundary conventions differ by half a voxel.
      let worst = 0;
      for (let i = 0; i < n; i++) {
        const [sx, sy, sz] = [coords[i], coords[n + i], coords[2 * n + i]];
        if (sx < 0.5 || sy < 0.5 || sz < 0.5 || sx > v.dims[0] - 1.5 || sy > v.dims[1] - 1.5 || sz > v.dims[2] - 1.5) continue;
        worst = Math.max(worst, Math.abs(ours.data[i] - ref[i]));
      }
      expect(worst).toBeLessThan(1e-3);
    });
  }

  test('a resampled volume lies where the source does: world positions agree', () => {
    const ours = resample(v, target, 'linear');
    // The voxel at world position w has the same value in both, for a point on both grids.
    const world = apply(v.affine, [9, 9, 4]);
    const inTarget = apply(invert(target.affine), world).map(Math.round);
    const back = apply(target.affine, inTarget as [number, number, number]);
    expect(Math.hypot(back[0] - world[0], back[1] - world[1], back[2] - world[2])).toBeLessThan(0.5 * Math.sqrt(3));
    const labels: LabelVolume = { dims: v.dims, affine: v.affine, data: new Uint8Array(v.data.length).fill(3) };
    expect(new Set(resampleLabels(labels, target).data)).toEqual(new Set([3, 0]));
    expect(ours.dims).toEqual(target.dims);
  });
});

describe('segmentation', () => {
  test('connected components: same labels as scipy.ndimage.label, largest kept', () => {
    const v = randomVolume([15, 12, 8], [1, 1, 1], 4);
    const mask = threshold(v, 350, 700);
    const ours = connectedComponents(mask);
    const ref = scipy({ op: 'label', shape: mask.dims }, mask.data as Uint8Array, 'i32');
    expect(Array.from(ours.labels)).toEqual(Array.from(ref));
    const largest = largestComponent(mask);
    const size = largest.data.reduce((s, x) => s + x, 0);
    expect(size).toBe(Math.max(...ours.sizes));
  });

  test('binary opening and closing: as scipy with the 6-neighbour cross', () => {
    const v = randomVolume([13, 11, 9], [1, 1, 1], 5);
    const mask = threshold(v, 0, 700);
    expect(Array.from(open(mask).data)).toEqual(Array.from(scipy({ op: 'opening', shape: mask.dims }, mask.data as Uint8Array, 'u8')));
    expect(Array.from(close(mask).data)).toEqual(Array.from(scipy({ op: 'closing', shape: mask.dims }, mask.data as Uint8Array, 'u8')));
  });

  /** A ball of value 100 (radius 5) in a noisy background around 0. */
  function ball(): { v: Volume; truth: Uint8Array } {
    const dims: [number, number, number] = [20, 20, 20];
    const r = random(6);
    const data = new Float32Array(8000);
    const truth = new Uint8Array(8000);
    for (let z = 0; z < 20; z++)
      for (let y = 0; y < 20; y++)
        for (let x = 0; x < 20; x++) {
          const i = x + 20 * (y + 20 * z);
          const inside = (x - 10) ** 2 + (y - 10) ** 2 + (z - 10) ** 2 <= 25;
          truth[i] = inside ? 1 : 0;
          data[i] = (inside ? 100 : 0) + (r() - 0.5) * 10;
        }
    return { v: { dims, affine: affine(1, 1, 1), data }, truth };
  }

  test("Otsu's threshold separates two classes", () => {
    const { v, truth } = ball();
    const { mask, threshold: t } = otsu(v);
    expect(t).toBeGreaterThan(5);
    expect(t).toBeLessThan(95);
    expect(Array.from(mask.data)).toEqual(Array.from(truth));
  });

  test('region growing from a seed fills the connected region within tolerance', () => {
    const { v, truth } = ball();
    expect(Array.from(regionGrow(v, [[10, 10, 10]], 20).data)).toEqual(Array.from(truth));
    expect(() => regionGrow(v, [[30, 0, 0]], 20)).toThrow(/outside/);
  });
});

describe('normalisation', () => {
  test('z-score, min–max and clipping', () => {
    const v = randomVolume([5, 5, 5], [1, 1, 1], 7);
    const z = zscore(v);
    const mean = z.data.reduce((s, x) => s + x, 0) / z.data.length;
    const sd = Math.sqrt(z.data.reduce((s, x) => s + (x - mean) ** 2, 0) / z.data.length);
    expect(mean).toBeCloseTo(0, 4);
    expect(sd).toBeCloseTo(1, 4);
    const mm = minMax(v);
    expect(Math.min(...mm.data)).toBe(0);
    expect(Math.max(...mm.data)).toBe(1);
    const c = clip(v, -100, 100);
    expect(Math.min(...c.data)).toBe(-100);
    expect(Math.max(...c.data)).toBe(100);
  });
});
