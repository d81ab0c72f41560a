/**
 * Writes a data set as a DICOM Part 10 file in Explicit VR Little Endian (or with its
 * encapsulated pixel data kept as it is), recording where each binary value lands so
 * bulk data and frames can later be served by byte range without parsing the file.
 */
import { DataElement, Dataset, Tag, sortedElements, tagHex } from './dataset';
import { Tags } from './tags';
import { hasLongLength, isBinaryVr, padByte } from './vr';
import { encodeText } from './values';

export interface ByteRange {
  offset: number;
  length: number;
}

export interface WrittenFile {
  chunks: Uint8Array[];
  size: number;
  /** Byte ranges of binary values (not encapsulated pixel data), by tag path such as "00540016.0.00181072". */
  bulk: Map<string, ByteRange>;
  /** Encapsulated pixel data: the Basic Offset Table and each data fragment, as byte ranges. */
  pixelFragments?: { basicOffsetTable: Uint8Array; fragments: ByteRange[] };
}

export interface FileMetaInput {
  sopClassUID: string;
  sopInstanceUID: string;
  transferSyntaxUID: string;
  sourceApplicationEntityTitle?: string;
}

/** Veilgate's implementation identity in the file meta information (PS3.7 D.3.3.2). */
export const IMPLEMENTATION_CLASS_UID = '2.25.186203715294813563245617032905446138163';
export const IMPLEMENTATION_VERSION_NAME = 'VEILGATE_01';

const SCRATCH = 64 * 1024;

class ChunkWriter {
  /** Implicit VR (a DIMSE peer may accept only that) writes no VR and always a 4-byte length. */
  constructor(public explicit = true) {}

  chunks: Uint8Array[] = [];
  private scratch = Buffer.allocUnsafe(SCRATCH);
  private used = 0;
  offset = 0;

  private flush(): void {
    if (this.used === 0) return;
    this.chunks.push(this.scratch.subarray(0, this.used));
    this.scratch = Buffer.allocUnsafe(SCRATCH);
    this.used = 0;
  }

  bytes(b: Uint8Array): void {
    if (b.length > 4096) {
      this.flush();
      this.chunks.push(b);
    } else {
      if (this.used + b.length > SCRATCH) this.flush();
      this.scratch.set(b, this.used);
      this.used += b.length;
    }
    this.offset += b.length;
  }

  header(t: Tag, vr: string | null, length: number): void {
    if (this.used + 12 > SCRATCH) this.flush();
    const s = this.scratch;
    let p = this.used;
    s.writeUInt16LE(t >>> 16, p);
    s.writeUInt16LE(t & 0xffff, p + 2);
    p += 4;
    if (vr === null || !this.explicit) {
      s.writeUInt32LE(length, p);
      p += 4;
    } else if (hasLongLength(vr)) {
      s.write(vr, p, 'latin1');
      s.writeUInt16LE(0, p + 2);
      s.writeUInt32LE(length, p + 4);
      p += 8;
    } else {
      s.write(vr, p, 'latin1');
      s.writeUInt16LE(length, p + 2);
      p += 4;
    }
    this.offset += p - this.used;
    this.used = p;
  }

  pad(vr: string): void {
    this.bytes(new Uint8Array([padByte(vr)]));
  }

  finish(): Uint8Array[] {
    this.flush();
    return this.chunks;
  }
}

const UNDEFINED = 0xffffffff;

/** A data set the writer will not encode: what it would write could not be read back as written. */
export class DicomWriteError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DicomWriteError';
  }
}

function writeElement(w: ChunkWriter, el: DataElement, path: string, out: WrittenFile): void {
  // Group FFFE is items and delimiters (PS3.5 7.5), never an element: written as one, it makes
  // every reader lose its place. The parser refuses them; this holds for any other producer.
  if (el.tag >>> 16 === 0xfffe) throw new DicomWriteError(`(FFFE,${tagHex(el.tag).slice(4)}) is an item or delimiter tag, not a data element (at ${path})`);
  if (el.items) {
    w.header(el.tag, 'SQ', UNDEFINED);
    el.items.forEach((item, i) => {
      w.header(Tags.Item, null, UNDEFINED);
      writeElements(w, item, `${path}.${i}.`, out);
      w.header(Tags.ItemDelimitationItem, null, 0);
    });
    w.header(Tags.SequenceDelimitationItem, null, 0);
    return;
  }
  if (el.fragments) {
    w.header(el.tag, 'OB', UNDEFINED);
    const [bot = new Uint8Array(0), ...rest] = el.fragments;
    w.header(Tags.Item, null, bot.length);
    w.bytes(bot);
    const ranges: ByteRange[] = [];
    for (const f of rest) {
      // Fragments have even length by definition (PS3.5 A.4); pad defensively.
      const len = f.length + (f.length % 2);
      w.header(Tags.Item, null, len);
      ranges.push({ offset: w.offset, length: f.length });
      w.bytes(f);
      if (f.length % 2) w.pad('OB');
    }
    w.header(Tags.SequenceDelimitationItem, null, 0);
    if (path === tagHex(Tags.PixelData)) out.pixelFragments = { basicOffsetTable: bot, fragments: ranges };
    return;
  }
  const value = el.value ?? new Uint8Array(0);
  const padded = value.length + (value.length % 2);
  // A value too long for a 16-bit length field can only be written as UN (PS3.5 6.2.2).
  const vr = w.explicit && !hasLongLength(el.vr) && padded > 0xfffe ? 'UN' : el.vr;
  w.header(el.tag, vr, padded);
  if (isBinaryVr(vr)) out.bulk.set(path, { offset: w.offset, length: value.length });
  w.bytes(value);
  if (value.length % 2) w.pad(vr);
}

function writeElements(w: ChunkWriter, ds: Dataset, prefix: string, out: WrittenFile): void {
  for (const el of sortedElements(ds)) {
    if (el.tag >>> 16 === 0x0002) continue; // meta elements never belong in the data set
    writeElement(w, el, prefix + tagHex(el.tag), out);
  }
}

function metaGroup(input: FileMetaInput): Dataset {
  const m: Dataset = new Map();
  const put = (t: Tag, vr: string, text: string) => m.set(t, { tag: t, vr, value: encodeText(text, vr) });
  m.set(Tags.FileMetaInformationVersion, { tag: Tags.FileMetaInformationVersion, vr: 'OB', value: new Uint8Array([0, 1]) });
  put(Tags.MediaStorageSOPClassUID, 'UI', input.sopClassUID);
  put(Tags.MediaStorageSOPInstanceUID, 'UI', input.sopInstanceUID);
  put(Tags.TransferSyntaxUID, 'UI', input.transferSyntaxUID);
  put(Tags.ImplementationClassUID, 'UI', IMPLEMENTATION_CLASS_UID);
  put(Tags.ImplementationVersionName, 'SH', IMPLEMENTATION_VERSION_NAME);
  if (input.sourceApplicationEntityTitle) put(Tags.SourceApplicationEntityTitle, 'AE', input.sourceApplicationEntityTitle);
  return m;
}

/**
 * Serialise a data set as a Part 10 file: zeroed preamble, rebuilt meta group, then the data
 * set in Explicit VR LE (or Implicit VR LE when the meta names that syntax).
 */
export function writePart10(dataset: Dataset, meta: FileMetaInput): WrittenFile {
  const out: WrittenFile = { chunks: [], size: 0, bulk: new Map() };
  const metaWriter = new ChunkWriter();
  for (const el of sortedElements(metaGroup(meta))) writeElement(metaWriter, el, '', { chunks: [], size: 0, bulk: new Map() });
  const metaBytes = Buffer.concat(metaWriter.finish());

  const w = new ChunkWriter();
  const preamble = Buffer.alloc(132);
  preamble.write('DICM', 128, 'latin1');
  w.bytes(preamble);
  w.header(Tags.FileMetaInformationGroupLength, 'UL', 4);
  const groupLength = Buffer.alloc(4);
  groupLength.writeUInt32LE(metaBytes.length);
  w.bytes(groupLength);
  w.bytes(metaBytes);
  // The meta group is always explicit; the data set follows its transfer syntax.
  w.explicit = meta.transferSyntaxUID !== '1.2.840.10008.1.2';
  writeElements(w, dataset, '', out);
  out.chunks = w.finish();
  out.size = w.offset;
  return out;
}

/** Serialise a bare data set (no preamble, no meta), as DIMSE sends it: Explicit or Implicit VR LE. */
export function writeDataset(dataset: Dataset, options: { explicit: boolean }): WrittenFile {
  const out: WrittenFile = { chunks: [], size: 0, bulk: new Map() };
  const w = new ChunkWriter(options.explicit);
  writeElements(w, dataset, '', out);
  out.chunks = w.finish();
  out.size = w.offset;
  return out;
}
