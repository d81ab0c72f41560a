/**
 * The WebAssembly kernels give the scalar code's results bit for bit, on shapes that are not
 * multiples of the SIMD width and on volumes thinner than a kernel: the Gaussian passes, the
 * 3×3×3 median network (against selection from the sorted window), and the scans behind Otsu
 * and thresholds (bounds that float32 cannot hold exactly included).
 */
import { convolveX, convolveY, convolveZ, gaussianPlan, medianSelect } from '../../src/processing/filters';
import { convolveXSimd, convolveYSimd, convolveZSimd } from '../../src/processing/kernels/convolve';
import { median27Slab, medianNetwork, simdAvailable } from '../../src/processing/kernels/median27';
import { histogramSimd, rangeSimd, thresholdSimd } from '../../src/processing/kernels/scan';

function random(n: number, seed: number, scale = 1000): Float32Array {
  let s = seed >>> 0;
  return new Float32Array(n).map(() => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return Math.round((s / 2 ** 32) * scale * 8) / 8 - 300; // repeats, so ties occur
  });
}

const SHAPES: [number, number, number][] = [[17, 13, 9], [5, 3, 2], [1, 1, 1], [6, 1, 4], [33, 7, 3]];

test('WebAssembly SIMD is there (Node 20): the fast paths are the ones tested', () => {
  expect(simdAvailable()).toBe(true);
});

test.each(SHAPES)('Gaussian passes on %i×%i×%i: SIMD and scalar agree exactly', (nx, ny, nz) => {
  const data = random(nx * ny * nz, nx * 31 + ny);
  const [hx, hy, hz] = gaussianPlan({ dims: [nx, ny, nz], affine: [[0.7, 0, 0, 0], [0, 0.9, 0, 0], [0, 0, 1.5, 0], [0, 0, 0, 1]] }, 1.3).map((h) => h ?? new Float64Array([1, 0]));
  const a = new Float32Array(data.length);
  const b = new Float32Array(data.length);
  convolveX(data, a, nx, hx, 0, ny * nz);
  expect(convolveXSimd(data, b, nx, hx, 0, ny * nz, 3)).toBe(true); // small batches: several calls
  expect(Array.from(b)).toEqual(Array.from(a));
  convolveY(a, nx, ny, hy, 0, nz);
  convolveYSimd(b, nx, ny, hy, 0, nz);
  expect(Array.from(b)).toEqual(Array.from(a));
  convolveZ(a, nx, ny, nz, hz, 0, ny);
  convolveZSimd(b, nx, ny, nz, hz, 0, ny);
  expect(Array.from(b)).toEqual(Array.from(a));
});

test.each(SHAPES)('3×3×3 median on %i×%i×%i: the network selects what sorting does', (nx, ny, nz) => {
  const data = random(nx * ny * nz, nx + 7 * nz, 50);
  const a = new Float32Array(data.length);
  const b = new Float32Array(data.length);
  medianSelect(data, a, [nx, ny, nz], 1, 0, nz);
  median27Slab(data, b, [nx, ny, nz]);
  expect(Array.from(b)).toEqual(Array.from(a));
  // A slab range writes only its own planes.
  const c = new Float32Array(data.length).fill(12345);
  median27Slab(data, c, [nx, ny, nz], nz - 1, nz);
  expect(Array.from(c.subarray((nz - 1) * nx * ny))).toEqual(Array.from(a.subarray((nz - 1) * nx * ny)));
  if (nz > 1) expect(c[0]).toBe(12345);
});

test('the median network gives the median of 2000 shuffles of 0..26', () => {
  const { ops, result, variables } = medianNetwork(27);
  const run = (input: number[]) => {
    const v = new Float64Array(variables);
    input.forEach((x, i) => (v[i] = x));
    for (const o of ops) v[o.out] = o.max ? Math.max(v[o.a], v[o.b]) : Math.min(v[o.a], v[o.b]);
    return v[result];
  };
  let s = 3;
  const next = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0);
  for (let t = 0; t < 2000; t++) {
    const perm = Array.from({ length: 27 }, (_, i) => i);
    for (let i = 26; i > 0; i--) {
      const j = next() % (i + 1);
      [perm[i], perm[j]] = [perm[j], perm[i]];
    }
    expect(run(perm)).toBe(13);
  }
  expect(ops.length).toBeLessThan(400);
});

test('range, histogram and threshold scans: as the scalar loops', () => {
  const data = random(200_003, 9); // not a multiple of a chunk, of 4 or of 16
  data[7] = 0.1; // float32(0.1) > 0.1
  data[8] = Math.fround(0.1);
  let lo = Infinity;
  let hi = -Infinity;
  for (const x of data) {
    lo = Math.min(lo, x);
    hi = Math.max(hi, x);
  }
  expect(rangeSimd(data)).toEqual([lo, hi]);
  const scale = 256 / (hi - lo);
  const counts = new Uint32Array(256);
  for (const x of data) {
    const b = ((x - lo) * scale) | 0;
    counts[b < 255 ? b : 255]++;
  }
  expect(Array.from(histogramSimd(data, lo, scale)!)).toEqual(Array.from(counts));
  for (const [low, high] of [[0.1, Infinity], [-Infinity, 0.1], [-100.3, 250.7], [Math.fround(0.1), Math.fround(0.1)], [5, 4]]) {
    const out = new Uint8Array(data.length);
    expect(thresholdSimd(data, out, low, high)).toBe(true);
    const want = Array.from(data, (x) => (x >= low && x <= high ? 1 : 0));
    expect([low, high, Array.from(out).every((x, i) => x === want[i])]).toEqual([low, high, true]);
  }
});
