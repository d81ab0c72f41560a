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
import { ByteRange, writePart10 } from '../dicom/write';
import { VeilgateError } from '../errors';
import { canDecode, codecsReady } from './decode';
import { replaceWithNativePixels } from './native-pixels';

const UNCOMPRESSED_TARGETS: readonly string[] = [TS.ExplicitVRLittleEndian, TS.ImplicitVRLittleEndian];

/** Whether an instance stored in `stored` can be sent in `target`. */
export function canTranscode(stored: string, target: string): boolean {
  if (stored === target) return true;
  if (!UNCOMPRESSED_TARGETS.includes(target)) return false;
  return !transferSyntax(stored)?.encapsulated || canDecode(stored);
}

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
  if (ds.get(Tags.PixelData)?.fragments) {
    if (!frames?.length) throw new VeilgateError('unprocessable', 'the stored instance has no frame offsets to decode');
    replaceWithNativePixels(ds, stored, frames.map((ranges) => concat(ranges.map((r) => file.subarray(r.offset, r.offset + r.length)))));
  }
  const sopClassUID = readUidValue(ds.get(Tags.SOPClassUID));
  const sopInstanceUID = readUidValue(ds.get(Tags.SOPInstanceUID));
  if (!sopClassUID || !sopInstanceUID) throw new VeilgateError('unprocessable', 'the stored instance lacks its SOP UIDs');
  return writePart10(ds, { sopClassUID, sopInstanceUID, transferSyntaxUID: target }).chunks;
}

function concat(parts: Uint8Array[]): Uint8Array {
  return parts.length === 1 ? parts[0] : Buffer.concat(parts);
}
