/**
 * The 3×3×3 median (scipy.ndimage.median_filter(size=3, mode='reflect')) without sorting:
 * a selection network, run on four voxels at once with WebAssembly SIMD.
 *
 * The network is Batcher's odd-even merge sort on 32 wires, the 27 window values and five
 * +∞ pads, reduced to what decides output wire 13 (the median): comparators against a pad
 * are resolved when the network is built, and every min or max that the median does not
 * depend on is dropped. What remains is a list of min/max operations on SIMD registers; each
 * output is exactly one of the 27 inputs, so the result equals scipy's bit for bit.
 *
 * The module is written here as bytes (no toolchain): one function that runs the network over
 * one plane, reading three mirrored-padded input planes and writing one output plane in the
 * module's memory. JavaScript copies planes in and out, so memory stays a few planes.
 */
import { reflect } from './border';
import { I32, V128, ensureMemory, instantiate, moduleBytes, op } from './wasm';

type Op = { max: boolean; a: number; b: number; out: number };

/** Batcher's odd-even merge sort for n (a power of two) wires: comparators (i < j: min to i). */
function oddEvenMergeSort(n: number): [number, number][] {
  const out: [number, number][] = [];
  for (let p = 1; p < n; p <<= 1) {
    for (let k = p; k >= 1; k >>= 1) {
      for (let j = k % p; j + k < n; j += 2 * k) {
        for (let i = 0; i < Math.min(k, n - j - k); i++) {
          if (Math.floor((i + j) / (2 * p)) === Math.floor((i + j + k) / (2 * p))) out.push([i + j, i + j + k]);
        }
      }
    }
  }
  return out;
}

/** The operations that compute the median of `inputs` values (variables 0..inputs-1). */
export function medianNetwork(inputs: number): { ops: Op[]; result: number; variables: number } {
  let n = 1;
  while (n < inputs) n <<= 1;
  const INF = -1;
  const wire: number[] = Array.from({ length: n }, (_, i) => (i < inputs ? i : INF));
  let next = inputs;
  const all: Op[] = [];
  for (const [i, j] of oddEvenMergeSort(n)) {
    if (wire[j] === INF) continue; // max(x, +∞) stays on j; x stays on i
    if (wire[i] === INF) {
      [wire[i], wire[j]] = [wire[j], wire[i]];
      continue;
    }
    const lo = next++;
    const hi = next++;
    all.push({ max: false, a: wire[i], b: wire[j], out: lo }, { max: true, a: wire[i], b: wire[j], out: hi });
    wire[i] = lo;
    wire[j] = hi;
  }
  const result = wire[(inputs - 1) / 2];
  const needed = new Set([result]);
  const ops: Op[] = [];
  for (let k = all.length - 1; k >= 0; k--) {
    if (!needed.has(all[k].out)) continue;
    ops.push(all[k]);
    needed.add(all[k].a);
    needed.add(all[k].b);
  }
  ops.reverse();
  return { ops, result, variables: next };
}

/**
 * median(p0, p1, p2, out, pitch, rowBytes, rows): for each row y < rows and each 16-byte group
 * q < rowBytes, out[y·pitch + q] = median of the 3×3×3 window whose corner is at
 * p_k + (y + r)·pitch + q + 4c for planes k, rows r and columns c in 0..2.
 */
function buildModule(): Uint8Array {
  const { ops, result, variables } = medianNetwork(27);
  // Parameters 0-6; i32 locals: 7 y, 8 q, 9 qEnd, 10-18 the nine row addresses; v128 locals after.
  const [P0, OUT, PITCH, ROWBYTES, ROWS, Y, Q, QEND, ADDR] = [0, 3, 4, 5, 6, 7, 8, 9, 10];
  const V = 19;
  const body: number[] = [];
  const emit = (...parts: number[][]) => parts.forEach((p) => body.push(...p));
  emit(op.i32(0), op.set(Y), op.block, op.loop);
  emit(op.get(Y), op.get(ROWS), op.geU, op.brIf(1));
  emit(op.get(Y), op.get(PITCH), op.mul, op.set(Q));
  emit(op.get(Q), op.get(ROWBYTES), op.add, op.set(QEND));
  emit(op.block, op.loop);
  emit(op.get(Q), op.get(QEND), op.geU, op.brIf(1));
  // Row addresses: plane k, row r → p_k + q + r·pitch.
  for (let k = 0; k < 3; k++) {
    emit(op.get(P0 + k), op.get(Q), op.add, op.set(ADDR + 3 * k));
    emit(op.get(ADDR + 3 * k), op.get(PITCH), op.add, op.set(ADDR + 3 * k + 1));
    emit(op.get(ADDR + 3 * k + 1), op.get(PITCH), op.add, op.set(ADDR + 3 * k + 2));
  }
  for (let v = 0; v < 27; v++) {
    const row = Math.floor(v / 3);
    emit(op.get(ADDR + row), op.load(4 * (v % 3)), op.set(V + v));
  }
  for (const o of ops) emit(op.get(V + o.a), op.get(V + o.b), o.max ? op.f32x4Pmax : op.f32x4Pmin, op.set(V + o.out));
  emit(op.get(OUT), op.get(Q), op.add, op.get(V + result), op.store());
  emit(op.get(Q), op.i32(16), op.add, op.set(Q), op.br(0), op.end, op.end);
  emit(op.get(Y), op.i32(1), op.add, op.set(Y), op.br(0), op.end, op.end);
  return moduleBytes({ name: 'median', params: Array.from({ length: 7 }, () => I32), locals: [[12, I32], [variables, V128]], body });
}

interface Kernel {
  median: (p0: number, p1: number, p2: number, out: number, pitch: number, rowBytes: number, rows: number) => void;
}

const kernel = () => instantiate<Kernel>('median27', buildModule);

/** Whether the SIMD kernel runs here (otherwise a scalar run of the same network does). */
export function simdAvailable(): boolean {
  return kernel() !== undefined;
}

/** A scalar 3×3×3 median with the same network, for machines without WebAssembly SIMD. */
function scalarSlab(src: Float32Array, out: Float32Array, dims: [number, number, number], z0: number, z1: number): void {
  const { ops, result, variables } = medianNetwork(27);
  const [nx, ny, nz] = dims;
  const v = new Float64Array(variables);
  for (let z = z0; z < z1; z++) {
    for (let y = 0; y < ny; y++) {
      for (let x = 0; x < nx; x++) {
        let w = 0;
        for (let dz = -1; dz <= 1; dz++)
          for (let dy = -1; dy <= 1; dy++)
            for (let dx = -1; dx <= 1; dx++) v[w++] = src[reflect(x + dx, nx) + nx * (reflect(y + dy, ny) + ny * reflect(z + dz, nz))];
        for (const o of ops) v[o.out] = o.max ? Math.max(v[o.a], v[o.b]) : Math.min(v[o.a], v[o.b]);
        out[x + nx * (y + ny * z)] = v[result];
      }
    }
  }
}

/**
 * Planes [z0, z1) of the 3×3×3 median of `src` (x fastest, dims nx, ny, nz) into `out`.
 * Three padded planes (z - 1, z, z + 1, mirrored at the borders) live in the module's memory
 * and each source plane is copied in once.
 */
export function median27Slab(src: Float32Array, out: Float32Array, dims: [number, number, number], z0 = 0, z1 = dims[2]): void {
  const k = kernel();
  if (!k) return scalarSlab(src, out, dims, z0, z1);
  const [nx, ny, nz] = dims;
  const groups = Math.ceil(nx / 4);
  const pitch = 4 * groups + 4; // floats per padded row: room for the last group's overreach
  const planeFloats = pitch * (ny + 2);
  const bytes = 4 * planeFloats * 4; // three input slots and the output
  ensureMemory(k.memory, bytes);
  const heap = new Float32Array(k.memory.buffer);
  const slotOf = [-1, -1, -1];
  const outBase = 3 * planeFloats;

  /** Copy source plane k into a slot with mirrored borders; returns the slot's byte offset. */
  const load = (k: number, keep: number[]): number => {
    let slot = slotOf.indexOf(k);
    if (slot < 0) {
      slot = [0, 1, 2].find((s) => !keep.includes(slotOf[s]))!;
      slotOf[slot] = k;
      const base = slot * planeFloats;
      const plane = k * nx * ny;
      for (let y = -1; y <= ny; y++) {
        const row = base + (y + 1) * pitch;
        const from = plane + reflect(y, ny) * nx;
        heap.set(src.subarray(from, from + nx), row + 1);
        heap[row] = src[from + reflect(-1, nx)];
        heap[row + nx + 1] = src[from + reflect(nx, nx)];
      }
    }
    return 4 * slot * planeFloats;
  };

  for (let z = z0; z < z1; z++) {
    const ks = [reflect(z - 1, nz), z, reflect(z + 1, nz)];
    const offsets = ks.map((k) => load(k, ks));
    k.median(offsets[0], offsets[1], offsets[2], 4 * outBase, 4 * pitch, 16 * groups, ny);
    for (let y = 0; y < ny; y++) {
      const from = outBase + y * pitch;
      out.set(heap.subarray(from, from + nx), (z * ny + y) * nx);
    }
  }
}
