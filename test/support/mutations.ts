/**
 * A seeded mutation engine for DICOM files, for the ingest fuzzer (test/integration/fuzz.test.ts).
 *
 * A sample is a real file split into what a mutation needs: its file meta group, its data set
 * (inflated when the file is deflated) and a map of every element, item, delimiter and
 * fragment in it, with the byte offsets of tags, VRs and length fields. Mutations work on
 * that map, so a "corrupted item length" really hits an item length, and the result is
 * re-assembled (re-deflated when the sample is deflated) as a Part 10 file for STOW-RS and as
 * a bare data set in a transfer syntax for C-STORE.
 *
 * This reader is deliberately independent of src/dicom: it is the test's own idea of the
 * layout (the DICOM dictionary comes from dcmjs, used only to know which implicit-VR elements
 * are sequences).
 */
import fs from 'node:fs';
import zlib from 'node:zlib';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const dcmjs = require('dcmjs');

export const TS = {
  Implicit: '1.2.840.10008.1.2',
  Explicit: '1.2.840.10008.1.2.1',
  Deflated: '1.2.840.10008.1.2.1.99',
  BigEndian: '1.2.840.10008.1.2.2',
  JpegBaseline: '1.2.840.10008.1.2.4.50',
  Rle: '1.2.840.10008.1.2.5',
} as const;

const NATIVE = new Set<string>([TS.Implicit, TS.Explicit, TS.Deflated, TS.BigEndian]);

/* ------------------------------------------------------------------ random numbers */

/** sfc32: small, fast, and the same sequence for the same seed on every machine. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = 0xb7e15162;
    this.d = seed >>> 0;
    for (let i = 0; i < 15; i++) this.u32();
  }

  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** [0, 1) */
  next(): number {
    return this.u32() / 4294967296;
  }

  /** [0, n) */
  int(n: number): number {
    return n <= 0 ? 0 : Math.floor(this.next() * n);
  }

  /** [lo, hi] */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  /** A child generator, so one case's draws never shift another's. */
  fork(salt: number): Rng {
    return new Rng((this.u32() ^ Math.imul(salt + 1, 0x9e3779b1)) >>> 0);
  }
}

/* ------------------------------------------------------------------ layout */

const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);
const SHORT_VRS = ['AE', 'AS', 'AT', 'CS', 'DA', 'DS', 'DT', 'FL', 'FD', 'IS', 'LO', 'LT', 'PN', 'SH', 'SL', 'SS', 'ST', 'TM', 'UI', 'UL', 'US'];
const KNOWN_VRS = new Set([...SHORT_VRS, ...LONG_VRS]);
const UNDEFINED = 0xffffffff;
const ITEM = 0xfffee000;
const ITEM_DELIM = 0xfffee00d;
const SEQ_DELIM = 0xfffee0dd;
export const Tag = {
  TransferSyntaxUID: 0x00020010,
  MediaStorageSOPClassUID: 0x00020002,
  MediaStorageSOPInstanceUID: 0x00020003,
  SOPClassUID: 0x00080016,
  SOPInstanceUID: 0x00080018,
  StudyInstanceUID: 0x0020000d,
  SeriesInstanceUID: 0x0020000e,
  SamplesPerPixel: 0x00280002,
  NumberOfFrames: 0x00280008,
  Rows: 0x00280010,
  Columns: 0x00280011,
  BitsAllocated: 0x00280100,
  BitsStored: 0x00280101,
  HighBit: 0x00280102,
  PixelRepresentation: 0x00280103,
  PixelData: 0x7fe00010,
} as const;

const dictionary = dcmjs.data.DicomMetaDictionary.dictionary as Record<string, { vr: string }>;

function hex4(n: number): string {
  return n.toString(16).toUpperCase().padStart(4, '0');
}

export function tagName(t: number): string {
  return `(${hex4(t >>> 16)},${hex4(t & 0xffff)})`;
}

/** The dictionary VR of a public tag, for implicit VR data sets. */
function dictionaryVr(t: number): string | undefined {
  return dictionary[tagName(t)]?.vr;
}

export interface Encoding {
  littleEndian: boolean;
  explicit: boolean;
}

export function encodingOf(ts: string): Encoding {
  return { littleEndian: ts !== TS.BigEndian, explicit: ts !== TS.Implicit };
}

export type NodeKind = 'element' | 'item' | 'item-delim' | 'seq-delim' | 'fragment';

export interface LayoutNode {
  kind: NodeKind;
  /** First byte of the tag. */
  offset: number;
  /** First byte after the node (after its value, items and delimiters). */
  end: number;
  tag: number;
  /** The VR as written (explicit) or from the dictionary (implicit); elements only. */
  vr?: string;
  /** Offset of the two VR characters (explicit VR elements only). */
  vrOffset?: number;
  lengthOffset: number;
  lengthSize: 2 | 4;
  length: number;
  valueOffset: number;
  /** Sequence nesting: 0 for elements of the data set itself. */
  depth: number;
  /** Encoding of the bytes the node is in (an undefined-length UN sequence is implicit VR LE inside). */
  enc: Encoding;
  /** First item of encapsulated pixel data: the Basic Offset Table. */
  bot?: boolean;
}

class LayoutError extends Error {}

/**
 * Every node of a data set, in file order. A layout of a damaged data set stops where it can no
 * longer make sense of it (mutations are made from the layout of the intact sample).
 */
export function layoutOf(body: Uint8Array, enc: Encoding): LayoutNode[] {
  const buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const nodes: LayoutNode[] = [];
  const u16 = (p: number, e: Encoding) => (e.littleEndian ? buf.readUInt16LE(p) : buf.readUInt16BE(p));
  const u32 = (p: number, e: Encoding) => (e.littleEndian ? buf.readUInt32LE(p) : buf.readUInt32BE(p));
  const tagAt = (p: number, e: Encoding) => ((u16(p, e) << 16) | u16(p + 2, e)) >>> 0;
  const need = (p: number, n: number) => {
    if (p + n > buf.length) throw new LayoutError('truncated');
  };

  function fragments(pos: number, depth: number, e: Encoding): number {
    let first = true;
    for (;;) {
      need(pos, 8);
      const t = tagAt(pos, e);
      const len = u32(pos + 4, e);
      if (t === SEQ_DELIM) {
        nodes.push({ kind: 'seq-delim', offset: pos, end: pos + 8, tag: t, lengthOffset: pos + 4, lengthSize: 4, length: len, valueOffset: pos + 8, depth, enc: e });
        return pos + 8;
      }
      if (t !== ITEM || len === UNDEFINED) throw new LayoutError('bad fragment');
      need(pos + 8, len);
      nodes.push({ kind: 'fragment', offset: pos, end: pos + 8 + len, tag: t, lengthOffset: pos + 4, lengthSize: 4, length: len, valueOffset: pos + 8, depth, enc: e, bot: first });
      first = false;
      pos += 8 + len;
    }
  }

  function items(pos: number, length: number, depth: number, e: Encoding): number {
    const end = length === UNDEFINED ? Infinity : pos + length;
    while (pos < end) {
      need(pos, 8);
      const t = tagAt(pos, e);
      const len = u32(pos + 4, e);
      if (t === SEQ_DELIM) {
        nodes.push({ kind: 'seq-delim', offset: pos, end: pos + 8, tag: t, lengthOffset: pos + 4, lengthSize: 4, length: len, valueOffset: pos + 8, depth, enc: e });
        pos += 8;
        if (end === Infinity) return pos;
        continue;
      }
      if (t !== ITEM) throw new LayoutError('expected an item');
      const node: LayoutNode = { kind: 'item', offset: pos, end: 0, tag: t, lengthOffset: pos + 4, lengthSize: 4, length: len, valueOffset: pos + 8, depth, enc: e };
      nodes.push(node);
      pos = dataset(pos + 8, len === UNDEFINED ? Infinity : pos + 8 + len, depth + 1, e);
      node.end = pos;
    }
    return pos;
  }

  function dataset(pos: number, end: number, depth: number, e: Encoding): number {
    while (pos < end) {
      if (end === Infinity) need(pos, 8);
      else if (end - pos < 8) return end;
      const t = tagAt(pos, e);
      if (t === ITEM_DELIM) {
        nodes.push({ kind: 'item-delim', offset: pos, end: pos + 8, tag: t, lengthOffset: pos + 4, lengthSize: 4, length: u32(pos + 4, e), valueOffset: pos + 8, depth, enc: e });
        pos += 8;
        if (end === Infinity) return pos;
        continue;
      }
      let vr: string | undefined;
      let vrOffset: number | undefined;
      let lengthOffset: number;
      let lengthSize: 2 | 4;
      if (e.explicit) {
        need(pos, 8);
        vr = buf.toString('latin1', pos + 4, pos + 6);
        vrOffset = pos + 4;
        if (!KNOWN_VRS.has(vr)) throw new LayoutError('unknown VR');
        if (LONG_VRS.has(vr)) {
          need(pos, 12);
          lengthOffset = pos + 8;
          lengthSize = 4;
        } else {
          lengthOffset = pos + 6;
          lengthSize = 2;
        }
      } else {
        need(pos, 8);
        lengthOffset = pos + 4;
        lengthSize = 4;
        vr = t === Tag.PixelData ? 'OW' : (dictionaryVr(t) ?? 'UN');
      }
      const length = lengthSize === 2 ? u16(lengthOffset, e) : u32(lengthOffset, e);
      const valueOffset = lengthOffset + lengthSize;
      const node: LayoutNode = { kind: 'element', offset: pos, end: 0, tag: t, vr, vrOffset, lengthOffset, lengthSize, length, valueOffset, depth, enc: e };
      nodes.push(node);
      if (length === UNDEFINED) {
        if (t === Tag.PixelData) pos = fragments(valueOffset, depth + 1, e);
        else if (vr === 'UN' && e.explicit) pos = items(valueOffset, UNDEFINED, depth + 1, { littleEndian: true, explicit: false });
        else pos = items(valueOffset, UNDEFINED, depth + 1, e);
      } else if (vr === 'SQ' || (!e.explicit && dictionaryVr(t) === 'SQ')) {
        need(valueOffset, length);
        pos = items(valueOffset, length, depth + 1, e);
      } else {
        need(valueOffset, length);
        pos = valueOffset + length;
      }
      node.end = pos;
    }
    return pos;
  }

  try {
    dataset(0, buf.length, 0, enc);
  } catch (e) {
    if (!(e instanceof LayoutError || e instanceof RangeError)) throw e;
  }
  return nodes;
}

/* ------------------------------------------------------------------ encoding helpers */

function u16Bytes(v: number, le: boolean): Buffer {
  const b = Buffer.alloc(2);
  if (le) b.writeUInt16LE(v & 0xffff);
  else b.writeUInt16BE(v & 0xffff);
  return b;
}

function u32Bytes(v: number, le: boolean): Buffer {
  const b = Buffer.alloc(4);
  if (le) b.writeUInt32LE(v >>> 0);
  else b.writeUInt32BE(v >>> 0);
  return b;
}

function tagBytes(t: number, le: boolean): Buffer {
  return Buffer.concat([u16Bytes(t >>> 16, le), u16Bytes(t & 0xffff, le)]);
}

/** An element header and value in an encoding. A long-VR header when the VR needs it. */
export function encodeElement(t: number, vr: string, value: Buffer, enc: Encoding, declaredLength = value.length): Buffer {
  const le = enc.littleEndian;
  if (!enc.explicit) return Buffer.concat([tagBytes(t, le), u32Bytes(declaredLength, le), value]);
  if (LONG_VRS.has(vr)) return Buffer.concat([tagBytes(t, le), Buffer.from(vr, 'latin1'), Buffer.alloc(2), u32Bytes(declaredLength, le), value]);
  return Buffer.concat([tagBytes(t, le), Buffer.from(vr, 'latin1'), u16Bytes(declaredLength, le), value]);
}

/** A text value padded to even length (UIDs with NUL, others with a space). */
export function textValue(s: string, vr: string): Buffer {
  const b = Buffer.from(s, 'latin1');
  return b.length % 2 ? Buffer.concat([b, Buffer.from(vr === 'UI' ? '\0' : ' ', 'latin1')]) : b;
}

function itemHeader(length: number, le: boolean): Buffer {
  return Buffer.concat([tagBytes(ITEM, le), u32Bytes(length, le)]);
}

function delimiter(t: number, le: boolean): Buffer {
  return Buffer.concat([tagBytes(t, le), u32Bytes(0, le)]);
}

function splice(buf: Buffer, start: number, end: number, insert: Buffer = Buffer.alloc(0)): Buffer {
  return Buffer.concat([buf.subarray(0, start), insert, buf.subarray(end)]);
}

/* ------------------------------------------------------------------ samples */

export interface MetaElement {
  tag: number;
  vr: string;
  value: Buffer;
}

export interface Sample {
  /** Path relative to the shared data folder. */
  name: string;
  hadPreamble: boolean;
  meta: MetaElement[];
  /** The data set's transfer syntax (meta, or guessed for files without meta). */
  ts: string;
  /** The data set bytes, inflated when the file is deflated. */
  body: Buffer;
  nodes: LayoutNode[];
  enc: Encoding;
  sopClassUID?: string;
  sopInstanceUID?: string;
  encapsulated: boolean;
  /** Rows, Columns, SamplesPerPixel, BitsAllocated, NumberOfFrames as stored, when present. */
  pixel: { rows?: number; columns?: number; samples?: number; bits?: number; frames?: number };
}

function readMeta(buf: Buffer, start: number): { meta: MetaElement[]; end: number } {
  const meta: MetaElement[] = [];
  let pos = start;
  while (pos + 8 <= buf.length && buf.readUInt16LE(pos) === 0x0002) {
    const t = ((buf.readUInt16LE(pos) << 16) | buf.readUInt16LE(pos + 2)) >>> 0;
    const vr = buf.toString('latin1', pos + 4, pos + 6);
    let len: number;
    let value: number;
    if (LONG_VRS.has(vr)) {
      len = buf.readUInt32LE(pos + 8);
      value = pos + 12;
    } else {
      len = buf.readUInt16LE(pos + 6);
      value = pos + 8;
    }
    meta.push({ tag: t, vr, value: Buffer.from(buf.subarray(value, value + len)) });
    pos = value + len;
  }
  return { meta, end: pos };
}

/** A meta group from its elements, with a group length that fits them (unless one is given). */
export function encodeMeta(meta: MetaElement[], groupLength?: number): Buffer {
  const enc = { littleEndian: true, explicit: true };
  const rest = Buffer.concat(meta.filter((m) => m.tag !== 0x00020000).map((m) => encodeElement(m.tag, m.vr, m.value, enc)));
  return Buffer.concat([encodeElement(0x00020000, 'UL', u32Bytes(groupLength ?? rest.length, true), enc), rest]);
}

export function metaValue(meta: MetaElement[], t: number): string | undefined {
  const m = meta.find((e) => e.tag === t);
  return m ? m.value.toString('latin1').replace(/[\0 ]+$/, '') : undefined;
}

export function setMeta(meta: MetaElement[], t: number, vr: string, value: string | Buffer | undefined): MetaElement[] {
  const out = meta.filter((m) => m.tag !== t);
  if (value !== undefined) out.push({ tag: t, vr, value: typeof value === 'string' ? textValue(value, vr) : value });
  return out.sort((a, b) => a.tag - b.tag);
}

function textOf(body: Buffer, n: LayoutNode | undefined): string | undefined {
  if (!n || n.length === UNDEFINED) return undefined;
  return body.toString('latin1', n.valueOffset, n.valueOffset + n.length).replace(/[\0 ]+$/, '').trim();
}

function usOf(body: Buffer, n: LayoutNode | undefined): number | undefined {
  if (!n || n.length < 2) return undefined;
  return n.enc.littleEndian ? body.readUInt16LE(n.valueOffset) : body.readUInt16BE(n.valueOffset);
}

export function topLevel(s: { nodes: LayoutNode[] }, t: number): LayoutNode | undefined {
  return s.nodes.find((n) => n.kind === 'element' && n.depth === 0 && n.tag === t);
}

export function loadSample(root: string, name: string): Sample {
  const file = fs.readFileSync(`${root}/${name}`);
  let start = 0;
  const hadPreamble = file.length >= 132 && file.toString('latin1', 128, 132) === 'DICM';
  if (hadPreamble) start = 132;
  const { meta, end } = readMeta(file, start);
  let ts = metaValue(meta, Tag.TransferSyntaxUID);
  let raw = file.subarray(end);
  if (!ts) {
    // No meta, or meta without a transfer syntax: explicit if the first element has a VR.
    ts = KNOWN_VRS.has(raw.toString('latin1', 4, 6)) ? (raw.readUInt16LE(0) > 0x00ff ? TS.BigEndian : TS.Explicit) : TS.Implicit;
  }
  const body = ts === TS.Deflated ? zlib.inflateRawSync(raw) : Buffer.from(raw);
  raw = body;
  const enc = encodingOf(ts);
  const nodes = layoutOf(body, enc);
  const s: Sample = { name, hadPreamble, meta, ts, body, nodes, enc, encapsulated: false, pixel: {} };
  s.sopClassUID = textOf(body, topLevel(s, Tag.SOPClassUID));
  s.sopInstanceUID = textOf(body, topLevel(s, Tag.SOPInstanceUID));
  s.encapsulated = topLevel(s, Tag.PixelData)?.length === UNDEFINED;
  const frames = textOf(body, topLevel(s, Tag.NumberOfFrames));
  s.pixel = {
    rows: usOf(body, topLevel(s, Tag.Rows)),
    columns: usOf(body, topLevel(s, Tag.Columns)),
    samples: usOf(body, topLevel(s, Tag.SamplesPerPixel)),
    bits: usOf(body, topLevel(s, Tag.BitsAllocated)),
    frames: frames === undefined ? undefined : Number(frames),
  };
  return s;
}

/* ------------------------------------------------------------------ cases */

export type MutationClass =
  | 'control'
  | 'bitflip'
  | 'truncate'
  | 'length'
  | 'vr'
  | 'counts'
  | 'nesting'
  | 'deflate'
  | 'encapsulation'
  | 'reorder'
  | 'meta';

export const MUTATION_CLASSES: MutationClass[] = ['control', 'bitflip', 'truncate', 'length', 'vr', 'counts', 'nesting', 'deflate', 'encapsulation', 'reorder', 'meta'];

/** What a case must end in, beyond the general rule (a documented failure, or stored intact). */
export type Expectation =
  /** An unmutated sample that stores as it is. */
  | 'stored'
  /** Over a configured limit (size, inflated size, nesting, frames, decoded pixel bytes): A700. */
  | 'A700'
  /** File meta naming another SOP class: A900. */
  | 'A900'
  /** Never stored, whatever the failure (deliberately broken beyond repair). */
  | 'not-stored';

export interface FuzzCase {
  id: number;
  sample: string;
  mutation: MutationClass;
  /** What was done, precisely enough to redo it by hand. */
  detail: string;
  /** The Part 10 file STOW-RS sends. */
  part10: Buffer;
  /** The data set C-STORE sends, in `ts`; absent when the mutation only makes sense in a file. */
  dimse?: { dataset: Buffer; ts: string; sopClassUID: string; sopInstanceUID: string };
  /** The SOP Instance UID the case was given (stored de-identified as mapUid of it). */
  sopInstanceUID?: string;
  expect?: Expectation;
  /** The expectation had the case not been over the instance size limit. */
  expectUnderLimit?: Expectation;
}

/** What one mutation made: a new data set (in the sample's encoding, inflated) or final bytes. */
interface Mutated {
  detail: string;
  body?: Buffer;
  /** Final data set bytes as sent (already deflated or damaged): no re-encoding. */
  encodedBody?: Buffer;
  meta?: MetaElement[];
  /** A meta group given as bytes (damaged beyond what encodeMeta writes). */
  metaBytes?: Buffer;
  preamble?: boolean;
  /** The whole file as bytes, when the mutation works on the file itself. */
  file?: Buffer;
  /** The data set's transfer syntax when the mutation changed it (deflate conversion). */
  ts?: string;
  /** The transfer syntax C-STORE should claim (a wrong label); defaults to ts. */
  dimseTs?: string;
  noDimse?: boolean;
  expect?: Expectation;
}

export interface FuzzOptions {
  maxInstanceBytes: number;
  maxNestingDepth: number;
  maxFrames: number;
  maxDecodedPixelBytes: number;
}

/**
 * The root of every UID the fuzzer makes up: stored instances must never show it, since the
 * gateway remaps every UID it is sent (to 2.25.…).
 */
export const FRESH_UID_ROOT = '1.3.9999.';

/** A new UID of exactly `length` characters, so no offset in the sample moves. */
export function uidOfLength(length: number, rng: Rng): string {
  const prefix = FRESH_UID_ROOT;
  let s = prefix + String(1 + rng.int(9));
  while (s.length < length) s += String(rng.int(10));
  return s.slice(0, Math.max(length, prefix.length + 1));
}

/** The sample with a fresh SOP Instance UID (same length) in the data set and the meta. */
function withFreshUid(s: Sample, rng: Rng): { body: Buffer; meta: MetaElement[]; uid?: string } {
  const node = topLevel(s, Tag.SOPInstanceUID);
  if (!node || !s.sopInstanceUID || s.sopInstanceUID.length < 12) return { body: s.body, meta: s.meta, uid: undefined };
  const uid = uidOfLength(s.sopInstanceUID.length, rng);
  const body = Buffer.from(s.body);
  body.write(uid, node.valueOffset, 'latin1');
  const meta = s.meta.map((m) => (m.tag === Tag.MediaStorageSOPInstanceUID ? { ...m, value: textValue(uid, 'UI') } : m));
  return { body, meta, uid };
}

const NO_DATA = Buffer.alloc(0);
/** Deflated runs of zeros, by size: compressed once each. */
const zeroRuns = new Map<number, Buffer>();

/** A raw deflate stream of `prefix`, then `zeros` zero bytes, then `suffix`. */
export function deflateWithZeros(prefix: Buffer, zeros: number, suffix: Buffer): Buffer {
  // After a full flush a deflate stream is byte-aligned and never refers back, so independently
  // compressed pieces, each ended by a full flush, concatenate into one valid stream.
  const head = zlib.deflateRawSync(prefix, { finishFlush: zlib.constants.Z_FULL_FLUSH });
  let run = zeroRuns.get(zeros);
  if (!run) {
    run = zlib.deflateRawSync(Buffer.alloc(zeros), { finishFlush: zlib.constants.Z_FULL_FLUSH, level: 9 });
    zeroRuns.set(zeros, run);
  }
  return Buffer.concat([head, run, zlib.deflateRawSync(suffix)]);
}

/** Where an element with this tag goes among the data set's own elements. */
function insertionPoint(s: { nodes: LayoutNode[]; body: Buffer }, t: number): number {
  const next = s.nodes.find((n) => n.kind === 'element' && n.depth === 0 && n.tag > t);
  return next ? next.offset : s.body.length;
}

function nodesOf(s: Sample, pred: (n: LayoutNode) => boolean): LayoutNode[] {
  return s.nodes.filter(pred);
}

function writeLength(body: Buffer, n: LayoutNode, v: number): void {
  if (n.lengthSize === 2) {
    if (n.enc.littleEndian) body.writeUInt16LE(v & 0xffff, n.lengthOffset);
    else body.writeUInt16BE(v & 0xffff, n.lengthOffset);
  } else if (n.enc.littleEndian) body.writeUInt32LE(v >>> 0, n.lengthOffset);
  else body.writeUInt32BE(v >>> 0, n.lengthOffset);
}

function writeUs(body: Buffer, n: LayoutNode, v: number): void {
  if (n.enc.littleEndian) body.writeUInt16LE(v, n.valueOffset);
  else body.writeUInt16BE(v, n.valueOffset);
}

/** Replace (or insert) an element of the data set itself. */
function putTopLevel(s: Sample, body: Buffer, nodes: LayoutNode[], t: number, vr: string, value: Buffer): Buffer {
  const existing = nodes.find((n) => n.kind === 'element' && n.depth === 0 && n.tag === t);
  const el = encodeElement(t, vr, value, s.enc);
  if (existing) return splice(body, existing.offset, existing.end, el);
  return splice(body, insertionPoint({ nodes, body }, t), insertionPoint({ nodes, body }, t), el);
}

/** A sequence nested `depth` levels deep, each item holding one short text element and the next level. */
export function nestedSequence(t: number, depth: number, enc: Encoding, style: 'undefined' | 'defined' | 'unterminated' | 'un-wrapped'): Buffer {
  const inner: Encoding = style === 'un-wrapped' ? { littleEndian: true, explicit: false } : enc;
  const le = inner.littleEndian;
  const leaf = encodeElement(0x00080100, 'SH', textValue('FUZZ', 'SH'), inner);
  if (style === 'defined') {
    const sqHeader = encodeElement(t, 'SQ', NO_DATA, inner).length;
    // size(level k) = header + item header + leaf + size(level k-1)
    const sizes = [0];
    for (let k = 1; k <= depth; k++) sizes.push(sqHeader + 8 + leaf.length + sizes[k - 1]);
    const parts: Buffer[] = [];
    for (let k = depth; k >= 1; k--) {
      const itemLength = leaf.length + sizes[k - 1];
      parts.push(encodeElement(t, 'SQ', NO_DATA, inner, 8 + itemLength), itemHeader(itemLength, le), leaf);
    }
    return Buffer.concat(parts);
  }
  const open = Buffer.concat([encodeElement(t, 'SQ', NO_DATA, inner, UNDEFINED), itemHeader(UNDEFINED, le), leaf]);
  const close = Buffer.concat([delimiter(ITEM_DELIM, le), delimiter(SEQ_DELIM, le)]);
  const parts: Buffer[] = [];
  for (let k = 0; k < depth; k++) parts.push(open);
  if (style !== 'unterminated') for (let k = 0; k < depth; k++) parts.push(close);
  let out = Buffer.concat(parts);
  if (style === 'un-wrapped') {
    // The outermost level written as an explicit UN of undefined length (PS3.5 6.2.2), implicit inside.
    const outerHeader = encodeElement(t, 'UN', NO_DATA, enc, UNDEFINED);
    out = Buffer.concat([outerHeader, out.subarray(8)]);
  }
  return out;
}

const PRIVATE_GROUP = 0x0ff1;
const PRIVATE_CREATOR = (PRIVATE_GROUP << 16) | 0x0010;
const PRIVATE_SQ = (PRIVATE_GROUP << 16) | 0x1010;
const PRIVATE_OB = (PRIVATE_GROUP << 16) | 0x1020;

/** Insert private elements (creator first) into a data set, in tag order. */
function insertPrivate(s: Sample, body: Buffer, nodes: LayoutNode[], elements: Buffer): Buffer {
  const creator = encodeElement(PRIVATE_CREATOR, 'LO', textValue('VEILGATE FUZZ', 'LO'), s.enc);
  const at = insertionPoint({ nodes, body }, PRIVATE_CREATOR);
  return splice(body, at, at, Buffer.concat([creator, elements]));
}

type MutationFn = (s: Sample, base: { body: Buffer; meta: MetaElement[] }, rng: Rng, o: FuzzOptions) => Mutated | undefined;

function headerBytesOf(n: LayoutNode): [number, number] {
  return [n.offset, n.valueOffset];
}

const bitflip: MutationFn = (s, base, rng) => {
  const body = Buffer.from(base.body);
  const flips = rng.range(1, 8);
  const where: string[] = [];
  const headers = s.nodes;
  for (let i = 0; i < flips; i++) {
    let pos: number;
    if (headers.length && rng.chance(0.5)) {
      const [a, b] = headerBytesOf(rng.pick(headers));
      pos = a + rng.int(b - a);
    } else pos = rng.int(body.length);
    const bit = rng.int(8);
    body[pos] ^= 1 << bit;
    where.push(`${pos}:${bit}`);
  }
  return { detail: `flip bits (byte:bit) ${where.join(' ')}`, body };
};

const truncate: MutationFn = (s, base, rng) => {
  const body = base.body;
  const way = rng.int(5);
  let at: number;
  let how: string;
  if (way === 0) {
    at = rng.int(body.length);
    how = 'at a random byte';
  } else if (way === 1 && s.nodes.length) {
    const n = rng.pick(s.nodes);
    at = Math.min(body.length - 1, n.offset + rng.int(Math.max(1, n.valueOffset - n.offset)));
    how = `inside the header of ${n.kind} ${tagName(n.tag)}`;
  } else if (way === 2 && s.nodes.length) {
    const n = rng.pick(s.nodes.filter((x) => x.kind === 'element' && x.length !== UNDEFINED && x.length > 2) ?? s.nodes);
    if (!n) return undefined;
    at = n.valueOffset + 1 + rng.int(Math.max(1, n.length - 1));
    how = `inside the value of ${tagName(n.tag)}`;
  } else if (way === 3) {
    at = body.length - rng.range(1, 8);
    how = 'in the last 8 bytes';
  } else {
    const pd = topLevel(s, Tag.PixelData);
    if (!pd) return undefined;
    at = pd.offset + rng.int(pd.end - pd.offset);
    how = 'inside the pixel data';
  }
  at = Math.max(0, Math.min(at, body.length - 1));
  // README: "a value that runs past the end of the file is an error, never a shorter instance".
  // A cut strictly inside an element of the data set leaves such a value (or a broken header),
  // unless what is left of it is under 8 zero bytes (read as trailing padding).
  const cutInside = s.nodes.find((n) => n.kind === 'element' && n.depth === 0 && n.offset < at && at < n.end);
  const left = cutInside ? body.subarray(cutInside.offset, at) : undefined;
  const broken = !!left && (left.length >= 8 || left.some((b) => b !== 0));
  return { detail: `truncate data set at byte ${at} of ${body.length} (${how})`, body: body.subarray(0, at), expect: broken ? 'not-stored' : undefined };
};

const LENGTH_VALUES = (n: LayoutNode, remaining: number): [string, number][] => [
  ['0', 0],
  ['+1', n.length + 1],
  ['-1', n.length - 1],
  ['+2', n.length + 2],
  ['x2', n.length * 2],
  ['0xFFFFFFF0', 0xfffffff0],
  ['0x7FFFFFFF', 0x7fffffff],
  ['0x80000000', 0x80000000],
  ['undefined 0xFFFFFFFF', UNDEFINED],
  ['rest of the data set', remaining],
  ['rest + 8', remaining + 8],
  ['odd 0xFFFF', 0xffff],
];

const lengthField: MutationFn = (s, base, rng) => {
  const groups: [string, LayoutNode[]][] = [
    ['element', nodesOf(s, (n) => n.kind === 'element' && n.length !== UNDEFINED)],
    ['sequence', nodesOf(s, (n) => n.kind === 'element' && (n.vr === 'SQ' || n.length === UNDEFINED) && n.tag !== Tag.PixelData)],
    ['item', nodesOf(s, (n) => n.kind === 'item')],
    ['delimiter', nodesOf(s, (n) => n.kind === 'item-delim' || n.kind === 'seq-delim')],
  ].filter(([, list]) => (list as LayoutNode[]).length > 0) as [string, LayoutNode[]][];
  if (!groups.length) return undefined;
  const [what, list] = rng.pick(groups);
  const n = rng.pick(list);
  const [label, v] = rng.pick(LENGTH_VALUES(n, base.body.length - n.valueOffset));
  const body = Buffer.from(base.body);
  writeLength(body, n, v);
  return { detail: `${what} length of ${n.kind} ${tagName(n.tag)} at byte ${n.offset} (depth ${n.depth}) ${n.length === UNDEFINED ? 'undefined' : n.length} -> ${label}`, body };
};

const VR_CHOICES = ['US', 'UL', 'SS', 'OB', 'OW', 'UN', 'SQ', 'UT', 'UI', 'CS', 'DS', 'FD', 'AT', 'ZZ', 'ox', '\0\0', 'S Q'];

/** Elements de-identification must act on, whatever VR they arrive with. */
const IDENTIFYING = new Set([Tag.SOPInstanceUID, Tag.StudyInstanceUID, Tag.SeriesInstanceUID, 0x00100010, 0x00100020, 0x00100030, 0x00080020, 0x00080050, 0x00200052]);

const vrSwap: MutationFn = (s, base, rng) => {
  if (!s.enc.explicit) return undefined;
  const all = nodesOf(s, (n) => n.kind === 'element' && n.vrOffset !== undefined && n.enc.explicit);
  const identifying = all.filter((n) => IDENTIFYING.has(n.tag as never) && n.depth === 0);
  const candidates = identifying.length && rng.chance(0.25) ? identifying : all;
  if (!candidates.length) return undefined;
  const n = rng.pick(candidates);
  const to = rng.pick(VR_CHOICES.filter((v) => v !== n.vr)).slice(0, 2).padEnd(2, ' ');
  const body = Buffer.from(base.body);
  body.write(to, n.vrOffset!, 'latin1');
  return { detail: `VR of ${tagName(n.tag)} at byte ${n.offset} ${n.vr} -> ${JSON.stringify(to)}`, body };
};

const counts: MutationFn = (s, base, rng, o) => {
  const nodes = layoutOf(base.body, s.enc);
  const p = s.pixel;
  const way = rng.int(7);
  const body = Buffer.from(base.body);
  const usNode = (t: number) => nodes.find((n) => n.kind === 'element' && n.depth === 0 && n.tag === t && n.length >= 2);
  let frames = p.frames ?? 1;
  let rows = p.rows ?? 0;
  let columns = p.columns ?? 0;
  let bits = p.bits ?? 0;
  const samples = p.samples ?? 1;
  let detail: string;
  let out: Buffer = body;
  if (way === 0 || way === 1) {
    const value = way === 0 ? '12000000' : rng.pick(['0', '-1', '2147483648', '1e9', 'abc', '', '999999999999', String((p.frames ?? 1) + 1), '+3']);
    out = putTopLevel(s, body, nodes, Tag.NumberOfFrames, 'IS', textValue(value, 'IS'));
    // Only a well-formed IS (digits) has a number to hold the limit against.
    frames = /^\d+$/.test(value) ? Number(value) : NaN;
    detail = `NumberOfFrames = "${value}"`;
  } else if (way === 2 || way === 3) {
    const both = way === 3;
    const r = usNode(Tag.Rows);
    const c = usNode(Tag.Columns);
    if (!r || !c) return undefined;
    writeUs(out, r, 65535);
    rows = 65535;
    if (both) {
      writeUs(out, c, 65535);
      columns = 65535;
    }
    detail = both ? 'Rows = Columns = 65535' : 'Rows = 65535';
  } else if (way === 4) {
    const b = usNode(Tag.BitsAllocated);
    if (!b) return undefined;
    bits = rng.pick([0, 1, 3, 7, 9, 11, 15, 17, 31, 33, 63, 65535]);
    writeUs(out, b, bits);
    detail = `BitsAllocated = ${bits}`;
  } else if (way === 5) {
    // Everything at once: a tiny upload declaring an enormous image.
    const r = usNode(Tag.Rows);
    const c = usNode(Tag.Columns);
    if (!r || !c) return undefined;
    writeUs(out, r, 65535);
    writeUs(out, c, 65535);
    rows = columns = 65535;
    out = putTopLevel(s, out, layoutOf(out, s.enc), Tag.NumberOfFrames, 'IS', textValue('12000000', 'IS'));
    frames = 12000000;
    detail = 'Rows = Columns = 65535, NumberOfFrames = 12000000';
  } else {
    const sp = usNode(Tag.SamplesPerPixel);
    if (!sp) return undefined;
    const v = rng.pick([0, 2, 3, 4, 65535]);
    writeUs(out, sp, v);
    detail = `SamplesPerPixel = ${v}`;
    const decoded = Math.ceil((rows * columns * v * bits * (frames || 1)) / 8);
    return { detail, body: out, expect: topLevel(s, Tag.PixelData) && decoded > o.maxDecodedPixelBytes ? 'A700' : undefined };
  }
  const hasPixels = !!topLevel(s, Tag.PixelData);
  const decoded = Math.ceil((rows * columns * samples * bits * (Number.isInteger(frames) && frames > 0 ? frames : 1)) / 8);
  const overFrames = Number.isInteger(frames) && frames > o.maxFrames;
  return { detail, body: out, expect: hasPixels && (overFrames || decoded > o.maxDecodedPixelBytes) ? 'A700' : undefined };
};

const nesting: MutationFn = (s, base, rng, o) => {
  const nodes = layoutOf(base.body, s.enc);
  const depth = rng.pick([2, o.maxNestingDepth - 1, o.maxNestingDepth, o.maxNestingDepth + 1, 64, 1000, 5000, 20000]);
  const styles: ('undefined' | 'defined' | 'unterminated' | 'un-wrapped')[] = s.enc.explicit && s.enc.littleEndian ? ['undefined', 'defined', 'unterminated', 'un-wrapped'] : ['undefined', 'defined', 'unterminated'];
  const style = rng.pick(styles);
  const where = rng.pick(['private', 'ReferencedImageSequence', 'ContentSequence']);
  const t = where === 'private' ? PRIVATE_SQ : where === 'ReferencedImageSequence' ? 0x00081140 : 0x0040a730;
  const seq = nestedSequence(t, depth, s.enc, style);
  let body: Buffer;
  if (where === 'private') body = insertPrivate(s, base.body, nodes, seq);
  else {
    const existing = nodes.find((n) => n.kind === 'element' && n.depth === 0 && n.tag === t);
    body = existing ? splice(base.body, existing.offset, existing.end, seq) : splice(base.body, insertionPoint({ nodes, body: base.body }, t), insertionPoint({ nodes, body: base.body }, t), seq);
  }
  // Each nested sequence is one level. A private element of defined length in implicit VR has no
  // VR to say it is a sequence: it is an opaque value, so no nesting limit applies to it.
  const opaque = where === 'private' && !s.enc.explicit && style === 'defined';
  const over = depth > o.maxNestingDepth && !opaque;
  const expect: Expectation | undefined = style === 'unterminated' ? 'not-stored' : over && body.length <= o.maxInstanceBytes ? 'A700' : over ? 'not-stored' : undefined;
  return { detail: `${where} sequence nested ${depth} levels (${style} lengths), ${seq.length} bytes`, body, expect };
};

const deflate: MutationFn = (s, base, rng, o) => {
  // Any explicit little endian sample can be sent deflated; its meta must say so.
  if (!(s.ts === TS.Deflated || s.ts === TS.Explicit)) return undefined;
  const meta = setMeta(base.meta, Tag.TransferSyntaxUID, 'UI', TS.Deflated);
  const way = rng.int(9);
  const deflated = zlib.deflateRawSync(base.body);
  const nodes = layoutOf(base.body, s.enc);
  if (way <= 2) {
    // Deflate bombs: valid deflate of a data set that inflates past the instance limit.
    const zeros = way === 0 ? o.maxInstanceBytes + 1024 : way === 1 ? 4 * o.maxInstanceBytes : 64 * 1024 * 1024;
    const at = insertionPoint({ nodes, body: base.body }, PRIVATE_CREATOR);
    const creator = encodeElement(PRIVATE_CREATOR, 'LO', textValue('VEILGATE FUZZ', 'LO'), s.enc);
    const header = encodeElement(PRIVATE_OB, 'OB', NO_DATA, s.enc, zeros);
    const encodedBody = deflateWithZeros(Buffer.concat([base.body.subarray(0, at), creator, header]), zeros, base.body.subarray(at));
    return { detail: `deflate bomb: ${encodedBody.length} deflated bytes inflate to ${base.body.length + zeros + creator.length + header.length}`, encodedBody, meta, ts: TS.Deflated, expect: 'A700' };
  }
  const bytes = Buffer.from(deflated);
  let detail: string;
  let expect: Expectation | undefined;
  let encodedBody: Buffer;
  if (way === 3) {
    const flips: string[] = [];
    for (let i = rng.range(1, 6); i > 0; i--) {
      const pos = rng.int(bytes.length);
      const bit = rng.int(8);
      bytes[pos] ^= 1 << bit;
      flips.push(`${pos}:${bit}`);
    }
    encodedBody = bytes;
    detail = `flip bits of the deflate stream (byte:bit) ${flips.join(' ')}`;
  } else if (way === 4) {
    const at = rng.int(bytes.length);
    encodedBody = bytes.subarray(0, at);
    detail = `deflate stream cut at byte ${at} of ${bytes.length}`;
    expect = 'not-stored';
  } else if (way === 5) {
    encodedBody = Buffer.concat([bytes, Buffer.from(Array.from({ length: rng.range(1, 64) }, () => rng.int(256)))]);
    detail = 'garbage after the end of the deflate stream';
  } else if (way === 6) {
    encodedBody = zlib.deflateSync(base.body); // zlib header and trailer: not raw deflate
    detail = 'zlib-wrapped (RFC 1950) instead of raw deflate';
  } else if (way === 7) {
    // A stored block whose LEN/NLEN disagree.
    const block = base.body.subarray(0, Math.min(base.body.length, 60000));
    const header = Buffer.from([0x01, block.length & 0xff, block.length >> 8, ~block.length & 0xff, (~block.length >> 8) & 0xff]);
    header[3] ^= 0x10;
    encodedBody = Buffer.concat([header, block]);
    detail = 'stored deflate block with LEN and NLEN disagreeing';
    expect = 'not-stored';
  } else {
    // Deflated twice: inflates once to deflate data, which is no data set.
    encodedBody = zlib.deflateRawSync(deflated);
    detail = 'deflated twice';
    expect = 'not-stored';
  }
  return { detail, encodedBody, meta, ts: TS.Deflated, expect };
};

const encapsulation: MutationFn = (s, base, rng) => {
  if (!s.encapsulated) return undefined;
  const nodes = layoutOf(base.body, s.enc);
  const pd = nodes.find((n) => n.kind === 'element' && n.depth === 0 && n.tag === Tag.PixelData);
  const frags = nodes.filter((n) => n.kind === 'fragment' && n.depth === 1);
  const delim = nodes.find((n) => n.kind === 'seq-delim' && n.depth === 1 && pd && n.offset >= pd.offset && n.offset < pd.end);
  if (!pd || !frags.length) return undefined;
  const le = s.enc.littleEndian;
  const body = Buffer.from(base.body);
  const bot = frags[0];
  const data = frags.slice(1);
  const way = rng.int(10);
  if (way === 0 && data.length) {
    const f = rng.pick(data);
    const [label, v] = rng.pick<[string, number]>([['+1', f.length + 1], ['-1', f.length - 1], ['0xFFFFFFF0', 0xfffffff0], ['undefined', UNDEFINED], ['x2', f.length * 2], ['0', 0]]);
    writeLength(body, f, v);
    return { detail: `fragment at byte ${f.offset} length ${f.length} -> ${label}`, body };
  }
  if (way === 1) {
    // A Basic Offset Table pointing outside the fragments.
    const entries = Math.max(1, s.pixel.frames ?? 1);
    const table = Buffer.concat(Array.from({ length: entries }, (_, i) => u32Bytes(i === 0 ? 0 : 0x7ffffff0 + i, le)));
    if (rng.chance(0.5)) table.writeUInt32LE(0xfffffff0, 0); // the first frame too
    const item = Buffer.concat([itemHeader(table.length, le), table]);
    return { detail: `Basic Offset Table of ${entries} entries pointing outside the pixel data`, body: splice(body, bot.offset, bot.end, item) };
  }
  if (way === 2) {
    const entries = rng.range(1, 6);
    const table = Buffer.alloc(entries * 4 + rng.pick([0, 1, 2, 3]));
    for (let i = 0; i < entries; i++) table.writeUInt32LE(rng.pick([0, 1, 3, 0xffffffff, (data[0]?.length ?? 0) + 8, i * 1000]), i * 4);
    return { detail: `Basic Offset Table replaced by ${table.length} bytes of odd entries`, body: splice(body, bot.offset, bot.end, Buffer.concat([itemHeader(table.length, le), table])) };
  }
  if (way === 3 && delim) {
    return { detail: 'sequence delimiter of the pixel data removed', body: splice(body, delim.offset, delim.end), expect: pd.end >= body.length ? 'not-stored' : undefined };
  }
  if (way === 4 && delim) {
    return { detail: 'sequence delimiter of the pixel data replaced by an item delimiter', body: splice(body, delim.offset, delim.end, delimiter(ITEM_DELIM, le)), expect: 'not-stored' };
  }
  if (way === 5) {
    return { detail: 'Basic Offset Table item removed (first item is a fragment)', body: splice(body, bot.offset, bot.end) };
  }
  if (way === 6) {
    const extra = Buffer.concat([itemHeader(rng.pick([0, 2, 10]), le)]);
    const len = le ? extra.readUInt32LE(4) : extra.readUInt32BE(4);
    const at = rng.pick(frags).end;
    return { detail: `extra fragment of ${len} bytes inserted at byte ${at}`, body: splice(body, at, at, Buffer.concat([extra, Buffer.alloc(len, 0xab)])) };
  }
  if (way === 7) {
    // Pixel data with a defined length though encapsulated: fragments become its value.
    writeLength(body, pd, pd.end - pd.valueOffset);
    return { detail: 'encapsulated Pixel Data given a defined length', body };
  }
  if (way === 8 && data.length) {
    const f = rng.pick(data);
    body.writeUInt16LE(0xfffe, f.offset);
    body.writeUInt16LE(rng.pick([0xe00d, 0xe0dd, 0x0010]), f.offset + 2);
    return { detail: `fragment tag at byte ${f.offset} replaced`, body };
  }
  // NumberOfFrames more than there are fragments.
  const value = String(data.length + rng.range(1, 5));
  return { detail: `NumberOfFrames = ${value} for ${data.length} fragment(s)`, body: putTopLevel(s, body, nodes, Tag.NumberOfFrames, 'IS', textValue(value, 'IS')), expect: 'not-stored' };
};

const reorder: MutationFn = (s, base, rng) => {
  const nodes = layoutOf(base.body, s.enc);
  const top = nodes.filter((n) => n.kind === 'element' && n.depth === 0);
  if (top.length < 3) return undefined;
  const body = base.body;
  const way = rng.int(7);
  if (way === 0) {
    const n = rng.pick(top);
    return { detail: `${tagName(n.tag)} duplicated in place`, body: splice(body, n.end, n.end, body.subarray(n.offset, n.end)) };
  }
  if (way === 1) {
    const i = rng.int(top.length - 1);
    const a = top[i];
    const b = top[i + 1];
    return { detail: `${tagName(a.tag)} and ${tagName(b.tag)} swapped`, body: Buffer.concat([body.subarray(0, a.offset), body.subarray(b.offset, b.end), body.subarray(a.offset, a.end), body.subarray(b.end)]) };
  }
  if (way === 2) {
    const pd = top.find((n) => n.tag === Tag.PixelData) ?? top[top.length - 1];
    const rest = Buffer.concat([body.subarray(0, pd.offset), body.subarray(pd.end)]);
    const first = top[0].end;
    return { detail: `${tagName(pd.tag)} moved to the front`, body: Buffer.concat([rest.subarray(0, first), body.subarray(pd.offset, pd.end), rest.subarray(first)]) };
  }
  if (way === 3) {
    return { detail: 'every element of the data set in reverse order', body: Buffer.concat([...top].reverse().map((n) => body.subarray(n.offset, n.end))) };
  }
  if (way === 4) {
    // A second SOP Instance UID after the data set's own (a different value).
    const uidNode = top.find((n) => n.tag === Tag.SOPInstanceUID);
    if (!uidNode) return undefined;
    const other = encodeElement(Tag.SOPInstanceUID, 'UI', textValue(uidOfLength(uidNode.length > 30 ? uidNode.length - 2 : 30, rng), 'UI'), s.enc);
    const at = rng.chance(0.5) ? uidNode.end : body.length;
    return { detail: `a second SOPInstanceUID element ${at === uidNode.end ? 'right after the first' : 'at the end'}`, body: splice(body, at, at, other) };
  }
  if (way === 5) {
    const items = nodes.filter((n) => n.kind === 'item' && n.end > n.offset);
    if (!items.length) return undefined;
    const it = rng.pick(items);
    return { detail: `sequence item at byte ${it.offset} (depth ${it.depth}) duplicated`, body: splice(body, it.end, it.end, body.subarray(it.offset, it.end)) };
  }
  const inner = nodes.filter((n) => n.kind === 'element' && n.depth > 0);
  if (!inner.length) return undefined;
  const n = rng.pick(inner);
  return { detail: `nested ${tagName(n.tag)} at byte ${n.offset} (depth ${n.depth}) duplicated in its item`, body: splice(body, n.end, n.end, body.subarray(n.offset, n.end)) };
};

const metaDamage: MutationFn = (s, base, rng) => {
  if (!base.meta.length) return undefined;
  const way = rng.int(14);
  const body = base.body;
  const tsUid = (uid: string | undefined) => setMeta(base.meta, Tag.TransferSyntaxUID, 'UI', uid);
  switch (way) {
    case 0:
      return { detail: 'no preamble and no DICM prefix before the meta group', body, preamble: false };
    case 1:
      return { detail: 'file meta group removed (preamble, DICM, then the data set)', body, meta: [], dimseTs: undefined };
    case 2: {
      const wrong = rng.pick([0, 4, 0xffff, 0xffffffff, encodeMeta(base.meta).length + 100]);
      return { detail: `meta group length ${wrong}`, body, metaBytes: encodeMeta(base.meta, wrong) };
    }
    case 3: {
      const uid = rng.pick(['1.2.3.4.5.6', '', '1.2.840.10008.1.2.4.999', 'not a uid', '1.2.840.10008.1.2.1.'.padEnd(70, '9')]);
      // Not for C-STORE: an unknown syntax is refused at association, not per instance.
      return { detail: `TransferSyntaxUID "${uid.slice(0, 30)}"`, body, meta: tsUid(uid), noDimse: true };
    }
    case 4: {
      // A real syntax, but not the one the data set is in.
      const other = rng.pick([TS.Implicit, TS.Explicit, TS.BigEndian, TS.Deflated, TS.JpegBaseline, TS.Rle].filter((t) => t !== s.ts));
      return { detail: `TransferSyntaxUID says ${other}, data set is ${s.ts}`, body, meta: tsUid(other), dimseTs: other };
    }
    case 5:
      return { detail: 'TransferSyntaxUID removed from the meta group', body, meta: tsUid(undefined), noDimse: true };
    case 6:
      return {
        detail: 'MediaStorageSOPClassUID names another SOP class',
        body,
        meta: setMeta(base.meta, Tag.MediaStorageSOPClassUID, 'UI', s.sopClassUID === '1.2.840.10008.5.1.4.1.1.4' ? '1.2.840.10008.5.1.4.1.1.2' : '1.2.840.10008.5.1.4.1.1.4'),
        noDimse: true,
        expect: s.sopClassUID ? 'A900' : undefined,
      };
    case 7:
      return { detail: 'MediaStorageSOPInstanceUID differs from SOPInstanceUID', body, meta: setMeta(base.meta, Tag.MediaStorageSOPInstanceUID, 'UI', uidOfLength(40, rng)), noDimse: true };
    case 8: {
      const m = encodeMeta(base.meta);
      const ts = m.indexOf(Buffer.from([0x02, 0x00, 0x10, 0x00]));
      if (ts < 0) return undefined;
      m.writeUInt16LE(rng.pick([0, 1, 0xffff, 200]), ts + 6);
      return { detail: 'length of TransferSyntaxUID in the meta corrupted', body, metaBytes: m, noDimse: true };
    }
    case 9: {
      const m = encodeMeta(base.meta);
      return { detail: 'DICM prefix misspelt', body, file: Buffer.concat([Buffer.alloc(128), Buffer.from('DICN'), m, body]), noDimse: true };
    }
    case 10: {
      // The meta group written in implicit VR.
      const implicit = Buffer.concat(base.meta.filter((e) => e.tag !== 0x00020000).map((e) => encodeElement(e.tag, e.vr, e.value, { littleEndian: true, explicit: false })));
      return { detail: 'file meta group in implicit VR', body, metaBytes: Buffer.concat([encodeElement(0x00020000, 'UL', u32Bytes(implicit.length, true), { littleEndian: true, explicit: false }), implicit]), noDimse: true };
    }
    case 11: {
      const m = encodeMeta(base.meta);
      const cut = rng.range(1, m.length - 1);
      return { detail: `file meta group cut at byte ${cut} of ${m.length}, data set follows`, body, metaBytes: m.subarray(0, cut), noDimse: true };
    }
    case 12: {
      // The file ends inside the meta group.
      const m = encodeMeta(base.meta);
      const cut = rng.range(0, m.length - 1);
      return { detail: `file ends at byte ${cut} of the meta group`, body: Buffer.alloc(0), metaBytes: m.subarray(0, cut), noDimse: true, expect: 'not-stored' };
    }
    default: {
      // A meta element repeated in the data set (group 0002 outside the meta).
      const ts = base.meta.find((e) => e.tag === Tag.TransferSyntaxUID);
      if (!ts) return undefined;
      return { detail: 'TransferSyntaxUID repeated at the start of the data set', body: Buffer.concat([encodeElement(ts.tag, 'UI', ts.value, s.enc), body]), noDimse: true };
    }
  }
};

const MUTATORS: Record<Exclude<MutationClass, 'control'>, MutationFn> = {
  bitflip,
  truncate,
  length: lengthField,
  vr: vrSwap,
  counts,
  nesting,
  deflate,
  encapsulation,
  reorder,
  meta: metaDamage,
};

/** Which samples a class can work on. */
export function applicable(s: Sample, m: MutationClass): boolean {
  switch (m) {
    case 'vr':
      return s.enc.explicit;
    case 'deflate':
      return s.ts === TS.Deflated || s.ts === TS.Explicit;
    case 'encapsulation':
      return s.encapsulated;
    case 'counts':
      return !!topLevel(s, Tag.PixelData);
    case 'meta':
      return s.meta.length > 0;
    default:
      return true;
  }
}

/** Build one case: a fresh SOP Instance UID, then the mutation. Undefined when the mutation does not apply. */
export function makeCase(id: number, s: Sample, m: MutationClass, rng: Rng, o: FuzzOptions): FuzzCase | undefined {
  const fresh = withFreshUid(s, rng);
  const base = { body: fresh.body, meta: fresh.meta };
  const mutated: Mutated | undefined = m === 'control' ? { detail: 'unmutated, fresh SOP Instance UID', body: base.body } : MUTATORS[m](s, base, rng, o);
  if (!mutated) return undefined;
  const ts = mutated.ts ?? s.ts;
  const meta = mutated.meta ?? base.meta;
  const body = mutated.body ?? base.body;
  const encodedBody = mutated.encodedBody ?? (ts === TS.Deflated ? zlib.deflateRawSync(body) : body);
  const preamble = mutated.preamble ?? true;
  const metaBytes = mutated.metaBytes ?? (meta.length ? encodeMeta(meta) : Buffer.alloc(0));
  const part10 =
    mutated.file ?? Buffer.concat([preamble && (metaBytes.length || s.hadPreamble || m === 'meta') ? Buffer.concat([Buffer.alloc(128), Buffer.from('DICM')]) : Buffer.alloc(0), metaBytes, encodedBody]);
  const dimseTs = 'dimseTs' in mutated ? mutated.dimseTs : ts;
  const dimse =
    mutated.noDimse || !dimseTs
      ? undefined
      : { dataset: encodedBody, ts: dimseTs, sopClassUID: s.sopClassUID ?? '1.2.826.0.1.3680043.9.7433.1.1', sopInstanceUID: fresh.uid ?? uidOfLength(40, rng) };
  const expectUnderLimit = m === 'control' ? undefined : mutated.expect; // a control's is set by the caller from the baseline
  // The size limit is checked before anything is parsed.
  const expect = part10.length > o.maxInstanceBytes ? 'A700' : expectUnderLimit;
  return { id, sample: s.name, mutation: m, detail: mutated.detail, part10, dimse, sopInstanceUID: fresh.uid, expect, expectUnderLimit };
}

/** Native syntaxes (no encapsulated pixel data expected). */
export function isNative(ts: string): boolean {
  return NATIVE.has(ts);
}
