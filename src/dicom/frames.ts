/**
 * Where each frame of pixel data lies in a written file, so WADO-RS frame requests are
 * served by byte range (PS3.5 A.4 for encapsulated pixel data, 8.2 for native).
 * A frame is a list of byte ranges: encapsulated frames may span several fragments.
 */
import { Dataset, tagHex } from './dataset';
import { Tags } from './tags';
import { numberValue, stringValue } from './values';
import { ByteRange, WrittenFile } from './write';

export type FrameRanges = ByteRange[][];

export function numberOfFrames(ds: Dataset): number {
  const n = Number(stringValue(ds, Tags.NumberOfFrames) ?? '1');
  return Number.isInteger(n) && n > 0 ? n : 1;
}

function nativeFrames(ds: Dataset, pixel: ByteRange, bitsAllocated: number): FrameRanges | undefined {
  const rows = numberValue(ds, Tags.Rows) ?? 0;
  const columns = numberValue(ds, Tags.Columns) ?? 0;
  const samples = numberValue(ds, Tags.SamplesPerPixel) ?? 1;
  const frames = numberOfFrames(ds);
  const frameBits = rows * columns * samples * bitsAllocated;
  if (frameBits === 0) return undefined;
  if (frameBits % 8 !== 0 && frames > 1) return undefined; // bit-packed frames that do not start on a byte
  const frameBytes = Math.ceil(frameBits / 8);
  if (frameBytes * frames > pixel.length) return undefined;
  const out: FrameRanges = [];
  for (let i = 0; i < frames; i++) out.push([{ offset: pixel.offset + i * frameBytes, length: frameBytes }]);
  return out;
}

/** Frame starts from an offset table (BOT or Extended Offset Table), as offsets from the first fragment's item tag. */
function groupByOffsets(starts: number[], offsets: number[]): number[][] | undefined {
  const out: number[][] = [];
  for (let i = 0; i < offsets.length; i++) {
    const from = starts.indexOf(offsets[i]);
    if (from < 0) return undefined;
    const to = i + 1 < offsets.length ? starts.indexOf(offsets[i + 1]) : starts.length;
    if (to <= from) return undefined;
    out.push(range(from, to));
  }
  return out;
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

function startsFrame(bytes: Uint8Array): boolean {
  if (bytes.length < 2) return false;
  if (bytes[0] === 0xff && (bytes[1] === 0xd8 || bytes[1] === 0x4f)) return true; // JPEG family SOI, J2K SOC
  return bytes.length >= 8 && bytes[4] === 0x6a && bytes[5] === 0x50 && bytes[6] === 0x20 && bytes[7] === 0x20; // JP2 box
}

/**
 * Which data fragments (indices, Basic Offset Table excluded) make up each frame of
 * encapsulated pixel data (PS3.5 A.4): one fragment per frame, the Extended or Basic Offset
 * Table, or else a new frame at each fragment that opens a codestream. Undefined when the
 * frames cannot be told apart.
 */
export function groupFragments(ds: Dataset, basicOffsetTable: Uint8Array, fragmentBytes: Uint8Array[]): number[][] | undefined {
  const frames = numberOfFrames(ds);
  const n = fragmentBytes.length;
  if (n === 0) return undefined;
  if (frames === 1) return [range(0, n)];
  if (n === frames) return range(0, n).map((i) => [i]);
  // Offsets count from the first fragment's item tag: 8 header bytes and the (even) value per fragment.
  const starts: number[] = [];
  let at = 0;
  for (const f of fragmentBytes) {
    starts.push(at);
    at += 8 + f.length + (f.length % 2);
  }
  const eot = ds.get(Tags.ExtendedOffsetTable)?.value;
  if (eot && eot.length === frames * 8) {
    const view = new DataView(eot.buffer, eot.byteOffset, eot.byteLength);
    const grouped = groupByOffsets(starts, Array.from({ length: frames }, (_, i) => Number(view.getBigUint64(i * 8, true))));
    if (grouped) return grouped;
  }
  if (basicOffsetTable.length === frames * 4) {
    const view = new DataView(basicOffsetTable.buffer, basicOffsetTable.byteOffset, basicOffsetTable.byteLength);
    const grouped = groupByOffsets(starts, Array.from({ length: frames }, (_, i) => view.getUint32(i * 4, true)));
    if (grouped) return grouped;
  }
  // No usable offset table: a new frame starts at each fragment that opens a codestream.
  const out: number[][] = [];
  fragmentBytes.forEach((f, i) => {
    if (out.length === 0 || startsFrame(f)) out.push([i]);
    else out[out.length - 1].push(i);
  });
  return out.length === frames ? out : undefined;
}

/** The encoded bytes of each frame of a data set's encapsulated pixel data, or undefined when they cannot be told apart. */
export function encapsulatedFrameBytes(ds: Dataset): Uint8Array[] | undefined {
  const fragments = ds.get(Tags.PixelData)?.fragments;
  if (!fragments) return undefined;
  const [bot = new Uint8Array(0), ...data] = fragments;
  const groups = groupFragments(ds, bot, data);
  return groups?.map((g) => (g.length === 1 ? data[g[0]] : Buffer.concat(g.map((i) => data[i]))));
}

/** Frame byte ranges in the written file, or undefined when they cannot be told apart. */
export function locateFrames(ds: Dataset, written: WrittenFile): FrameRanges | undefined {
  const pixel = ds.get(Tags.PixelData);
  if (pixel?.fragments && written.pixelFragments) {
    const { basicOffsetTable, fragments } = written.pixelFragments;
    return groupFragments(ds, basicOffsetTable, pixel.fragments.slice(1))?.map((g) => g.map((i) => fragments[i]));
  }
  const bitsAllocated = numberValue(ds, Tags.BitsAllocated) ?? 0;
  for (const [t, bits] of [
    [Tags.PixelData, bitsAllocated],
    [Tags.FloatPixelData, 32],
    [Tags.DoubleFloatPixelData, 64],
  ] as const) {
    const range = written.bulk.get(tagHex(t));
    if (range) return nativeFrames(ds, range, bits);
  }
  return undefined;
}
