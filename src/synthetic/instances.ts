/**
 * Synthetic DICOM instances for tests and benchmarks: a CT image IOD with chosen
 * identifiers and a deterministic pixel pattern, written with the project's writer.
 */
import { Dataset, DataElement, Tag } from '../dicom/dataset';
import { Tags } from '../dicom/tags';
import { stringElement, uint16Element } from '../dicom/values';
import { writePart10 } from '../dicom/write';
import { TS } from '../dicom/transfer-syntax';

import { randomUid } from '../dicom/uid';

export { randomUid };

export interface SyntheticOptions {
  studyUID?: string;
  seriesUID?: string;
  sopInstanceUID?: string;
  patientName?: string;
  patientID?: string;
  studyDate?: string;
  studyTime?: string;
  accessionNumber?: string;
  studyDescription?: string;
  seriesDescription?: string;
  modality?: string;
  seriesNumber?: number;
  instanceNumber?: number;
  rows?: number;
  columns?: number;
  frames?: number;
  /** Value added to every pixel, so instances differ. */
  seed?: number;
  /** Extra elements, e.g. identifying values for de-identification tests. */
  extra?: DataElement[];
}

const CT_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.2';

function text(ds: Dataset, t: Tag, vr: string, value: string): void {
  ds.set(t, stringElement(t, vr, value));
}

export interface SyntheticInstance {
  bytes: Buffer;
  studyUID: string;
  seriesUID: string;
  sopInstanceUID: string;
  pixelData: Uint8Array;
}

export function syntheticDataset(o: SyntheticOptions = {}): { dataset: Dataset; uids: Omit<SyntheticInstance, 'bytes' | 'pixelData'>; pixelData: Uint8Array } {
  const studyUID = o.studyUID ?? randomUid();
  const seriesUID = o.seriesUID ?? randomUid();
  const sopInstanceUID = o.sopInstanceUID ?? randomUid();
  const rows = o.rows ?? 64;
  const columns = o.columns ?? 64;
  const frames = o.frames ?? 1;
  const instanceNumber = o.instanceNumber ?? 1;
  const ds: Dataset = new Map();
  text(ds, Tags.SpecificCharacterSet, 'CS', 'ISO_IR 100');
  text(ds, Tags.ImageType, 'CS', 'ORIGINAL\\PRIMARY\\AXIAL');
  text(ds, Tags.SOPClassUID, 'UI', CT_IMAGE_STORAGE);
  text(ds, Tags.SOPInstanceUID, 'UI', sopInstanceUID);
  text(ds, Tags.StudyDate, 'DA', o.studyDate ?? '20240102');
  text(ds, Tags.StudyTime, 'TM', o.studyTime ?? '101500');
  text(ds, Tags.AccessionNumber, 'SH', o.accessionNumber ?? 'ACC0001');
  text(ds, Tags.Modality, 'CS', o.modality ?? 'CT');
  text(ds, Tags.ReferringPhysicianName, 'PN', 'Referrer^Rita');
  text(ds, Tags.StudyDescription, 'LO', o.studyDescription ?? 'Synthetic study');
  text(ds, Tags.SeriesDescription, 'LO', o.seriesDescription ?? 'Synthetic series');
  text(ds, Tags.PatientName, 'PN', o.patientName ?? 'Synthetic^Patient');
  text(ds, Tags.PatientID, 'LO', o.patientID ?? 'SYN0001');
  text(ds, Tags.PatientBirthDate, 'DA', '19700101');
  text(ds, Tags.PatientSex, 'CS', 'O');
  text(ds, Tags.StudyInstanceUID, 'UI', studyUID);
  text(ds, Tags.SeriesInstanceUID, 'UI', seriesUID);
  text(ds, Tags.StudyID, 'SH', 'S1');
  text(ds, Tags.SeriesNumber, 'IS', String(o.seriesNumber ?? 1));
  text(ds, Tags.InstanceNumber, 'IS', String(instanceNumber));
  text(ds, 0x00200032, 'DS', `-100\\-100\\${instanceNumber * 2.5}`);
  text(ds, 0x00200037, 'DS', '1\\0\\0\\0\\1\\0');
  text(ds, 0x00200052, 'UI', studyUID + '.1');
  text(ds, 0x00280030, 'DS', '0.5\\0.5');
  text(ds, 0x00180050, 'DS', '2.5');
  // Type 2 attributes of the CT Image IOD, so validators see a complete object.
  text(ds, 0x00080070, 'LO', 'Veilgate synthetic');
  text(ds, 0x00180060, 'DS', '120');
  text(ds, 0x00185100, 'CS', 'HFS');
  text(ds, 0x00200012, 'IS', '1');
  text(ds, 0x00200060, 'CS', '');
  text(ds, 0x00201040, 'LO', '');
  ds.set(Tags.SamplesPerPixel, uint16Element(Tags.SamplesPerPixel, [1]));
  text(ds, Tags.PhotometricInterpretation, 'CS', 'MONOCHROME2');
  if (frames > 1) text(ds, Tags.NumberOfFrames, 'IS', String(frames));
  ds.set(Tags.Rows, uint16Element(Tags.Rows, [rows]));
  ds.set(Tags.Columns, uint16Element(Tags.Columns, [columns]));
  ds.set(Tags.BitsAllocated, uint16Element(Tags.BitsAllocated, [16]));
  ds.set(Tags.BitsStored, uint16Element(Tags.BitsStored, [12]));
  ds.set(0x00280102, uint16Element(0x00280102, [11]));
  ds.set(Tags.PixelRepresentation, uint16Element(Tags.PixelRepresentation, [0]));
  text(ds, 0x00281052, 'DS', '-1024');
  text(ds, 0x00281053, 'DS', '1');
  const pixels = new Uint16Array(rows * columns * frames);
  const seed = o.seed ?? instanceNumber;
  for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 7 + seed * 13) & 0x0fff;
  const pixelData = new Uint8Array(pixels.buffer);
  ds.set(Tags.PixelData, { tag: Tags.PixelData, vr: 'OW', value: pixelData });
  for (const el of o.extra ?? []) ds.set(el.tag, el);
  return { dataset: ds, uids: { studyUID, seriesUID, sopInstanceUID }, pixelData };
}

export function syntheticInstance(o: SyntheticOptions = {}): SyntheticInstance {
  const { dataset, uids, pixelData } = syntheticDataset(o);
  const written = writePart10(dataset, { sopClassUID: CT_IMAGE_STORAGE, sopInstanceUID: uids.sopInstanceUID, transferSyntaxUID: TS.ExplicitVRLittleEndian });
  return { bytes: Buffer.concat(written.chunks), pixelData, ...uids };
}
