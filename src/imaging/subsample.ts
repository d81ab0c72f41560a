/**
 * Every step-th pixel of every step-th row of a native frame: a thumbnail or a small viewport
 * of a huge image costs work in proportion to what is shown, not to the source. Sharp's
 * resampling then makes the final size from at most twice the pixels it needs.
 */
import type { PixelDescription } from './decode';

/** The integer step that leaves at least twice the viewport's pixels each way. */
export function subsampleStep(p: PixelDescription, viewport: { width: number; height: number } | undefined): number {
  if (!viewport) return 1;
  return Math.max(1, Math.floor(Math.min(p.columns / (2 * viewport.width), p.rows / (2 * viewport.height))));
}

export function subsample(pixels: Uint8Array, p: PixelDescription, step: number): { pixels: Uint8Array; p: PixelDescription } {
  if (step <= 1) return { pixels, p };
  const rows = Math.ceil(p.rows / step);
  const columns = Math.ceil(p.columns / step);
  if (p.bitsAllocated === 1) {
    // Bit-packed (PS3.5 8.1.1): the result keeps one bit per pixel.
    const out = new Uint8Array(Math.ceil((rows * columns) / 8));
    for (let y = 0; y < rows; y++) {
      for (let x = 0; x < columns; x++) {
        const from = y * step * p.columns + x * step;
        if ((pixels[from >> 3] >> (from & 7)) & 1) {
          const to = y * columns + x;
          out[to >> 3] |= 1 << (to & 7);
        }
      }
    }
    return { pixels: out, p: { ...p, rows, columns } };
  }
  const bytes = p.bitsAllocated / 8;
  const planar = p.samplesPerPixel > 1 && p.planarConfiguration === 1;
  const pixelBytes = planar ? bytes : bytes * p.samplesPerPixel;
  const planes = planar ? p.samplesPerPixel : 1;
  const out = new Uint8Array(rows * columns * bytes * p.samplesPerPixel);
  for (let s = 0; s < planes; s++) {
    const srcPlane = s * p.rows * p.columns * bytes;
    const dstPlane = s * rows * columns * bytes;
    for (let y = 0; y < rows; y++) {
      const srcRow = srcPlane + y * step * p.columns * pixelBytes;
      const dstRow = dstPlane + y * columns * pixelBytes;
      for (let x = 0; x < columns; x++) out.set(pixels.subarray(srcRow + x * step * pixelBytes, srcRow + (x * step + 1) * pixelBytes), dstRow + x * pixelBytes);
    }
  }
  return { pixels: out, p: { ...p, rows, columns } };
}
