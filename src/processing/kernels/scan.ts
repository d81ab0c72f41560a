/**
 * Whole-volume scans in WebAssembly: the range of the values (SIMD min/max), a 256-bin
 * histogram (four interleaved sub-histograms, so runs of equal values do not wait on one
 * counter), and a threshold to a 0/1 mask (SIMD compares narrowed to bytes). The volume is
 * streamed through the module's memory in chunks that stay in cache; every result is the one
 * the scalar code gives.
 */
import { F32, F64, I32, V128, ensureMemory, instantiate, moduleBytes, op } from './wasm';

interface Kernel {
  minmax: (ptr: number, groups: number, acc: number) => void;
  histogram: (ptr: number, quads: number, lo: number, scale: number, counts: number) => void;
  threshold: (ptr: number, groups: number, low: number, high: number, out: number) => void;
}

function buildModule(): Uint8Array {
  const loop = (i: number, end: number, step: number, body: number[][]): number[] => [
    ...op.i32(0), ...op.set(i),
    ...op.block, ...op.loop, ...op.get(i), ...op.get(end), ...op.geU, ...op.brIf(1),
    ...body.flat(),
    ...op.get(i), ...op.i32(step), ...op.add, ...op.set(i), ...op.br(0), ...op.end, ...op.end,
  ];
  // minmax(ptr, groups, acc): acc holds the running min (bytes 0-15) and max (16-31), four lanes each.
  const minmax = (() => {
    const [PTR, GROUPS, ACC, I, END, LO, HI, V] = [0, 1, 2, 3, 4, 5, 6, 7];
    const body = [
      ...op.get(ACC), ...op.load(0), ...op.set(LO), ...op.get(ACC), ...op.load(16), ...op.set(HI),
      ...op.get(GROUPS), ...op.i32(16), ...op.mul, ...op.set(END),
      ...loop(I, END, 16, [
        op.get(PTR), op.get(I), op.add, op.load(), op.set(V),
        op.get(LO), op.get(V), op.f32x4Pmin, op.set(LO), // v < lo ? v : lo (a NaN is passed over)
        op.get(HI), op.get(V), op.f32x4Pmax, op.set(HI),
      ]),
      ...op.get(ACC), ...op.get(LO), ...op.store(0), ...op.get(ACC), ...op.get(HI), ...op.store(16),
    ];
    return { name: 'minmax', params: [I32, I32, I32], locals: [[2, I32], [3, V128]] as [number, number][], body };
  })();
  // histogram(ptr, quads, lo, scale, counts): bin = min(255, trunc((x - lo) · scale)) in float64, as the scalar code.
  const histogram = (() => {
    const [PTR, QUADS, LO, SCALE, COUNTS, I, END, BIN, ADDR] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
    const one = (k: number): number[][] => [
      op.get(PTR), op.get(I), op.add, op.f32Load(4 * k), op.f64PromoteF32, op.get(LO), op.f64Sub, op.get(SCALE), op.f64Mul, op.i32TruncSatF64S, op.set(BIN),
      op.get(BIN), op.i32(255), op.get(BIN), op.i32(255), op.i32LtU, op.select, op.i32(2), op.shl, op.get(COUNTS), op.add, op.set(ADDR),
      op.get(ADDR), op.get(ADDR), op.i32Load(1024 * k), op.i32(1), op.add, op.i32Store(1024 * k),
    ];
    const body = [...op.get(QUADS), ...op.i32(16), ...op.mul, ...op.set(END), ...loop(I, END, 16, [...one(0), ...one(1), ...one(2), ...one(3)])];
    return { name: 'histogram', params: [I32, I32, F64, F64, I32], locals: [[4, I32]] as [number, number][], body };
  })();
  // threshold(ptr, groups, low, high, out): 16 values a group → 16 bytes of low <= x <= high.
  const threshold = (() => {
    const [PTR, GROUPS, LOW, HIGH, OUT, I, END, Q, LV, HV, ONE, A, B] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
    const mask = (k: number): number[][] => [
      op.get(PTR), op.get(Q), op.add, op.load(16 * k), op.get(LV), op.f32x4Ge,
      op.get(PTR), op.get(Q), op.add, op.load(16 * k), op.get(HV), op.f32x4Le, op.and,
    ];
    const body = [
      ...op.get(LOW), ...op.f32x4Splat, ...op.set(LV), ...op.get(HIGH), ...op.f32x4Splat, ...op.set(HV), ...op.i32(1), ...op.i8x16Splat, ...op.set(ONE),
      ...op.get(GROUPS), ...op.i32(16), ...op.mul, ...op.set(END),
      ...loop(I, END, 16, [
        op.get(I), op.i32(4), op.mul, op.set(Q), // 64 bytes of floats per 16 bytes of mask
        ...mask(0), ...mask(1), op.i16x8NarrowI32x4S, op.set(A),
        ...mask(2), ...mask(3), op.i16x8NarrowI32x4S, op.set(B),
        op.get(OUT), op.get(I), op.add, op.get(A), op.get(B), op.i8x16NarrowI16x8S, op.get(ONE), op.and, op.store(),
      ]),
    ];
    return { name: 'threshold', params: [I32, I32, F32, F32, I32], locals: [[3, I32], [5, V128]] as [number, number][], body };
  })();
  return moduleBytes([minmax, histogram, threshold]);
}

const CHUNK = 1 << 16; // floats per chunk: 256 KiB
const ACC = 0;
const COUNTS = 64;
const DATA = 8192;
const MASK = DATA + 4 * CHUNK;

let cached: (Kernel & { memory: { buffer: ArrayBuffer; grow(n: number): number } }) | undefined | null;

function kernel() {
  if (cached === undefined) {
    cached = instantiate<Kernel>('scan', buildModule) ?? null;
    if (cached) ensureMemory(cached.memory, MASK + CHUNK + 64);
  }
  return cached ?? undefined;
}

/** Copy data[from, from + n) into the chunk area; returns the float view of memory. */
function stage(k: NonNullable<ReturnType<typeof kernel>>, data: Float32Array, from: number, n: number): Float32Array {
  const heap = new Float32Array(k.memory.buffer);
  heap.set(data.subarray(from, from + n), DATA / 4);
  return heap;
}

/** [min, max] of the values (NaN passed over), or undefined without WebAssembly SIMD. */
export function rangeSimd(data: Float32Array): [number, number] | undefined {
  const k = kernel();
  if (!k) return undefined;
  const acc = new Float32Array(k.memory.buffer, ACC, 8);
  acc.fill(Infinity, 0, 4);
  acc.fill(-Infinity, 4, 8);
  let lo = Infinity;
  let hi = -Infinity;
  for (let from = 0; from < data.length; from += CHUNK) {
    const n = Math.min(CHUNK, data.length - from);
    stage(k, data, from, n);
    k.minmax(DATA, n >> 2, ACC);
    for (let i = from + (n & ~3); i < from + n; i++) {
      const x = data[i];
      if (x < lo) lo = x;
      if (x > hi) hi = x;
    }
  }
  const lanes = new Float32Array(k.memory.buffer, ACC, 8);
  for (let i = 0; i < 4; i++) {
    if (lanes[i] < lo) lo = lanes[i];
    if (lanes[4 + i] > hi) hi = lanes[4 + i];
  }
  return [lo, hi];
}

/** Counts of 256 bins: bin = min(255, trunc((x - lo) · scale)) for x >= lo; undefined without WebAssembly. */
export function histogramSimd(data: Float32Array, lo: number, scale: number): Uint32Array | undefined {
  const k = kernel();
  if (!k) return undefined;
  new Uint32Array(k.memory.buffer, COUNTS, 1024).fill(0);
  const counts = new Uint32Array(256);
  for (let from = 0; from < data.length; from += CHUNK) {
    const n = Math.min(CHUNK, data.length - from);
    stage(k, data, from, n);
    k.histogram(DATA, n >> 2, lo, scale, COUNTS);
    for (let i = from + (n & ~3); i < from + n; i++) {
      const b = ((data[i] - lo) * scale) | 0;
      counts[b < 255 ? b : 255]++;
    }
  }
  const sub = new Uint32Array(k.memory.buffer, COUNTS, 1024);
  for (let b = 0; b < 256; b++) counts[b] += sub[b] + sub[256 + b] + sub[512 + b] + sub[768 + b];
  return counts;
}

/** The float32 values v with v >= low are those with v >= this (and likewise <= for `high`). */
function f32AtLeast(x: number): number {
  const f = Math.fround(x);
  if (f >= x || !Number.isFinite(x)) return f;
  if (f === 0) return 2 ** -149; // the smallest float32 above 0
  const bits = new Float32Array([f]);
  const u = new Int32Array(bits.buffer);
  u[0] += f >= 0 ? 1 : -1; // the next float32 up
  return bits[0];
}

function f32AtMost(x: number): number {
  return -f32AtLeast(-x);
}

/** out[i] = low <= data[i] <= high ? 1 : 0; false without WebAssembly SIMD. */
export function thresholdSimd(data: Float32Array, out: Uint8Array, low: number, high: number): boolean {
  const k = kernel();
  if (!k) return false;
  const lo32 = f32AtLeast(low);
  const hi32 = f32AtMost(high);
  for (let from = 0; from < data.length; from += CHUNK) {
    const n = Math.min(CHUNK, data.length - from);
    stage(k, data, from, n);
    const whole = n & ~15;
    k.threshold(DATA, whole >> 4, lo32, hi32, MASK);
    out.set(new Uint8Array(k.memory.buffer, MASK, whole), from);
    for (let i = from + whole; i < from + n; i++) {
      const x = data[i];
      out[i] = x >= low && x <= high ? 1 : 0;
    }
  }
  return true;
}
