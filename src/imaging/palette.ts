/**
 * Palette Color Lookup Tables (PS3.3 C.7.6.3.1.5-6): the red, green and blue tables, reduced
 * to 8-bit for display.
 */
import { VeilgateError } from '../errors';
import { DicomJson } from '../dicom/json';
import { LutData, lutIndex, readLut } from './lut';

export interface Palette {
  red: LutData;
  green: LutData;
  blue: LutData;
}

const CHANNELS = [
  ['00281101', '00281201'],
  ['00281102', '00281202'],
  ['00281103', '00281203'],
] as const;

/** `readBulk` gives the bytes of a binary value kept out of the JSON (by tag path), if any. */
export async function readPalette(meta: DicomJson, readBulk: (path: string) => Promise<Uint8Array | undefined>): Promise<Palette> {
  if (meta['00281221']) throw new VeilgateError('not-acceptable', 'segmented palette colour tables are not rendered');
  const [red, green, blue] = await Promise.all(CHANNELS.map(([descriptor, data]) => readLut(meta[descriptor], meta[data], () => readBulk(data))));
  return { red, green, blue };
}

/** 8-bit output of one table entry: 16-bit entries by their high byte; 8-bit ones stored in a word may sit in either byte. */
function to8(lut: LutData, v: number): number {
  if (lut.bits === 8) return v > 255 ? v >> 8 : v;
  return v >> 8;
}

/** Indices to RGB. */
export function applyPalette(indices: ArrayLike<number>, palette: Palette): Uint8Array {
  const out = new Uint8Array(indices.length * 3);
  const tables = [palette.red, palette.green, palette.blue];
  for (let i = 0; i < indices.length; i++) {
    for (let c = 0; c < 3; c++) {
      const t = tables[c];
      out[i * 3 + c] = to8(t, t.values[lutIndex(t, indices[i])]);
    }
  }
  return out;
}
