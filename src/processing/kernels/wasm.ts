/**
 * A minimal WebAssembly encoder for the processing kernels: modules are written as bytes here
 * (no toolchain), validated and compiled once.
 */

export function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}

export function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && !(b & 0x40)) || (n === -1 && b & 0x40)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

export const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
export const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
export const name = (s: string): number[] => [...uleb(s.length), ...Buffer.from(s, 'utf8')];

export const I32 = 0x7f;
export const F32 = 0x7d;
export const F64 = 0x7c;
export const V128 = 0x7b;
const simd = (code: number) => [0xfd, ...uleb(code)];

/** Instructions (memory ones with alignment 0 and a static offset). */
export const op = {
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  end: [0x0b],
  br: (d: number) => [0x0c, ...uleb(d)],
  brIf: (d: number) => [0x0d, ...uleb(d)],
  get: (i: number) => [0x20, ...uleb(i)],
  set: (i: number) => [0x21, ...uleb(i)],
  tee: (i: number) => [0x22, ...uleb(i)],
  i32: (n: number) => [0x41, ...sleb(n)],
  i32Load: (offset = 0) => [0x28, 0, ...uleb(offset)],
  f64Load: (offset = 0) => [0x2b, 0, ...uleb(offset)],
  add: [0x6a],
  sub: [0x6b],
  i32Store: (offset = 0) => [0x36, 0, ...uleb(offset)],
  f32Load: (offset = 0) => [0x2a, 0, ...uleb(offset)],
  f64PromoteF32: [0xbb],
  f64Sub: [0xa1],
  f64Mul: [0xa2],
  i32TruncSatF64S: [0xfc, 0x02],
  i32LtU: [0x49],
  select: [0x1b],
  shl: [0x74],
  mul: [0x6c],
  geU: [0x4f],
  load: (offset = 0) => [...simd(0x00), 0, ...uleb(offset)],
  store: (offset = 0) => [...simd(0x0b), 0, ...uleb(offset)],
  shuffle: (lanes: number[]) => [...simd(0x0d), ...lanes],
  f64x2Splat: simd(0x14),
  i8x16Splat: simd(0x0f),
  f32x4Splat: simd(0x13),
  f32x4Le: simd(0x45),
  f32x4Ge: simd(0x46),
  and: simd(0x4e),
  i8x16NarrowI16x8S: simd(0x65),
  i16x8NarrowI32x4S: simd(0x85),
  f32x4DemoteF64x2Zero: simd(0x5e),
  f64x2PromoteLowF32x4: simd(0x5f),
  f32x4Pmin: simd(0xea),
  f32x4Pmax: simd(0xeb),
  f64x2Add: simd(0xf0),
  f64x2Mul: simd(0xf2),
};

export interface WasmFunction {
  name: string;
  params: number[];
  /** Local declarations after the parameters: [count, type]. */
  locals: [number, number][];
  body: number[];
}

/** A module of exported functions (each its own type) and an exported memory. */
export function moduleBytes(fns: WasmFunction | WasmFunction[]): Uint8Array {
  const list = Array.isArray(fns) ? fns : [fns];
  const codes = list.map((fn) => {
    const code = [...vec(fn.locals.map(([count, type]) => [...uleb(count), type])), ...fn.body, ...op.end];
    return [...uleb(code.length), ...code];
  });
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(list.map((fn) => [0x60, ...vec(fn.params.map((p) => [p])), 0x00]))),
    ...section(3, vec(list.map((_, i) => uleb(i)))),
    ...section(5, vec([[0x00, ...uleb(1)]])),
    ...section(7, vec([[...name('memory'), 0x02, 0x00], ...list.map((fn, i) => [...name(fn.name), 0x00, ...uleb(i)])])),
    ...section(10, vec(codes)),
  ]);
}

/** The little of the WebAssembly API used here (the project's TypeScript libs do not declare it). */
export interface WasmMemory {
  buffer: ArrayBuffer;
  grow(pages: number): number;
}
declare const WebAssembly: {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
};


const modules = new Map<string, object | null>();

/**
 * A fresh instance (with its own memory) of the module `build` makes, compiled once per key;
 * undefined where WebAssembly or its SIMD is missing (the caller then runs its scalar path).
 */
export function instantiate<T>(key: string, build: () => Uint8Array): (T & { memory: WasmMemory }) | undefined {
  if (!modules.has(key)) {
    const bytes = build();
    modules.set(key, typeof WebAssembly === 'object' && WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null);
  }
  const compiled = modules.get(key);
  if (!compiled) return undefined;
  return new WebAssembly.Instance(compiled, {}).exports as T & { memory: WasmMemory };
}

/** Grow an instance's memory to at least `bytes`. */
export function ensureMemory(memory: WasmMemory, bytes: number): void {
  const have = memory.buffer.byteLength;
  if (bytes > have) memory.grow(Math.ceil((bytes - have) / 65536));
}
