/**
 * The Gaussian's 1-D passes in WebAssembly SIMD. One kernel serves all three axes: it sums
 * symmetric taps of contiguous runs of float32 values,
 *
 *   out[x] = h0 · c[x] + Σ_{t=1..r} h_t · (c[x + a_t] + c[x + b_t])
 *
 * four values at a time, with float32 promoted to float64 and the sums in float64 in the same
 * order as the scalar code (so the results are the same bits: double sums stored as float32,
 * as scipy.ndimage.correlate1d does). a_t and b_t are byte offsets from the centre: ∓4t along
 * x (a padded line), or whole rows (mirrored at the borders) along y and z.
 *
 * JavaScript copies a plane (x and y passes) or the column of rows at one y (z pass) into the
 * module's memory and the result back, so memory stays a few planes.
 */
import { reflect } from './border';
import { I32, V128, ensureMemory, instantiate, moduleBytes, op } from './wasm';

interface Kernel {
  /** conv(centre, out, groups, taps, weights, table): `groups` runs of 4 values from byte offsets centre and out. */
  conv: (centre: number, out: number, groups: number, taps: number, weights: number, table: number) => void;
}

function buildModule(): Uint8Array {
  const [CENTRE, OUT, GROUPS, TAPS, WEIGHTS, TABLE] = [0, 1, 2, 3, 4, 5];
  const [X, END, T, TP, WP] = [6, 7, 8, 9, 10];
  const [C, LO, HI, A, B, H0, W] = [11, 12, 13, 14, 15, 16, 17];
  const high = [8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15];
  const join = [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23];
  const promote = op.f64x2PromoteLowF32x4;
  const b: number[] = [];
  const emit = (...parts: number[][]) => parts.forEach((p) => b.push(...p));
  emit(op.get(WEIGHTS), op.f64Load(), op.f64x2Splat, op.set(H0));
  emit(op.i32(0), op.set(X), op.get(GROUPS), op.i32(16), op.mul, op.set(END));
  emit(op.block, op.loop, op.get(X), op.get(END), op.geU, op.brIf(1));
  emit(op.get(CENTRE), op.get(X), op.add, op.load(), op.set(C));
  emit(op.get(C), promote, op.get(H0), op.f64x2Mul, op.set(LO));
  emit(op.get(C), op.get(C), op.shuffle(high), promote, op.get(H0), op.f64x2Mul, op.set(HI));
  emit(op.i32(0), op.set(T), op.get(TABLE), op.set(TP), op.get(WEIGHTS), op.i32(8), op.add, op.set(WP));
  emit(op.block, op.loop, op.get(T), op.get(TAPS), op.geU, op.brIf(1));
  emit(op.get(CENTRE), op.get(X), op.add, op.get(TP), op.i32Load(0), op.add, op.load(), op.set(A));
  emit(op.get(CENTRE), op.get(X), op.add, op.get(TP), op.i32Load(4), op.add, op.load(), op.set(B));
  emit(op.get(WP), op.f64Load(), op.f64x2Splat, op.set(W));
  // lo += w · (a + b) on the low two lanes; hi on the high two.
  emit(op.get(LO), op.get(W), op.get(A), promote, op.get(B), promote, op.f64x2Add, op.f64x2Mul, op.f64x2Add, op.set(LO));
  emit(op.get(HI), op.get(W), op.get(A), op.get(A), op.shuffle(high), promote, op.get(B), op.get(B), op.shuffle(high), promote, op.f64x2Add, op.f64x2Mul, op.f64x2Add, op.set(HI));
  emit(op.get(T), op.i32(1), op.add, op.set(T), op.get(TP), op.i32(8), op.add, op.set(TP), op.get(WP), op.i32(8), op.add, op.set(WP));
  emit(op.br(0), op.end, op.end);
  emit(op.get(OUT), op.get(X), op.add, op.get(LO), op.f32x4DemoteF64x2Zero, op.get(HI), op.f32x4DemoteF64x2Zero, op.shuffle(join), op.store());
  emit(op.get(X), op.i32(16), op.add, op.set(X), op.br(0), op.end, op.end);
  return moduleBytes({ name: 'conv', params: [I32, I32, I32, I32, I32, I32], locals: [[5, I32], [7, V128]], body: b });
}

const kernel = () => instantiate<Kernel>('convolve', buildModule);

/** Memory of one pass: weights, tap table, an input and an output region of `floats` each. */
function layout(k: Kernel & { memory: { buffer: ArrayBuffer; grow(n: number): number } }, h: Float64Array, floats: number) {
  const taps = h.length - 1;
  const weights = 0;
  const table = 8 * (taps + 1);
  const input = Math.ceil((table + 8 * taps) / 16) * 16;
  const bytes = 4 * floats + 64; // slack: the last group reads and writes past the end
  const output = input + Math.ceil(bytes / 16) * 16;
  ensureMemory(k.memory, output + bytes);
  const buffer = k.memory.buffer;
  new Float64Array(buffer, weights, taps + 1).set(h);
  return { taps, weights, table, input, output, heap: new Float32Array(buffer), ints: new Int32Array(buffer) };
}

/**
 * Rows [r0, r1) (row r = y + ny·z) convolved along x from `src` into `dst` with half kernel h
 * (h[0] the centre weight). Returns false where WebAssembly SIMD is missing.
 */
export function convolveXSimd(src: Float32Array, dst: Float32Array, nx: number, h: Float64Array, r0: number, r1: number, batch = 256): boolean {
  const k = kernel();
  if (!k) return false;
  const radius = h.length - 1;
  const line = nx + 2 * radius;
  const m = layout(k, h, batch * line);
  for (let t = 1; t <= radius; t++) {
    m.ints[m.table / 4 + 2 * (t - 1)] = -4 * t;
    m.ints[m.table / 4 + 2 * (t - 1) + 1] = 4 * t;
  }
  const pad = new Int32Array(2 * radius);
  for (let t = 0; t < radius; t++) {
    pad[t] = reflect(t - radius, nx);
    pad[radius + t] = reflect(nx + t, nx);
  }
  const inF = m.input / 4;
  const outF = m.output / 4;
  for (let first = r0; first < r1; first += batch) {
    const rows = Math.min(batch, r1 - first);
    for (let r = 0; r < rows; r++) {
      const base = (first + r) * nx;
      const at = inF + r * line;
      for (let t = 0; t < radius; t++) {
        m.heap[at + t] = src[base + pad[t]];
        m.heap[at + radius + nx + t] = src[base + pad[radius + t]];
      }
      m.heap.set(src.subarray(base, base + nx), at + radius);
    }
    // One call over the batch's padded lines back to back; the values computed at the pads are not used.
    k.conv(m.input + 4 * radius, m.output, Math.ceil((rows * line - 2 * radius) / 4), radius, m.weights, m.table);
    for (let r = 0; r < rows; r++) dst.set(m.heap.subarray(outF + r * line, outF + r * line + nx), (first + r) * nx);
  }
  return true;
}

/**
 * A pass along an axis made of whole rows, in place: `count` rows of `width` values, row i of
 * line j at data[j·lineStride + i·rowStride] for lines j in [j0, j1).
 */
function convolveRowsSimd(data: Float32Array, width: number, count: number, rowStride: number, lineStride: number, h: Float64Array, j0: number, j1: number): boolean {
  const k = kernel();
  if (!k) return false;
  const radius = h.length - 1;
  const m = layout(k, h, width * count);
  const inF = m.input / 4;
  const outF = m.output / 4;
  const groups = Math.ceil(width / 4);
  const contiguous = rowStride === width;
  for (let j = j0; j < j1; j++) {
    const base = j * lineStride;
    if (contiguous) m.heap.set(data.subarray(base, base + width * count), inF);
    else for (let i = 0; i < count; i++) m.heap.set(data.subarray(base + i * rowStride, base + i * rowStride + width), inF + i * width);
    for (let i = 0; i < count; i++) {
      for (let t = 1; t <= radius; t++) {
        m.ints[m.table / 4 + 2 * (t - 1)] = 4 * width * (reflect(i - t, count) - i);
        m.ints[m.table / 4 + 2 * (t - 1) + 1] = 4 * width * (reflect(i + t, count) - i);
      }
      // Rows in increasing order: a run past the row's end is overwritten by the next row.
      k.conv(m.input + 4 * width * i, m.output + 4 * width * i, groups, radius, m.weights, m.table);
    }
    if (contiguous) data.set(m.heap.subarray(outF, outF + width * count), base);
    else for (let i = 0; i < count; i++) data.set(m.heap.subarray(outF + i * width, outF + (i + 1) * width), base + i * rowStride);
  }
  return true;
}

/** Planes [z0, z1) along y, in place. */
export function convolveYSimd(data: Float32Array, nx: number, ny: number, h: Float64Array, z0: number, z1: number): boolean {
  return convolveRowsSimd(data, nx, ny, nx, nx * ny, h, z0, z1);
}

/** Rows y in [y0, y1) of every plane along z, in place. */
export function convolveZSimd(data: Float32Array, nx: number, ny: number, nz: number, h: Float64Array, y0: number, y1: number): boolean {
  return convolveRowsSimd(data, nx, nz, nx * ny, nx, h, y0, y1);
}
