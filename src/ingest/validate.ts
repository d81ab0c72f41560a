/** What an instance must have before it is stored (PS3.10 7.1, PS3.4 B.2.3). */
import { Dataset } from '../dicom/dataset';
import { Tags } from '../dicom/tags';
import { readUidValue } from '../dicom/parse';
import { isSafeUid } from '../dicom/uid';
import { transferSyntax } from '../dicom/transfer-syntax';
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

function requiredUid(ds: Dataset, tag: number, name: string): string {
  const uid = readUidValue(ds.get(tag));
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
