/**
 * Encapsulated pixel data → native pixels in a data set: every frame decoded from its own
 * bytes, Pixel Data replaced by the native frames back to back, and the pixel description set
 * to what the pixels now are (PS3.3 C.7.6.3, C.7.6.1.1.5). Shared by transcoding on retrieve and
 * by burned-in pixel cleaning on ingest.
 */
import { Dataset } from '../dicom/dataset';
import { Tags } from '../dicom/tags';
import { transferSyntax } from '../dicom/transfer-syntax';
import { numberValue, stringElement, stringValue, uint16Element } from '../dicom/values';
import { VeilgateError } from '../errors';
import { decodeFrameNow, decodedDescription, describePixels, PixelDescription } from './decode';

const LOSSY_IMAGE_COMPRESSION = 0x00282110;
const LOSSY_IMAGE_COMPRESSION_METHOD = 0x00282114;
const LOSSY_METHOD: Record<string, string> = {
  '1.2.840.10008.1.2.4.50': 'ISO_10918_1',
  '1.2.840.10008.1.2.4.51': 'ISO_10918_1',
  '1.2.840.10008.1.2.4.81': 'ISO_14495_1',
  '1.2.840.10008.1.2.4.91': 'ISO_15444_1',
  '1.2.840.10008.1.2.4.203': 'ISO_15444_15',
};

export function pixelDescriptionOf(ds: Dataset): PixelDescription {
  return describePixels((t) => numberValue(ds, t), stringValue(ds, Tags.PhotometricInterpretation));
}

/**
 * Replace the encapsulated Pixel Data of `ds` (in place) by native pixels decoded from
 * `frames`, the encoded bytes of each frame. The codecs must be ready (codecsReady()).
 */
export function replaceWithNativePixels(ds: Dataset, stored: string, frames: Uint8Array[]): PixelDescription {
  const p = pixelDescriptionOf(ds);
  const decoded = decodedDescription(p, stored);
  const frameBytes = (p.rows * p.columns * p.samplesPerPixel * p.bitsAllocated) / 8;
  if (!Number.isSafeInteger(frameBytes * frames.length) || frameBytes * frames.length > 2 ** 31 - 1) {
    throw new VeilgateError('out-of-resources', 'the decoded pixel data would exceed 2 GiB');
  }
  const native = new Uint8Array(frameBytes * frames.length);
  for (let i = 0; i < frames.length; i++) native.set(decodeFrameNow(frames[i], stored, p), i * frameBytes);
  ds.set(Tags.PixelData, { tag: Tags.PixelData, vr: p.bitsAllocated > 8 ? 'OW' : 'OB', value: native });
  ds.delete(Tags.ExtendedOffsetTable);
  ds.delete(Tags.ExtendedOffsetTableLengths);
  if (p.samplesPerPixel > 1) ds.set(Tags.PlanarConfiguration, uint16Element(Tags.PlanarConfiguration, [0]));
  if (decoded.photometricInterpretation !== p.photometricInterpretation) {
    ds.set(Tags.PhotometricInterpretation, stringElement(Tags.PhotometricInterpretation, 'CS', decoded.photometricInterpretation));
  }
  // PS3.3 C.7.6.1.1.5: once lossy, always marked lossy, with the method that made it so.
  if (transferSyntax(stored)?.lossy && stringValue(ds, LOSSY_IMAGE_COMPRESSION) !== '01') {
    ds.set(LOSSY_IMAGE_COMPRESSION, stringElement(LOSSY_IMAGE_COMPRESSION, 'CS', '01'));
    if (!ds.has(LOSSY_IMAGE_COMPRESSION_METHOD) && LOSSY_METHOD[stored]) {
      ds.set(LOSSY_IMAGE_COMPRESSION_METHOD, stringElement(LOSSY_IMAGE_COMPRESSION_METHOD, 'CS', LOSSY_METHOD[stored]));
    }
  }
  return decoded;
}
