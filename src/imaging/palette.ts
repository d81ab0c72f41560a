/**
 * Palette Color Lookup Tables (PS3.3 C.7.6.3.1.5-6): descriptor (entries, first mapped value,
 * bits per entry) and the red, green and blue data, reduced to 8-bit for display.
 */
import { VeilgateError } from '../errors';
import { DicomJson } from '../dicom/json';

export interface Palette {
  firstMapped: number;
  red: Uint8Array;
  green: Uint8Array;
  blue: Uint8Array;
}

const CHANNELS = [
  ['00281101', '00281201'],
  ['00281102', '00281202'],
  ['00281103', '00281203'],
] as const;

/** `readBulk` gives the bytes of a binary value kept out of the JSON (by tag), if any. */
export async function readPalette(meta: DicomJson, readBulk: (tag: string) => Promise<Uint8Array | undefined>): Promise<Palette> {
  if (meta['00281221']) throw new VeilgateError('not-acceptable', 'segmented palette colour tables are not rendered');
  const tables: Uint8Array[] = [];
  let firstMapped = 0;
  for (const [descriptorTag, dataTag] of CHANNELS) {
    const d = meta[descriptorTag]?.Value as number[] | undefined;
    if (!d || d.length !== 3) throw new VeilgateError('unprocessable', 'the palette colour lookup table descriptor is missing');
    // An entry count of 0 means 65536 (it does not fit in 16 bits).
    const entries = d[0] === 0 ? 65536 : d[0];
    firstMapped = d[1];
    const inline = (meta[dataTag] as { InlineBinary?: string } | undefined)?.InlineBinary;
    const data = inline ? Buffer.from(inline, 'base64') : await readBulk(dataTag);
    if (!data) throw new VeilgateError('unprocessable', 'the palette colour lookup table data is missing');
    const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const out = new Uint8Array(entries);
    // 8-bit entries may come packed one per byte; otherwise each entry is a 16-bit word.
    const packed = d[2] === 8 && bytes.length === entries + (entries % 2);
    for (let i = 0; i < entries; i++) {
      if (packed) out[i] = bytes[i];
      else if (2 * i + 1 < bytes.length) {
        const v = bytes.readUInt16LE(2 * i);
        out[i] = d[2] === 8 ? (v > 255 ? v >> 8 : v) : v >> 8;
      }
    }
    tables.push(out);
  }
  return { firstMapped, red: tables[0], green: tables[1], blue: tables[2] };
}

/** Indices to RGB: below the first mapped value is the first entry, above the table the last. */
export function applyPalette(indices: Float64Array, palette: Palette): Uint8Array {
  const last = palette.red.length - 1;
  const out = new Uint8Array(indices.length * 3);
  for (let i = 0; i < indices.length; i++) {
    const k = Math.max(0, Math.min(last, indices[i] - palette.firstMapped));
    out[i * 3] = palette.red[k];
    out[i * 3 + 1] = palette.green[k];
    out[i * 3 + 2] = palette.blue[k];
  }
  return out;
}
