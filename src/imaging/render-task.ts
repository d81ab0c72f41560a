/**
 * Rendering one frame from its stored bytes, as a worker task: decode when compressed,
 * subsample to the viewport, refuse a full-size render past the pixel limit, window and
 * encode. The lookup tables it may need are read by the caller (they live in the store).
 */
import { VeilgateError } from '../errors';
import type { DicomJson } from '../dicom/json';
import { transferSyntax } from '../dicom/transfer-syntax';
import { PixelDescription, decodeFrame, decodedDescription } from './decode';
import { RenderOptions, renderFrame } from './render';
import { subsample, subsampleStep } from './subsample';

export interface RenderTaskInput {
  /** The frame as stored: native pixels, or one compressed bitstream. */
  frame: Uint8Array;
  transferSyntaxUID: string;
  pixels: PixelDescription;
  meta: DicomJson;
  options: RenderOptions;
  maxRenderPixels: number;
}

export async function renderTask(input: RenderTaskInput): Promise<Uint8Array> {
  let p = input.pixels;
  let pixels = input.frame;
  if (transferSyntax(input.transferSyntaxUID)?.encapsulated) {
    pixels = await decodeFrame(pixels, input.transferSyntaxUID, p);
    p = decodedDescription(p, input.transferSyntaxUID);
  }
  // A viewport (a thumbnail's among them) is made from as many pixels as it shows, not the source's.
  if (!p.photometricInterpretation.toUpperCase().endsWith('_422')) ({ pixels, p } = subsample(pixels, p, subsampleStep(p, input.options.viewport)));
  if (p.rows * p.columns > input.maxRenderPixels) {
    throw new VeilgateError('bad-request', `the image has ${p.rows * p.columns} pixels, over the ${input.maxRenderPixels}-pixel limit for a full-size render: ask for a viewport`);
  }
  return renderFrame(pixels, p, input.meta, input.options);
}
