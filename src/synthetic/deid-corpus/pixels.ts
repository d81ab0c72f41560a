/** Pixel data: small deterministic images, and the Image Pixel module that describes them. */
import { Level, uint16 } from './builder';
import { PixelLayout } from './answer-key';
import { Rng } from './random';

/** A CT/MR-like slice: a disc of tissue with noise on a dark field, 12 bits in 16. */
export function crossSectionalPixels(rng: Rng, rows: number, columns: number, frames: number, level: number): Uint8Array {
  const out = Buffer.alloc(rows * columns * frames * 2);
  for (let f = 0; f < frames; f++) {
    for (let y = 0; y < rows; y++) {
      for (let x = 0; x < columns; x++) {
        const r = Math.hypot(x - columns / 2, y - rows / 2) / (columns / 2);
        const v = r < 0.8 ? level + rng.int(0, 120) : rng.int(0, 30);
        out.writeUInt16LE(v & 0x0fff, ((f * rows + y) * columns + x) * 2);
      }
    }
  }
  return out;
}

/** An ultrasound-like frame: a speckled sector, never zero, so a blanked region is visible. */
export function speckle(rng: Rng, data: Uint8Array, rows: number, columns: number, samples: number, offset: number): void {
  for (let y = 0; y < rows; y++) {
    for (let x = 0; x < columns; x++) {
      const v = 20 + ((x * 3 + y * 5) % 60) + rng.int(0, 90);
      const at = offset + (y * columns + x) * samples;
      for (let s = 0; s < samples; s++) data[at + s] = Math.min(255, v + s * 7);
    }
  }
}

/** Bit-pack a 0/1 mask, least significant bit first (PS3.5 8.1.1, as SEG and overlays use). */
export function packBits(mask: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(mask.length / 16) * 2);
  mask.forEach((v, i) => {
    if (v) out[i >> 3] |= 1 << (i & 7);
  });
  return out;
}

export interface PixelDescription extends PixelLayout {
  photometric: 'MONOCHROME2' | 'RGB';
  bitsStored: number;
}

/** Image Pixel module; Rows and Columns are scored (tag_retained), the rest is structure. */
export function imagePixelModule(b: Level, d: PixelDescription, data: Uint8Array): void {
  b.set('SamplesPerPixel', uint16(d.samplesPerPixel));
  b.set('PhotometricInterpretation', d.photometric);
  if (d.samplesPerPixel > 1) b.set('PlanarConfiguration', uint16(0));
  if (d.frames > 1) b.keep('NumberOfFrames', String(d.frames));
  b.keepBinary('Rows', uint16(d.rows));
  b.keepBinary('Columns', uint16(d.columns));
  b.set('BitsAllocated', uint16(d.bitsAllocated));
  b.set('BitsStored', uint16(d.bitsStored));
  b.set('HighBit', uint16(d.bitsStored - 1));
  b.set('PixelRepresentation', uint16(0));
  b.raw({ tag: 0x7fe00010, vr: d.bitsAllocated === 16 ? 'OW' : 'OB', value: data });
}
