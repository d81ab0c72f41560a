/**
 * The optional OCR check of cleaned pixels (off by default): tesseract.js, with the English
 * trained data installed from the npm registry (@tesseract.js-data/eng, nothing fetched at run
 * time), reads a few frames of an instance whose burned-in text was blanked (or accepted by the
 * site); an instance is refused when text matching one of its own identifiers, or shaped like
 * PHI, is still readable. tesseract.js runs in its own worker threads: the event loop only waits.
 */
import sharp from 'sharp';
import { PSM, createWorker, Worker } from 'tesseract.js';
import engData from '@tesseract.js-data/eng';
import { Dataset } from '../dicom/dataset';
import { Tags } from '../dicom/tags';
import { numberOfFrames } from '../dicom/frames';
import { stringValue } from '../dicom/values';
import { DicomJson } from '../dicom/json';
import { renderFrame } from '../imaging/render';
import { pixelDescriptionOf } from '../imaging/native-pixels';
import { PixelDescription } from '../imaging/decode';
import { hasPhiPattern } from './clean-text';

export interface OcrSettings {
  enabled: boolean;
  /** Frames read per instance, evenly spaced (burned-in banners repeat on every frame). */
  maxFrames: number;
  /** tesseract workers (each a thread of its own). */
  workers: number;
}

export const DEFAULT_OCR: OcrSettings = { enabled: false, maxFrames: 3, workers: 1 };

/** Text recognised in a frame is this much larger than the frame, for fonts of a few pixels. */
const MIN_OCR_HEIGHT = 720;

/** Native frames back to back (after cleaning) → one frame's bytes, with YBR 4:2:2 pairs expanded. */
function frameAt(pixels: Uint8Array, p: PixelDescription, index: number): { bytes: Uint8Array; p: PixelDescription } {
  const subsampled = p.samplesPerPixel === 3 && p.photometricInterpretation.toUpperCase().endsWith('_422');
  if (!subsampled) {
    const size = (p.rows * p.columns * p.samplesPerPixel * p.bitsAllocated) / 8;
    return { bytes: pixels.subarray(index * size, (index + 1) * size), p };
  }
  // Y0 Y1 Cb Cr → Y0 Cb Cr, Y1 Cb Cr (8 bits: the only depth 4:2:2 is used with).
  const size = p.rows * p.columns * 2;
  const src = pixels.subarray(index * size, (index + 1) * size);
  const out = new Uint8Array(p.rows * p.columns * 3);
  for (let i = 0, o = 0; i + 3 < src.length; i += 4, o += 6) {
    out.set([src[i], src[i + 2], src[i + 3], src[i + 1], src[i + 2], src[i + 3]], o);
  }
  return { bytes: out, p: { ...p, photometricInterpretation: 'YBR_FULL', planarConfiguration: 0 } };
}

/** The frames OCR reads: up to `max`, evenly spaced, first and last included. */
export function framesToRead(count: number, max: number): number[] {
  if (count <= max) return Array.from({ length: count }, (_, i) => i);
  return Array.from({ length: max }, (_, i) => Math.round((i * (count - 1)) / Math.max(1, max - 1)));
}

export class PixelTextReader {
  private workers: Promise<Worker>[] = [];
  private next = 0;

  constructor(private readonly settings: OcrSettings) {}

  private worker(): Promise<Worker> {
    if (this.workers.length < this.settings.workers) {
      // cacheMethod none: the trained data is read from node_modules, nothing is written or fetched.
      this.workers.push(
        createWorker('eng', 1, { langPath: engData.langPath, gzip: engData.gzip, cacheMethod: 'none', logger: () => undefined }).then(async (w) => {
          // Sparse text (page segmentation mode 11): annotations stand anywhere on an image, in no layout;
          // a fixed resolution, as pixels have none.
          await w.setParameters({ tessedit_pageseg_mode: PSM.SPARSE_TEXT, user_defined_dpi: '300' });
          return w;
        }),
      );
    }
    return this.workers[this.next++ % this.workers.length];
  }

  /** The text tesseract reads in one frame. */
  async readFrame(pixels: Uint8Array, p: PixelDescription, modality: string): Promise<string> {
    const meta: DicomJson = { '00080060': { vr: 'CS', Value: [modality] } };
    const png = await renderFrame(pixels, p, meta, { format: 'png' });
    const scale = Math.max(1, Math.min(4, Math.ceil(MIN_OCR_HEIGHT / p.rows)));
    const input = scale > 1 ? await sharp(png).resize(p.columns * scale, p.rows * scale, { kernel: 'nearest' }).png().toBuffer() : png;
    const { data } = await (await this.worker()).recognize(input);
    return data.text;
  }

  /**
   * What is still readable in a cleaned instance, as kinds of finding ("identifier", "PHI
   * pattern"), never the text itself: the caller logs and reports these.
   */
  async findings(ds: Dataset, identifierWords: readonly string[]): Promise<string[]> {
    const pixels = ds.get(Tags.PixelData)?.value;
    if (!pixels) return [];
    const p = pixelDescriptionOf(ds);
    const modality = stringValue(ds, Tags.Modality) ?? '';
    const words = new Set(identifierWords.filter((w) => w.length >= 3));
    const found = new Set<string>();
    for (const index of framesToRead(numberOfFrames(ds), this.settings.maxFrames)) {
      const frame = frameAt(pixels, p, index);
      const text = await this.readFrame(frame.bytes, frame.p, modality);
      for (const w of text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []) if (words.has(w)) found.add('identifier');
      // A date, phone number, e-mail, long number or titled name: what the cleaner removes from text.
      if (hasPhiPattern(text.replace(/\s+/g, ' '))) found.add('PHI pattern');
    }
    return [...found];
  }

  async close(): Promise<void> {
    const workers = this.workers;
    this.workers = [];
    await Promise.all(workers.map(async (w) => (await w).terminate()));
  }
}
