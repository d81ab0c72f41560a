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

/** Frame starts from an offset table (BOT or Extended Offset Table), relative to the first fragment's item tag. */
function groupByOffsets(fragments: ByteRange[], offsets: number[]): FrameRanges | undefined {
  const base = fragments[0].offset - 8;
  const starts = fragments.map((f) => f.offset - 8 - base);
  const out: FrameRanges = [];
  for (let i = 0; i < offsets.length; i++) {
    const from = starts.indexOf(offsets[i]);
    if (from < 0) return undefined;
    const to = i + 1 < offsets.length ? starts.indexOf(offsets[i + 1]) : fragments.length;
    if (to <= from) return undefined;
    out.push(fragments.slice(from, to));
  }
  return out;
}

function startsFrame(bytes: Uint8Array): boolean {
  if (bytes.length < 2) return false;
  if (bytes[0] === 0xff && (bytes[1] === 0xd8 || bytes[1] === 0x4f)) return true; // JPEG family SOI, J2K SOC
  return bytes.length >= 8 && bytes[4] === 0x6a && bytes[5] === 0x50 && bytes[6] === 0x20 && bytes[7] === 0x20; // JP2 box
}

function encapsulatedFrames(ds: Dataset, written: NonNullable<WrittenFile['pixelFragments']>, fragmentBytes: Uint8Array[]): FrameRanges | undefined {
  const { fragments, basicOffsetTable } = written;
  const frames = numberOfFrames(ds);
  if (fragments.length === 0) return undefined;
  if (frames === 1) return [fragments];
  if (fragments.length === frames) return fragments.map((f) => [f]);

  const eot = ds.get(Tags.ExtendedOffsetTable)?.value;
  if (eot && eot.length === frames * 8) {
    const view = new DataView(eot.buffer, eot.byteOffset, eot.byteLength);
    const offsets = Array.from({ length: frames }, (_, i) => Number(view.getBigUint64(i * 8, true)));
    const grouped = groupByOffsets(fragments, offsets);
    if (grouped) return grouped;
  }
  if (basicOffsetTable.length === frames * 4) {
    const view = new DataView(basicOffsetTable.buffer, basicOffsetTable.byteOffset, basicOffsetTable.byteLength);
    const offsets = Array.from({ length: frames }, (_, i) => view.getUint32(i * 4, true));
    const grouped = groupByOffsets(fragments, offsets);
    if (grouped) return grouped;
  }
  // No usable offset table: a new frame starts at each fragment that opens a codestream.
  const out: FrameRanges = [];
  fragments.forEach((f, i) => {
    if (out.length === 0 || startsFrame(fragmentBytes[i])) out.push([f]);
    else out[out.length - 1].push(f);
  });
  return out.length === frames ? out : undefined;
}

/** Frame byte ranges in the written file, or undefined when they cannot be told apart. */
export function locateFrames(ds: Dataset, written: WrittenFile): FrameRanges | undefined {
  const pixel = ds.get(Tags.PixelData);
  if (pixel?.fragments && written.pixelFragments) {
    return encapsulatedFrames(ds, written.pixelFragments, pixel.fragments.slice(1));
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
