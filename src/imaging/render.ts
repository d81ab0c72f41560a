/**
 * Rendering of one frame for WADO-RS rendered and thumbnail resources (PS3.18 8.3.5.1, 9.5):
 * Modality LUT (Rescale), VOI windowing (the request's window, else the object's first
 * Window Center/Width, else the frame's range; LINEAR, LINEAR_EXACT or SIGMOID, PS3.3
 * C.11.2.1.2), MONOCHROME1 inverted, colour as RGB; encoded by sharp.
 */
import sharp from 'sharp';
import { VeilgateError } from '../errors';
import { DicomJson } from '../dicom/json';
import { PixelDescription } from './decode';
import { Palette, applyPalette } from './palette';
import { LutData, lutIndex } from './lut';

export interface Window {
  center: number;
  width: number;
  fn: 'LINEAR' | 'LINEAR_EXACT' | 'SIGMOID';
}

export interface RenderOptions {
  format: 'jpeg' | 'png' | 'gif';
  window?: Window;
  /** Fit within this size (keeping the aspect ratio). */
  viewport?: { width: number; height: number };
  quality?: number;
  /** The lookup tables of a PALETTE COLOR image. */
  palette?: Palette;
  /** The object's first VOI LUT (PS3.3 C.11.2.1.3), used when no window is asked for or suggested. */
  voiLut?: LutData;
}

/** Stored values, one per sample: 32-bit floats (exact for integers of up to 24 bits) but for 32-bit samples. */
function samples(pixels: Uint8Array, p: PixelDescription): Float32Array | Float64Array {
  const n = p.rows * p.columns * p.samplesPerPixel;
  const out = p.bitsAllocated === 32 ? new Float64Array(n) : new Float32Array(n);
  const view = new DataView(pixels.buffer, pixels.byteOffset, pixels.byteLength);
  const signed = p.pixelRepresentation === 1;
  if (p.bitsAllocated === 32) {
    for (let i = 0; i < n; i++) out[i] = signed ? view.getInt32(i * 4, true) : view.getUint32(i * 4, true);
    return out;
  }
  if (p.bitsAllocated === 1) {
    // Bit-packed (segmentation masks): the first pixel in the least significant bit.
    for (let i = 0; i < n; i++) out[i] = (pixels[i >> 3] >> (i & 7)) & 1;
    return out;
  }
  if (p.bitsAllocated !== 8 && p.bitsAllocated !== 16) throw new VeilgateError('not-acceptable', `${p.bitsAllocated}-bit pixels cannot be rendered`);
  // Bits above BitsStored carry nothing (or overlays): mask them, and sign-extend from the
  // stored high bit when signed. Integer operations: this loop runs once per pixel.
  const bits = Math.min(p.bitsStored, p.bitsAllocated);
  const mask = (1 << bits) - 1;
  const shift = 32 - bits;
  const wide = p.bitsAllocated === 16;
  for (let i = 0; i < n; i++) {
    const v = (wide ? view.getUint16(i * 2, true) : pixels[i]) & mask;
    out[i] = signed ? (v << shift) >> shift : v;
  }
  return out;
}

/** The window the object suggests, if any (first Window Center/Width, with its function). */
export function defaultWindow(meta: DicomJson): Window | undefined {
  const center = Number(meta['00281050']?.Value?.[0]);
  const width = Number(meta['00281051']?.Value?.[0]);
  if (!Number.isFinite(center) || !(width > 0)) return undefined;
  const fn = String(meta['00281056']?.Value?.[0] ?? 'LINEAR').toUpperCase();
  return { center, width, fn: fn === 'SIGMOID' || fn === 'LINEAR_EXACT' ? fn : 'LINEAR' };
}

const CT_SOFT_TISSUE: Window = { center: 40, width: 400, fn: 'LINEAR' };

/** PS3.3 C.11.2.1.2: output in [0, 255]. */
function voi(x: number, w: Window): number {
  if (w.fn === 'SIGMOID') return 255 / (1 + Math.exp((-4 * (x - w.center)) / w.width));
  if (w.fn === 'LINEAR_EXACT') {
    if (x <= w.center - w.width / 2) return 0;
    if (x > w.center + w.width / 2) return 255;
    return ((x - w.center) / w.width + 0.5) * 255;
  }
  if (w.width <= 1) return x < w.center - 0.5 ? 0 : 255;
  if (x <= w.center - 0.5 - (w.width - 1) / 2) return 0;
  if (x > w.center - 0.5 + (w.width - 1) / 2) return 255;
  return ((x - (w.center - 0.5)) / (w.width - 1) + 0.5) * 255;
}

export async function renderFrame(pixels: Uint8Array, p: PixelDescription, meta: DicomJson, o: RenderOptions): Promise<Buffer> {
  const photometric = p.photometricInterpretation.toUpperCase();
  let channels: 1 | 3;
  let out: Uint8Array;
  if (p.samplesPerPixel === 3) {
    channels = 3;
    const n = p.rows * p.columns;
    out = new Uint8Array(n * 3);
    const planar = p.planarConfiguration === 1;
    // Deeper colour is shown by its top 8 stored bits.
    const values = p.bitsAllocated === 8 ? pixels : samples(pixels, p);
    const scale = p.bitsStored > 8 ? 2 ** (p.bitsStored - 8) : 1;
    for (let i = 0; i < n; i++) {
      const at = (c: number) => Math.floor(values[planar ? c * n + i : i * 3 + c] / scale);
      let [r, g, b] = [at(0), at(1), at(2)];
      if (photometric.startsWith('YBR_FULL')) {
        // PS3.3 C.7.6.3.1.2: YCbCr (full range) to RGB.
        const [y, cb, cr] = [r, g, b];
        r = y + 1.402 * (cr - 128);
        g = y - 0.344136 * (cb - 128) - 0.714136 * (cr - 128);
        b = y + 1.772 * (cb - 128);
      }
      out[i * 3] = Math.max(0, Math.min(255, Math.round(r)));
      out[i * 3 + 1] = Math.max(0, Math.min(255, Math.round(g)));
      out[i * 3 + 2] = Math.max(0, Math.min(255, Math.round(b)));
    }
  } else if (photometric === 'PALETTE COLOR') {
    if (!o.palette) throw new VeilgateError('unprocessable', 'a palette colour image needs its lookup tables');
    channels = 3;
    out = applyPalette(samples(pixels, p), o.palette);
  } else if (photometric === 'MONOCHROME1' || photometric === 'MONOCHROME2') {
    channels = 1;
    const slope = Number(meta['00281053']?.Value?.[0] ?? 1) || 1;
    const intercept = Number(meta['00281052']?.Value?.[0] ?? 0) || 0;
    const stored = samples(pixels, p);
    let window = o.window ?? defaultWindow(meta);
    const voiLut = window ? undefined : o.voiLut;
    // A CT without a suggested window is shown in the soft-tissue preset (HU), as viewers do.
    if (!window && !voiLut && String(meta['00080060']?.Value?.[0] ?? '') === 'CT') window = CT_SOFT_TISSUE;
    if (!window && !voiLut) {
      let lo = Infinity;
      let hi = -Infinity;
      for (const v of stored) {
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      [lo, hi] = [lo * slope + intercept, hi * slope + intercept].sort((a, b) => a - b);
      window = { center: (lo + hi) / 2, width: Math.max(1, hi - lo), fn: 'LINEAR_EXACT' };
    }
    const w = window;
    const invert = photometric === 'MONOCHROME1';
    const lutTop = voiLut ? 2 ** voiLut.bits - 1 : 1;
    const grey = (v: number) => {
      const x = v * slope + intercept;
      const g = voiLut ? Math.round((voiLut.values[lutIndex(voiLut, x)] * 255) / lutTop) : Math.round(voi(x, w!));
      return invert ? 255 - g : g;
    };
    out = new Uint8Array(stored.length);
    if (p.bitsAllocated <= 16) {
      // One table entry per possible stored value: the window is evaluated 2^BitsStored times,
      // not once per pixel.
      const bits = Math.min(p.bitsStored, p.bitsAllocated);
      const offset = p.pixelRepresentation === 1 ? 2 ** (bits - 1) : 0;
      const table = new Uint8Array(2 ** bits);
      for (let k = 0; k < table.length; k++) table[k] = grey(k - offset);
      for (let i = 0; i < stored.length; i++) out[i] = table[stored[i] + offset];
    } else {
      for (let i = 0; i < stored.length; i++) out[i] = grey(stored[i]);
    }
  } else {
    throw new VeilgateError('not-acceptable', `${photometric} images are not rendered yet`);
  }
  let image = sharp(Buffer.from(out.buffer, out.byteOffset, out.byteLength), { raw: { width: p.columns, height: p.rows, channels } });
  if (o.viewport) image = image.resize(o.viewport.width, o.viewport.height, { fit: 'inside' });
  // sharp writes sRGB unless told: a greyscale frame stays one channel (a third of the bytes).
  if (channels === 1) image = image.toColourspace('b-w');
  if (o.format === 'png') return image.png().toBuffer();
  if (o.format === 'gif') return image.gif().toBuffer();
  return image.jpeg({ quality: o.quality ?? 90 }).toBuffer();
}
