/**
 * Burned-in text removal: the rectangles of a recipe set to zero in every frame of native
 * pixel data, for every sample layout PS3.5 8.1 and PS3.3 C.7.6.3 allow (1, 8, 16 or 32 bits
 * allocated, grey or colour, colour-by-pixel or colour-by-plane, and YBR_*_422 pixel pairs).
 * Pure: returns new pixel bytes, never touches the input's.
 */
import { VeilgateError } from '../errors';
import type { PixelDescription } from '../imaging/decode';
import type { PixelRegion } from './pixel-recipes';

/** A region clipped to the image, in whole pixels; empty when it lies outside. */
function clip(r: PixelRegion, p: PixelDescription): { x0: number; x1: number; y0: number; y1: number } {
  return { x0: Math.min(r.x, p.columns), x1: Math.min(r.x + r.width, p.columns), y0: Math.min(r.y, p.rows), y1: Math.min(r.y + r.height, p.rows) };
}

/** Bytes of one native frame (bit-packed 1-bit frames are counted in bits by the caller). */
function frameBytes(p: PixelDescription, subsampled: boolean): number {
  if (subsampled) return p.rows * p.columns * 2 * (p.bitsAllocated / 8);
  return (p.rows * p.columns * p.samplesPerPixel * p.bitsAllocated) / 8;
}

export function blankRegions(pixels: Uint8Array, frames: number, p: PixelDescription, regions: readonly PixelRegion[]): Uint8Array {
  const out = new Uint8Array(pixels);
  const photometric = p.photometricInterpretation.toUpperCase();
  const subsampled = p.samplesPerPixel === 3 && photometric.endsWith('_422') && p.planarConfiguration === 0;
  if (p.bitsAllocated === 1) {
    const perFrame = p.rows * p.columns;
    if (Math.ceil((perFrame * frames) / 8) > out.length) throw new VeilgateError('cannot-understand', 'Pixel Data is shorter than its frames');
    for (let f = 0; f < frames; f++) {
      for (const region of regions) {
        const { x0, x1, y0, y1 } = clip(region, p);
        for (let y = y0; y < y1; y++) {
          for (let x = x0; x < x1; x++) {
            const bit = f * perFrame + y * p.columns + x;
            out[bit >> 3] &= ~(1 << (bit & 7));
          }
        }
      }
    }
    return out;
  }
  if (![8, 16, 32].includes(p.bitsAllocated)) throw new VeilgateError('cannot-understand', `BitsAllocated ${p.bitsAllocated} cannot be cleaned`);
  const bytesPerSample = p.bitsAllocated / 8;
  const size = frameBytes(p, subsampled);
  if (size * frames > out.length) throw new VeilgateError('cannot-understand', 'Pixel Data is shorter than its frames');
  const planeBytes = p.rows * p.columns * bytesPerSample;
  for (let f = 0; f < frames; f++) {
    const base = f * size;
    for (const region of regions) {
      const { x0, x1, y0, y1 } = clip(region, p);
      if (x0 >= x1 || y0 >= y1) continue;
      for (let y = y0; y < y1; y++) {
        if (subsampled) {
          // YBR_*_422: each pair of pixels shares its chroma (Y Y Cb Cr), so whole pairs go.
          const from = Math.floor(x0 / 2) * 2;
          const to = Math.ceil(x1 / 2) * 2;
          const row = base + y * p.columns * 2 * bytesPerSample;
          out.fill(0, row + from * 2 * bytesPerSample, row + to * 2 * bytesPerSample);
        } else if (p.samplesPerPixel > 1 && p.planarConfiguration === 1) {
          for (let s = 0; s < p.samplesPerPixel; s++) {
            const row = base + s * planeBytes + y * p.columns * bytesPerSample;
            out.fill(0, row + x0 * bytesPerSample, row + x1 * bytesPerSample);
          }
        } else {
          const pixelBytes = p.samplesPerPixel * bytesPerSample;
          const row = base + y * p.columns * pixelBytes;
          out.fill(0, row + x0 * pixelBytes, row + x1 * pixelBytes);
        }
      }
    }
  }
  return out;
}
