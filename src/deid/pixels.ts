/**
 * Burned-in pixel cleaning in the ingest path: compressed pixel data is decoded first (any
 * syntax the codecs read), the recipe's rectangles are blanked in every frame, and the result
 * stays uncompressed (Explicit VR Little Endian), so no lossy step follows the cleaning.
 */
import { Dataset } from '../dicom/dataset';
import { Tags } from '../dicom/tags';
import { TS, transferSyntax } from '../dicom/transfer-syntax';
import { encapsulatedFrameBytes, numberOfFrames } from '../dicom/frames';
import { canDecode } from '../imaging/decode';
import { pixelDescriptionOf, replaceWithNativePixels } from '../imaging/native-pixels';
import { VeilgateError } from '../errors';
import { blankRegions } from './pixel-clean';
import type { PixelRegion } from './pixel-recipes';

/** Whether cleaning pixels in this syntax needs the WebAssembly codecs loaded first. */
export function pixelCleaningNeedsCodecs(transferSyntaxUID: string): boolean {
  return !!transferSyntax(transferSyntaxUID)?.encapsulated;
}

/**
 * Blank `regions` in every frame of `ds`'s Pixel Data (in place: `ds` is the de-identified
 * copy, whose entries are replaced, never mutated). Returns the syntax the pixels are now in.
 */
export function cleanBurnedInPixels(ds: Dataset, transferSyntaxUID: string, regions: readonly PixelRegion[]): string {
  let syntax = transferSyntaxUID;
  const element = ds.get(Tags.PixelData);
  if (!element) return syntax;
  if (element.fragments) {
    if (!canDecode(transferSyntaxUID)) {
      throw new VeilgateError('refused', `burned-in text cannot be cleaned: pixel data in ${transferSyntax(transferSyntaxUID)?.name ?? transferSyntaxUID} cannot be decoded here`);
    }
    const frames = encapsulatedFrameBytes(ds);
    if (!frames || frames.length !== numberOfFrames(ds)) throw new VeilgateError('cannot-understand', 'the frames of the encapsulated pixel data cannot be told apart');
    replaceWithNativePixels(ds, transferSyntaxUID, frames);
    syntax = TS.ExplicitVRLittleEndian;
  }
  const native = ds.get(Tags.PixelData)!;
  const cleaned = blankRegions(native.value ?? new Uint8Array(0), numberOfFrames(ds), pixelDescriptionOf(ds), regions);
  ds.set(Tags.PixelData, { tag: Tags.PixelData, vr: native.vr, value: cleaned });
  return syntax;
}
