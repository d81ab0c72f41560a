/**
 * Lookup-table data as PS3.3 describes it (C.7.6.3.1.5 palettes, C.11.2.1.3 VOI LUTs): a
 * descriptor (entries, first mapped value, bits per entry) and the data, found inline in the
 * JSON (Value or InlineBinary) or as bulk data in the stored file.
 */
import { VeilgateError } from '../errors';

interface JsonElement {
  Value?: unknown[];
  InlineBinary?: string;
}

export interface LutData {
  /** Entry count (0 in the descriptor means 65536). */
  entries: number;
  firstMapped: number;
  bits: number;
  /** One value per entry, as stored (not rescaled). */
  values: Uint16Array;
}

/**
 * `readBulk` gives the bytes of the data element when the JSON holds a BulkDataURI for it.
 * `signedInput`: the first mapped value is read as signed 16-bit (input pixels are signed).
 */
export async function readLut(descriptor: JsonElement | undefined, data: JsonElement | undefined, readBulk: () => Promise<Uint8Array | undefined>, signedInput = false): Promise<LutData> {
  const d = descriptor?.Value as number[] | undefined;
  if (!d || d.length !== 3) throw new VeilgateError('unprocessable', 'a lookup table descriptor is missing or malformed');
  const entries = d[0] === 0 ? 65536 : d[0];
  const firstMapped = signedInput && d[1] >= 32768 ? d[1] - 65536 : d[1];
  const bits = d[2];
  const values = new Uint16Array(entries);
  if (Array.isArray(data?.Value) && data!.Value.length) {
    // US data inline: already one number per entry.
    data!.Value.slice(0, entries).forEach((v, i) => (values[i] = Number(v)));
    return { entries, firstMapped, bits, values };
  }
  const raw = data?.InlineBinary ? Buffer.from(data.InlineBinary, 'base64') : await readBulk();
  if (!raw) throw new VeilgateError('unprocessable', 'lookup table data is missing');
  const bytes = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  // 8-bit entries may come packed one per byte; otherwise each entry is a 16-bit word.
  const packed = bits === 8 && bytes.length === entries + (entries % 2);
  for (let i = 0; i < entries; i++) {
    if (packed) values[i] = bytes[i];
    else if (2 * i + 1 < bytes.length) values[i] = bytes.readUInt16LE(2 * i);
  }
  return { entries, firstMapped, bits, values };
}

/** The entry for an input value: below the table is the first entry, above it the last. */
export function lutIndex(lut: LutData, input: number): number {
  return Math.max(0, Math.min(lut.entries - 1, Math.round(input) - lut.firstMapped));
}
