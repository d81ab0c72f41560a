/**
 * A tolerant DICOM reader (PS3.5 section 7, PS3.10 section 7): Part 10 files with or
 * without preamble and meta information, implicit/explicit VR, little/big endian and
 * deflate, sequences of defined and undefined length, UN-encoded sequences, and
 * encapsulated pixel data. Values end up as little-endian bytes in the Dataset model.
 * Anything it cannot make sense of, or a value running past the end, is a DicomParseError:
 * a truncated file is never taken for a whole one. Neither is a malformed one: an item or
 * delimiter-group tag where an element should be, or lengths that do not nest (PS3.5 7.5),
 * mean the reader no longer knows where elements start, so it refuses rather than guess.
 * Stray delimiters (no value, and some writers emit them) are skipped. An explicit VR the
 * dictionary contradicts is read as the dictionary VR when the bytes allow it (vr-check.ts).
 */
import { inflateRawSync } from 'node:zlib';
import { Dataset, DataElement, Tag, tag, elementOf, isPrivateTag, tagHex } from './dataset';
import { Tags } from './tags';
import { hasLongLength, isKnownVr, swapWidth } from './vr';
import { implicitVr, lookup } from './dictionary';
import { TS } from './transfer-syntax';
import { dictionaryReading } from './vr-check';

export class DicomParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DicomParseError';
  }
}

/** A data set that would exceed a configured bound (inflated size, nesting depth): refused before it costs more. */
export class DicomLimitError extends DicomParseError {
  constructor(message: string) {
    super(message);
    this.name = 'DicomLimitError';
  }
}

/** Deeper than any real data set; the ingest path sets its own, lower bound (limits.maxNestingDepth). */
export const DEFAULT_MAX_DEPTH = 256;

export interface ParsedFile {
  /** File meta information (group 0002) as read; empty when the file had none. */
  meta: Dataset;
  dataset: Dataset;
  /** The transfer syntax the data set was declared in (pixel data is encoded in it). */
  transferSyntaxUID: string;
  /** The data set's VR encoding contradicted the declared transfer syntax and was read as it really is. */
  repairedEncoding: boolean;
}

export interface ParseOptions {
  /** Upper bound for the inflated size of a deflated data set (zip-bomb guard). */
  maxInflatedBytes?: number;
  /** Deepest sequence nesting read (each sequence item is one level): deeper is a DicomLimitError. */
  maxDepth?: number;
}

const UNDEFINED_LENGTH = 0xffffffff;

class Reader {
  readonly view: DataView;
  pos = 0;
  pixelRepresentation: number | undefined;
  /** Sequence nesting at the current position, and the most allowed. */
  depth = 0;
  maxDepth = DEFAULT_MAX_DEPTH;

  constructor(
    readonly bytes: Uint8Array,
    readonly littleEndian: boolean,
    readonly explicit: boolean,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  need(n: number, what: string): void {
    if (this.pos + n > this.bytes.length) {
      throw new DicomParseError(`truncated: ${what} at byte ${this.pos} needs ${n} bytes, ${this.bytes.length - this.pos} left`);
    }
  }

  u16(): number {
    this.need(2, 'value');
    const v = this.view.getUint16(this.pos, this.littleEndian);
    this.pos += 2;
    return v;
  }

  u32(): number {
    this.need(4, 'value');
    const v = this.view.getUint32(this.pos, this.littleEndian);
    this.pos += 4;
    return v;
  }

  take(n: number, what: string): Uint8Array {
    this.need(n, what);
    const v = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  /** A reader over the same bytes with another encoding (UN sequences are implicit VR LE). */
  withEncoding(littleEndian: boolean, explicit: boolean): Reader {
    const r = new Reader(this.bytes, littleEndian, explicit);
    r.pos = this.pos;
    r.pixelRepresentation = this.pixelRepresentation;
    r.depth = this.depth;
    r.maxDepth = this.maxDepth;
    return r;
  }
}

/** Elements read as their dictionary VR rather than the one they were sent with. */
const coerced = new WeakSet<DataElement>();

/** Whether the parser read this element as its dictionary VR, not as the VR it was sent with (a coercion to report). */
export function wasCoerced(el: DataElement): boolean {
  return coerced.has(el);
}

function describe(t: Tag): string {
  return `(${tagHex(t).slice(0, 4)},${tagHex(t).slice(4)})`;
}

function toLittleEndian(value: Uint8Array, vr: string): Uint8Array {
  const width = swapWidth(vr);
  if (width === 1) return value;
  const out = new Uint8Array(value.length);
  const whole = value.length - (value.length % width);
  for (let i = 0; i < whole; i += width) {
    for (let j = 0; j < width; j++) out[i + j] = value[i + width - 1 - j];
  }
  out.set(value.subarray(whole), whole);
  return out;
}

function readFragments(r: Reader): Uint8Array[] {
  const fragments: Uint8Array[] = [];
  for (;;) {
    const t = tag(r.u16(), r.u16());
    const len = r.u32();
    if (t === Tags.SequenceDelimitationItem) return fragments;
    if (t !== Tags.Item || len === UNDEFINED_LENGTH) {
      throw new DicomParseError(`encapsulated pixel data: expected an item, found ${describe(t)}`);
    }
    fragments.push(r.take(len, 'pixel data fragment'));
  }
}

function readItems(r: Reader, length: number): Dataset[] {
  if (++r.depth > r.maxDepth) throw new DicomLimitError(`sequences nested deeper than ${r.maxDepth} levels`);
  try {
    return readItemsAtDepth(r, length);
  } finally {
    r.depth--;
  }
}

function readItemsAtDepth(r: Reader, length: number): Dataset[] {
  const items: Dataset[] = [];
  const end = length === UNDEFINED_LENGTH ? Infinity : r.pos + length;
  if (end !== Infinity && end > r.bytes.length) throw new DicomParseError(`truncated: sequence runs past the end of the data`);
  while (r.pos < end) {
    const t = tag(r.u16(), r.u16());
    const len = r.u32();
    if (t === Tags.SequenceDelimitationItem) {
      if (end === Infinity) return items;
      continue; // a stray delimiter inside a defined-length sequence: tolerate it
    }
    if (t !== Tags.Item) throw new DicomParseError(`sequence: expected an item, found ${describe(t)} at byte ${r.pos - 8}`);
    if (len === UNDEFINED_LENGTH) {
      items.push(readDataset(r, Infinity, true));
    } else {
      if (r.pos + len > r.bytes.length) throw new DicomParseError('truncated: sequence item runs past the end of the data');
      items.push(readDataset(r, r.pos + len, false));
    }
  }
  // Defined lengths must nest (PS3.5 7.5): an item running past its sequence's end means one of
  // the two lengths is wrong, and whatever is read after it would be read out of place.
  if (r.pos > end) throw new DicomParseError(`malformed data set: an item runs ${r.pos - end} bytes past the end of its sequence`);
  return items;
}

function readElement(r: Reader): DataElement | 'item-end' | null {
  const group = r.u16();
  const element = r.u16();
  const t = tag(group, element);
  if (t === Tags.ItemDelimitationItem) {
    r.u32();
    return 'item-end';
  }
  if (t === Tags.SequenceDelimitationItem) {
    r.u32(); // stray sequence delimiter: some writers emit one; skip it
    return null;
  }
  if (group === 0xfffe) {
    // PS3.5 7.5: an Item stands only inside a sequence, and group FFFE holds nothing but items
    // and delimiters. One where an element should be means the lengths around it do not nest
    // (a duplicated item, an item or sequence length that is wrong): where the data set really
    // ends is unknowable, and storing it as an element would make an unreadable file.
    const what = t === Tags.Item ? 'an Item' : 'a tag of the delimiter group';
    throw new DicomParseError(`malformed data set: ${what} ${describe(t)} outside a sequence at byte ${r.pos - 4}`);
  }
  let vr: string;
  let len: number;
  if (r.explicit) {
    r.need(2, 'VR');
    vr = String.fromCharCode(r.bytes[r.pos], r.bytes[r.pos + 1]);
    r.pos += 2;
    if (!isKnownVr(vr)) {
      // PS3.5 6.2: a VR unknown to the reader is read as UN; every VR added since 2007 has a 4-byte length.
      if (!/^[A-Z]{2}$/.test(vr)) throw new DicomParseError(`invalid VR bytes at ${describe(t)}`);
      vr = 'UN';
      r.pos += 2;
      len = r.u32();
    } else if (hasLongLength(vr)) {
      r.pos += 2;
      len = r.u32();
    } else {
      len = r.u16();
    }
  } else {
    len = r.u32();
    vr = implicitVr(t, r.pixelRepresentation);
  }

  if (len === UNDEFINED_LENGTH) {
    if (t === Tags.PixelData) return { tag: t, vr: 'OB', fragments: readFragments(r) };
    if (vr === 'UN' || !r.explicit) {
      // PS3.5 6.2.2: a UN element of undefined length is a sequence encoded in implicit VR little endian.
      const inner = r.withEncoding(true, false);
      const items = readItems(inner, UNDEFINED_LENGTH);
      r.pos = inner.pos;
      return { tag: t, vr: 'SQ', items };
    }
    if (vr !== 'SQ') throw new DicomParseError(`undefined length on ${vr} element ${describe(t)}`);
    return { tag: t, vr: 'SQ', items: readItems(r, UNDEFINED_LENGTH) };
  }

  if (vr === 'UN' && r.explicit && !isPrivateTag(t)) {
    // A public element sent as UN (by a peer that did not know it): its value is implicit VR LE,
    // so give it back its real VR.
    const known = implicitVr(t, r.pixelRepresentation);
    if (known === 'SQ') {
      const inner = r.withEncoding(true, false);
      const items = readItems(inner, len);
      r.pos = inner.pos;
      return { tag: t, vr: 'SQ', items };
    }
    if (known !== 'UN' && (hasLongLength(known) || len <= 0xfffe)) vr = known;
  }
  if (vr === 'SQ') return { tag: t, vr, items: readItems(r, len) };

  const raw = r.take(len, `value of ${describe(t)}`);
  if (r.explicit) {
    // The sent VR framed the value; what the value is, the dictionary says (see vr-check.ts).
    // Decided on the bytes as sent: strings are never byte-swapped, numbers are.
    const reading = dictionaryReading(t, vr, raw, r.pixelRepresentation);
    if (reading?.coerced) {
      const el: DataElement = { tag: t, vr: reading.vr, value: r.littleEndian ? raw : toLittleEndian(raw, reading.vr) };
      coerced.add(el);
      notePixelRepresentation(r, el);
      return el;
    }
  }
  const el: DataElement = { tag: t, vr, value: r.littleEndian ? raw : toLittleEndian(raw, vr) };
  notePixelRepresentation(r, el);
  return el;
}

/** US or SS for the ambiguous attributes that follow depends on Pixel Representation. */
function notePixelRepresentation(r: Reader, el: DataElement): void {
  if (el.tag === Tags.PixelRepresentation && el.value && el.value.length >= 2) r.pixelRepresentation = el.value[0] | (el.value[1] << 8);
}

function readDataset(r: Reader, end: number, stopAtItemDelimiter: boolean): Dataset {
  const ds: Dataset = new Map();
  while (r.pos < end) {
    if (end === Infinity && r.pos >= r.bytes.length) throw new DicomParseError('truncated: item has no delimiter');
    if (end !== Infinity && end - r.pos < 8 && !stopAtItemDelimiter) {
      // Fewer bytes left than an element header: trailing garbage after the last element.
      if (end - r.pos > 0 && r.bytes.subarray(r.pos, end).some((b) => b !== 0)) {
        throw new DicomParseError(`truncated: ${end - r.pos} stray bytes at the end of the data set`);
      }
      r.pos = end;
      break;
    }
    const el = readElement(r);
    if (el === 'item-end') {
      if (stopAtItemDelimiter) return ds;
      continue;
    }
    if (el === null) continue;
    // Group lengths are retired (and wrong once anything changes); trailing padding carries nothing.
    if (elementOf(el.tag) === 0x0000 || el.tag === Tags.DataSetTrailingPadding) continue;
    ds.set(el.tag, el);
  }
  if (stopAtItemDelimiter) throw new DicomParseError('truncated: item has no delimiter');
  if (r.pos > end) throw new DicomParseError(`malformed data set: an element runs ${r.pos - end} bytes past the end of its item`);
  return ds;
}

function asciiAt(bytes: Uint8Array, pos: number, n: number): string {
  return String.fromCharCode(...bytes.subarray(pos, pos + n));
}

/** Guess the encoding of a data set without meta information from its first element. */
function guessTransferSyntax(bytes: Uint8Array, pos: number): string {
  if (bytes.length - pos < 8) throw new DicomParseError('not DICOM: too short');
  const groupLE = bytes[pos] | (bytes[pos + 1] << 8);
  const groupBE = (bytes[pos] << 8) | bytes[pos + 1];
  // A data set without file meta information starts with one of the lowest groups.
  if (pos === 0 && Math.min(groupLE, groupBE) > 0x0008) {
    throw new DicomParseError('not DICOM: no DICM prefix, no file meta information, and no data set start');
  }
  const vr = asciiAt(bytes, pos + 4, 2);
  const explicit = isKnownVr(vr);
  if (groupBE < groupLE && groupBE !== 0 && explicit) return TS.ExplicitVRBigEndian;
  if (groupLE > 0x7fe0 && groupBE <= 0x7fe0) throw new DicomParseError('not DICOM: implausible first element');
  return explicit ? TS.ExplicitVRLittleEndian : TS.ImplicitVRLittleEndian;
}

function readMeta(bytes: Uint8Array, start: number): { meta: Dataset; end: number } {
  const r = new Reader(bytes, true, true);
  r.pos = start;
  const meta: Dataset = new Map();
  while (r.pos + 8 <= bytes.length && (bytes[r.pos] | (bytes[r.pos + 1] << 8)) === 0x0002) {
    const el = readElement(r);
    if (el && el !== 'item-end') meta.set(el.tag, el);
  }
  return { meta, end: r.pos };
}

export function readUidValue(el: DataElement | undefined): string | undefined {
  if (!el?.value) return undefined;
  let s = Buffer.from(el.value.buffer, el.value.byteOffset, el.value.byteLength).toString('latin1');
  s = s.replace(/[\0 ]+$/, '').trim();
  return s || undefined;
}

/** Parse a data set alone (as a DIMSE peer sends it) in a known transfer syntax. */
export function parseDataset(bytes: Uint8Array, transferSyntaxUID: string, options: ParseOptions = {}): Dataset {
  let body = bytes;
  if (transferSyntaxUID === TS.DeflatedExplicitVRLittleEndian) {
    const limit = options.maxInflatedBytes ?? 2 ** 31 - 1;
    try {
      body = inflateRawSync(bytes, { maxOutputLength: limit });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError) {
        throw new DicomLimitError(`the deflated data set inflates past the ${limit}-byte limit`);
      }
      throw new DicomParseError(`deflated data set does not inflate: ${(e as Error).message}`);
    }
  }
  const littleEndian = transferSyntaxUID !== TS.ExplicitVRBigEndian;
  const explicit = transferSyntaxUID !== TS.ImplicitVRLittleEndian;
  const r = new Reader(body, littleEndian, explicit);
  r.maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
  return readDataset(r, body.length, false);
}

/** Parse a DICOM file (PS3.10), tolerating a missing preamble or missing meta information. */
export function parsePart10(bytes: Uint8Array, options: ParseOptions = {}): ParsedFile {
  let start = 0;
  if (bytes.length >= 132 && asciiAt(bytes, 128, 4) === 'DICM') start = 132;
  let meta: Dataset = new Map();
  if (bytes.length >= start + 6 && (bytes[start] | (bytes[start + 1] << 8)) === 0x0002 && isKnownVr(asciiAt(bytes, start + 4, 2))) {
    const m = readMeta(bytes, start);
    meta = m.meta;
    start = m.end;
  } else if (start === 0 && bytes.length > 0 && bytes.length < 8) {
    throw new DicomParseError('not DICOM: too short');
  }
  if (start >= bytes.length) throw new DicomParseError('no data set after the file meta information');
  let ts = readUidValue(meta.get(Tags.TransferSyntaxUID));
  if (!ts) ts = guessTransferSyntax(bytes, start);
  const body = bytes.subarray(start);
  let dataset: Dataset;
  let repairedEncoding = false;
  try {
    dataset = parseDataset(body, ts, options);
  } catch (e) {
    // Some writers declare one VR encoding and use the other; read it as it really is.
    const other = alternativeEncoding(ts);
    if (!(e instanceof DicomParseError) || e instanceof DicomLimitError || !other) throw e;
    try {
      dataset = parseDataset(body, other, options);
    } catch {
      throw e;
    }
    repairedEncoding = true;
  }
  if (dataset.size === 0) throw new DicomParseError('empty data set');
  if (!meta.size && !dataset.has(Tags.SOPClassUID) && !lookup(sortedFirst(dataset))) {
    throw new DicomParseError('not DICOM: no known elements');
  }
  return { meta, dataset, transferSyntaxUID: ts, repairedEncoding };
}

/** The other VR encoding for a little-endian syntax: explicit for implicit and the reverse. */
function alternativeEncoding(ts: string): string | undefined {
  if (ts === TS.ImplicitVRLittleEndian) return TS.ExplicitVRLittleEndian;
  if (ts === TS.ExplicitVRBigEndian || ts === TS.DeflatedExplicitVRLittleEndian) return undefined;
  return TS.ImplicitVRLittleEndian;
}

function sortedFirst(ds: Dataset): Tag {
  let min = Infinity;
  for (const t of ds.keys()) if (t < min) min = t;
  return min;
}

