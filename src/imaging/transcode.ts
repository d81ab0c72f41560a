/**
 * Transcoding of a stored instance to an uncompressed syntax (Explicit or Implicit VR Little
 * Endian) for WADO-RS retrieve: every frame decoded from its own bytes, the Pixel Data
 * replaced by native pixels, and the pixel description updated to what the pixels now are.
 * One instance is held in memory at a time; callers stream the result.
 */
import { Dataset } from '../dicom/dataset';
import { parsePart10, readUidValue } from '../dicom/parse';
import { Tags } from '../dicom/tags';
import { TS, transferSyntax } from '../dicom/transfer-syntax';
import { numberValue, stringElement, stringValue, uint16Element } from '../dicom/values';
import { ByteRange, writePart10 } from '../dicom/write';
import { VeilgateError } from '../errors';
import { canDecode, codecsReady, decodeFrameNow, decodedDescription, describePixels } from './decode';

const UNCOMPRESSED_TARGETS: readonly string[] = [TS.ExplicitVRLittleEndian, TS.ImplicitVRLittleEndian];

/** Whether an instance stored in `stored` can be sent in `target`. */
export function canTranscode(stored: string, target: string): boolean {
  if (stored === target) return true;
  if (!UNCOMPRESSED_TARGETS.includes(target)) return false;
  return !transferSyntax(stored)?.encapsulated || canDecode(stored);
}

const LOSSY_IMAGE_COMPRESSION = 0x00282110;
const LOSSY_IMAGE_COMPRESSION_METHOD = 0x00282114;
const LOSSY_METHOD: Record<string, string> = {
  '1.2.840.10008.1.2.4.50': 'ISO_10918_1',
  '1.2.840.10008.1.2.4.51': 'ISO_10918_1',
  '1.2.840.10008.1.2.4.81': 'ISO_14495_1',
  '1.2.840.10008.1.2.4.91': 'ISO_15444_1',
  '1.2.840.10008.1.2.4.203': 'ISO_15444_15',
};

/** The Part 10 bytes of `file` (stored in `stored`, frames at `frames`) in `target`. */
export async function transcodeInstance(file: Uint8Array, stored: string, target: string, frames: ByteRange[][] | undefined): Promise<Uint8Array[]> {
  if (transferSyntax(stored)?.encapsulated) await codecsReady();
  return transcodeInstanceNow(file, stored, target, frames);
}

/** transcodeInstance without waiting: for compressed sources, codecsReady() must have resolved. */
export function transcodeInstanceNow(file: Uint8Array, stored: string, target: string, frames: ByteRange[][] | undefined): Uint8Array[] {
  if (!canTranscode(stored, target)) throw new VeilgateError('not-acceptable', `an instance stored as ${stored} cannot be sent as ${target}`);
  const parsed = parsePart10(file);
  const ds: Dataset = parsed.dataset;
  const pixel = ds.get(Tags.PixelData);
  if (pixel?.fragments) {
    if (!frames?.length) throw new VeilgateError('unprocessable', 'the stored instance has no frame offsets to decode');
    const p = describePixels((t) => numberValue(ds, t), stringValue(ds, Tags.PhotometricInterpretation));
    const decoded = decodedDescription(p, stored);
    const frameBytes = (p.rows * p.columns * p.samplesPerPixel * p.bitsAllocated) / 8;
    const native = new Uint8Array(frameBytes * frames.length);
    for (let i = 0; i < frames.length; i++) {
      const encoded = concat(frames[i].map((r) => file.subarray(r.offset, r.offset + r.length)));
      native.set(decodeFrameNow(encoded, stored, p), i * frameBytes);
    }
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
  }
  const sopClassUID = readUidValue(ds.get(Tags.SOPClassUID));
  const sopInstanceUID = readUidValue(ds.get(Tags.SOPInstanceUID));
  if (!sopClassUID || !sopInstanceUID) throw new VeilgateError('unprocessable', 'the stored instance lacks its SOP UIDs');
  return writePart10(ds, { sopClassUID, sopInstanceUID, transferSyntaxUID: target }).chunks;
}

function concat(parts: Uint8Array[]): Uint8Array {
  return parts.length === 1 ? parts[0] : Buffer.concat(parts);
}
