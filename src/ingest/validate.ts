/** What an instance must have before it is stored (PS3.10 7.1, PS3.4 B.2.3). */
import { Dataset } from '../dicom/dataset';
import { Tags } from '../dicom/tags';
import { readUidValue } from '../dicom/parse';
import { isSafeUid } from '../dicom/uid';
import { TS, transferSyntax } from '../dicom/transfer-syntax';
import { numberValue, stringValue } from '../dicom/values';
import type { Limits } from '../limits';
import { VeilgateError } from '../errors';
import sopClasses from '../dicom/standard/sop-classes.json';

export interface InstanceIdentity {
  sopClassUID: string;
  sopInstanceUID: string;
  studyUID: string;
  seriesUID: string;
}

const sopClassNames = sopClasses as Record<string, string>;

/** Storage SOP classes whose IOD has an Image Pixel module (images, not documents or objects). */
function isImageSopClass(uid: string): boolean {
  const name = sopClassNames[uid];
  if (!name) return false;
  if (/Segmentation|Parametric Map/.test(name)) return true;
  return /Image Storage/.test(name) && !/Presentation|Raw Data|Spatial|Real World/.test(name);
}

/**
 * An identity UID must be a UI element: the parser already read a UID sent under another VR as
 * UI when its bytes are one, so what is left is not a UID, whatever bytes it holds (and rules
 * that go by VR, such as the UID remapping, would not treat it as one).
 */
function requiredUid(ds: Dataset, tag: number, name: string): string {
  const el = ds.get(tag);
  if (el && el.vr !== 'UI') throw new VeilgateError('cannot-understand', `${name} is encoded as ${el.items ? 'a sequence' : el.vr}, not UI`);
  const uid = readUidValue(el);
  if (!uid) throw new VeilgateError('cannot-understand', `${name} is missing`);
  if (!isSafeUid(uid)) throw new VeilgateError('cannot-understand', `${name} is not a valid UID`);
  return uid;
}

export function identify(ds: Dataset): InstanceIdentity {
  return {
    sopClassUID: requiredUid(ds, Tags.SOPClassUID, 'SOPClassUID'),
    sopInstanceUID: requiredUid(ds, Tags.SOPInstanceUID, 'SOPInstanceUID'),
    studyUID: requiredUid(ds, Tags.StudyInstanceUID, 'StudyInstanceUID'),
    seriesUID: requiredUid(ds, Tags.SeriesInstanceUID, 'SeriesInstanceUID'),
  };
}

/**
 * File meta information must describe the data set it heads. A different SOP class means
 * the sender does not know what it sent; a different instance UID is a common writer slip,
 * and harmless since the meta group is rebuilt from the data set: a warning.
 */
export function checkMeta(meta: Dataset, id: InstanceIdentity): string[] {
  const metaClass = readUidValue(meta.get(Tags.MediaStorageSOPClassUID));
  const metaInstance = readUidValue(meta.get(Tags.MediaStorageSOPInstanceUID));
  if (metaClass && metaClass !== id.sopClassUID) {
    throw new VeilgateError('sop-class-mismatch', 'MediaStorageSOPClassUID in the file meta information differs from SOPClassUID');
  }
  if (metaInstance && metaInstance !== id.sopInstanceUID) {
    return ['MediaStorageSOPInstanceUID differed from SOPInstanceUID; the file meta information was rebuilt from the data set'];
  }
  return [];
}

export function checkTransferSyntax(uid: string): void {
  if (!transferSyntax(uid)) throw new VeilgateError('unsupported-transfer-syntax', `transfer syntax ${uid} is not supported`);
}

/** An image SOP class without an image (no pixel data or no image pixel description) is not that SOP class. */
export function checkSopClass(ds: Dataset, id: InstanceIdentity): void {
  if (!isImageSopClass(id.sopClassUID)) return;
  const hasPixels = ds.has(Tags.PixelData) || ds.has(Tags.FloatPixelData) || ds.has(Tags.DoubleFloatPixelData);
  const missing = [
    [Tags.Rows, 'Rows'],
    [Tags.Columns, 'Columns'],
    [Tags.BitsAllocated, 'BitsAllocated'],
    [Tags.SamplesPerPixel, 'SamplesPerPixel'],
    [Tags.PhotometricInterpretation, 'PhotometricInterpretation'],
  ]
    .filter(([t]) => !ds.has(t as number))
    .map(([, n]) => n);
  if (!hasPixels) missing.push('PixelData');
  if (missing.length) {
    throw new VeilgateError('sop-class-mismatch', `${sopClassNames[id.sopClassUID]} requires ${missing.join(', ')}`);
  }
}

/**
 * The pixel data must be what its header says, within the limits, before anything decodes,
 * renders or indexes frames of it: NumberOfFrames and the frame size bound what a tiny upload
 * can make the gateway do later. Returns the transfer syntax the pixel data is really in.
 */
export function checkPixelData(ds: Dataset, transferSyntaxUID: string, limits: Pick<Limits, 'maxFrames' | 'maxDecodedPixelBytes'>): { transferSyntaxUID: string; warnings: string[] } {
  const pixel = ds.get(Tags.PixelData) ?? ds.get(Tags.FloatPixelData) ?? ds.get(Tags.DoubleFloatPixelData);
  if (!pixel) return { transferSyntaxUID, warnings: [] };
  const warnings: string[] = [];
  const declared = stringValue(ds, Tags.NumberOfFrames);
  let frames = declared === undefined ? 1 : Number(declared);
  if (!Number.isInteger(frames) || frames < 1) {
    // As the frame index reads it (dicom/frames.ts): one frame.
    warnings.push('NumberOfFrames is not a positive whole number; the pixel data is read as one frame');
    frames = 1;
  }
  if (frames > limits.maxFrames) throw new VeilgateError('payload-too-large', `NumberOfFrames ${frames} is over the ${limits.maxFrames}-frame limit`);
  const bits = pixel.tag === Tags.FloatPixelData ? 32 : pixel.tag === Tags.DoubleFloatPixelData ? 64 : (numberValue(ds, Tags.BitsAllocated) ?? 0);
  // YBR_*_422 native pixels hold two samples per pixel on average (PS3.3 C.7.6.3.1.2).
  const subsampled = !pixel.fragments && (stringValue(ds, Tags.PhotometricInterpretation) ?? '').toUpperCase().endsWith('_422');
  const samples = subsampled ? 2 : (numberValue(ds, Tags.SamplesPerPixel) ?? 1);
  const frameBits = (numberValue(ds, Tags.Rows) ?? 0) * (numberValue(ds, Tags.Columns) ?? 0) * samples * bits;
  const decoded = Math.ceil((frameBits * frames) / 8);
  if (decoded > limits.maxDecodedPixelBytes) {
    throw new VeilgateError('payload-too-large', `the pixel data declares ${decoded} decoded bytes, over the ${limits.maxDecodedPixelBytes}-byte limit`);
  }
  const encapsulatedSyntax = !!transferSyntax(transferSyntaxUID)?.encapsulated;
  if (pixel.fragments) {
    if (!encapsulatedSyntax) throw new VeilgateError('cannot-understand', 'encapsulated Pixel Data under an uncompressed transfer syntax');
    // Every frame starts a fragment of its own (PS3.5 A.4).
    const dataFragments = pixel.fragments.length - 1;
    if (frames > dataFragments) throw new VeilgateError('cannot-understand', `NumberOfFrames ${frames} is more than the ${dataFragments} fragment(s) of the pixel data`);
    return { transferSyntaxUID, warnings };
  }
  const length = pixel.value?.length ?? 0;
  if (frameBits > 0 && length < Math.floor((frameBits * frames) / 8)) {
    throw new VeilgateError('cannot-understand', `Pixel Data holds ${length} bytes, fewer than NumberOfFrames × the frame size`);
  }
  if (encapsulatedSyntax) {
    // Native pixels labelled with a compressed syntax: stored as what they are.
    return { transferSyntaxUID: TS.ExplicitVRLittleEndian, warnings: [...warnings, 'native Pixel Data was labelled with a compressed transfer syntax; stored as Explicit VR Little Endian'] };
  }
  return { transferSyntaxUID, warnings };
}
