/**
 * A volume (NIfTI grid and voxels) → a derived DICOM series in its source's study: one CT or
 * MR image per slice with its own ImagePositionPatient, the source's Frame of Reference,
 * DERIVED\SECONDARY image type, references to the source, and Rescale holding real values.
 */
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../paths';
import { DataElement, Dataset, Tag, isPrivateTag } from '../dicom/dataset';
import { Tags } from '../dicom/tags';
import { encodeText, stringValue, uint16Element } from '../dicom/values';
import { readUidValue } from '../dicom/parse';
import { VeilgateError } from '../errors';
import { randomUid } from '../dicom/uid';
import { Vec3, column, dot, flipXY, norm, scale } from './geometry';
import { NiftiVolume } from './nifti';
import { SliceStack } from './series-geometry';

const CT_IMAGE = '1.2.840.10008.5.1.4.1.1.2';
const VEILGATE_VERSION: string = JSON.parse(fs.readFileSync(path.join(projectRoot(), 'package.json'), 'utf8')).version;
const MR_IMAGE = '1.2.840.10008.5.1.4.1.1.4';

/** The class itself or one of its family (Enhanced, Legacy Converted: `class.N`); not NM's `…1.1.20`. */
function inFamily(sourceClass: string, family: string): boolean {
  return sourceClass === family || sourceClass.startsWith(`${family}.`);
}

/** Classic image SOP class for a source's class: CT and MR families only. */
function derivedSopClass(sourceClass: string, modality: string): string {
  if (inFamily(sourceClass, CT_IMAGE) || modality === 'CT') return CT_IMAGE;
  if (inFamily(sourceClass, MR_IMAGE) || modality === 'MR') return MR_IMAGE;
  throw new VeilgateError('cannot-understand', 'derived series can be made from CT and MR series only');
}

/** Attributes the source has that describe its own pixels or frames, not the derived ones. */
const NOT_COPIED = new Set<Tag>([
  Tags.SOPInstanceUID, Tags.SOPClassUID, Tags.SeriesInstanceUID, Tags.SeriesNumber, Tags.SeriesDescription, Tags.InstanceNumber,
  Tags.ImageType, Tags.NumberOfFrames, Tags.Rows, Tags.Columns, Tags.BitsAllocated, Tags.BitsStored, 0x00280102,
  Tags.PixelRepresentation, Tags.SamplesPerPixel, Tags.PhotometricInterpretation, Tags.PixelData, Tags.FloatPixelData,
  Tags.DoubleFloatPixelData, 0x00200032, 0x00200037, 0x00280030, 0x00180050, 0x00201041, 0x00180088, 0x00281050,
  0x00281051, 0x00281052, 0x00281053, 0x00281054, 0x00281055, 0x00280106, 0x00280107, 0x00280120, 0x00280300,
  0x00280301, 0x00082111, 0x00082112, 0x00081140, 0x00081115, 0x00280034, 0x00283010, 0x00281090, 0x00200012,
  0x52009229, 0x52009230, 0x00209221, 0x00209222, 0x00209311, 0x00280006, 0x7fe00001, 0x7fe00002, 0x00189004,
  0x00089007, 0x00089205, 0x00089206, 0x00089207, 0x00189005, 0x00280002,
  0x00181120, // GantryDetectorTilt: the derived grid's slices are placed by their own positions
]);

/** Acquisition attributes of the classic CT and MR Image modules (and General Series/Equipment). */
const CLASSIC_ACQUISITION = new Set<Tag>([
  0x00180015, 0x00180020, 0x00180021, 0x00180022, 0x00180023, 0x00180024, 0x00180025, 0x00180060, 0x00180080,
  0x00180081, 0x00180083, 0x00180084, 0x00180085, 0x00180086, 0x00180087, 0x00180089, 0x00180091, 0x00180093,
  0x00180094, 0x00180095, 0x00181000, 0x00181020, 0x00181030, 0x00181314, 0x00185100,
]);

/** Type 2 attributes the IODs require that a source may lack: present, empty. */
const TYPE2_DEFAULTS: [Tag, string][] = [
  [Tags.PatientName, 'PN'], [Tags.PatientID, 'LO'], [Tags.PatientBirthDate, 'DA'], [Tags.PatientSex, 'CS'],
  [Tags.StudyDate, 'DA'], [Tags.StudyTime, 'TM'], [Tags.ReferringPhysicianName, 'PN'], [Tags.StudyID, 'SH'],
  [Tags.AccessionNumber, 'SH'], [0x00080070, 'LO'], [0x00201040, 'LO'], [0x00185100, 'CS'],
];

/** Type 1 attributes of the classic MR Image module an enhanced source does not carry at top level. */
const MR_DEFAULTS: [Tag, string, string][] = [
  [0x00180020, 'CS', 'RM'], // ScanningSequence: research mode
  [0x00180021, 'CS', 'NONE'], // SequenceVariant
  [0x00180022, 'CS', ''], // ScanOptions (Type 2)
  [0x00180023, 'CS', ''], // MRAcquisitionType (Type 2)
  [0x00180080, 'DS', ''], // RepetitionTime (Type 2C)
  [0x00180081, 'DS', ''], // EchoTime (Type 2)
  [0x00180091, 'IS', ''], // EchoTrainLength (Type 2)
];

const CT_DEFAULTS: [Tag, string, string][] = [
  [0x00180060, 'DS', ''], // KVP (Type 2)
  [0x00200012, 'IS', ''], // AcquisitionNumber (Type 2)
];

function text(t: Tag, vr: string, value: string): DataElement {
  return { tag: t, vr, value: encodeText(value, vr) };
}

function ds(values: number[]): string {
  return values.map((v) => Number(v.toPrecision(10)).toString().slice(0, 16)).join('\\');
}

export interface DerivedSeriesInput {
  volume: NiftiVolume;
  /** A de-identified instance of the source series: patient, study and equipment are copied from it. */
  source: Dataset;
  stack?: SliceStack;
  sourceSeriesUID: string;
  /** Every instance of the source series, for the Common Instance Reference module. */
  sourceInstances: { sopClassUID: string; sopInstanceUID: string }[];
  seriesDescription: string;
  derivationDescription: string;
}

/** Stored values and the Rescale that maps them back to the volume's real values. */
function quantise(v: NiftiVolume): { pixels: Int16Array; slope: number; intercept: number } {
  const n = v.dims[0] * v.dims[1] * v.dims[2];
  let min = Infinity;
  let max = -Infinity;
  let integral = v.sclSlope === 1 && Number.isInteger(v.sclInter);
  for (let i = 0; i < n; i++) {
    const x = v.data[i] * v.sclSlope + v.sclInter;
    if (x < min) min = x;
    if (x > max) max = x;
    if (integral && !Number.isInteger(x)) integral = false;
  }
  if (!Number.isFinite(min)) min = max = 0;
  const pixels = new Int16Array(n);
  if (integral && min >= -32768 && max <= 32767) {
    for (let i = 0; i < n; i++) pixels[i] = v.data[i] + v.sclInter;
    return { pixels, slope: 1, intercept: 0 };
  }
  // Real values: spread the range over the int16 codes.
  const slope = max > min ? (max - min) / 65535 : 1;
  const intercept = min + 32768 * slope;
  for (let i = 0; i < n; i++) pixels[i] = Math.round((v.data[i] * v.sclSlope + v.sclInter - intercept) / slope);
  return { pixels, slope, intercept };
}

export function volumeToDicomSeries(input: DerivedSeriesInput): Dataset[] {
  const { volume, source, stack } = input;
  if (volume.dims[3] > 1) throw new VeilgateError('unprocessable', 'only a 3D volume can become a derived series (this one has ' + volume.dims[3] + ' volumes)');
  const [ni, nj, nk] = volume.dims;
  if (ni > 65535 || nj > 65535) throw new VeilgateError('cannot-understand', 'the volume is too large for DICOM rows and columns');
  const sopClass = derivedSopClass(readUidValue(source.get(Tags.SOPClassUID)) ?? '', stringValue(source, Tags.Modality) ?? '');
  const lps = flipXY(volume.affine);
  let colStep = column(lps, 0);
  let rowStep = column(lps, 1);
  const sliceStep = column(lps, 2);
  let origin: Vec3 = [lps[0][3], lps[1][3], lps[2][3]];
  // Keep the source's in-plane orientation where the volume runs the other way, so the derived
  // images look like the source images in any viewer. Without a slice stack to compare with
  // (mosaics, enhanced objects), follow dcm2niix, whose volumes run opposite to DICOM rows.
  const flipI = stack ? dot(colStep, stack.rowDirection) < 0 : false;
  const flipJ = stack ? dot(rowStep, stack.columnDirection) < 0 : true;
  const along = (p: Vec3, v: Vec3, n: number): Vec3 => [p[0] + v[0] * n, p[1] + v[1] * n, p[2] + v[2] * n];
  if (flipI) {
    origin = along(origin, colStep, ni - 1);
    colStep = scale(colStep, -1);
  }
  if (flipJ) {
    origin = along(origin, rowStep, nj - 1);
    rowStep = scale(rowStep, -1);
  }
  const colSpacing = norm(colStep);
  const rowSpacing = norm(rowStep);
  const iop = [...scale(colStep, 1 / colSpacing), ...scale(rowStep, 1 / rowSpacing)];
  const { pixels, slope, intercept } = quantise(volume);
  const seriesUID = randomUid();
  const sourceSeriesNumber = Number(stringValue(source, Tags.SeriesNumber) ?? '0') || 0;

  const common: Dataset = new Map();
  // An enhanced source's top level follows enhanced rules: of its acquisition attributes (group
  // 0018) only those the classic image modules define carry over.
  const enhanced = (readUidValue(source.get(Tags.SOPClassUID)) ?? '') !== sopClass && source.has(0x52009229);
  for (const [t, el] of source) {
    if (NOT_COPIED.has(t) || isPrivateTag(t) || t >>> 16 === 0x0002) continue;
    if (enhanced && t >>> 16 === 0x0018 && !CLASSIC_ACQUISITION.has(t)) continue;
    common.set(t, el);
  }
  for (const [t, vr, value] of sopClass === MR_IMAGE ? MR_DEFAULTS : CT_DEFAULTS) if (!common.has(t)) common.set(t, text(t, vr, value));
  for (const [t, vr] of TYPE2_DEFAULTS) if (!common.has(t)) common.set(t, text(t, vr, ''));
  // Laterality is needed for a paired body part; with the body part unknown, send it empty.
  if (!common.has(0x00180015) && !common.has(0x00200060)) common.set(0x00200060, text(0x00200060, 'CS', ''));
  const put = (d: Dataset, el: DataElement) => d.set(el.tag, el);
  put(common, text(Tags.SOPClassUID, 'UI', sopClass));
  put(common, text(Tags.SeriesInstanceUID, 'UI', seriesUID));
  put(common, text(Tags.SeriesNumber, 'IS', String(sourceSeriesNumber + 1000)));
  put(common, text(Tags.SeriesDescription, 'LO', input.seriesDescription.slice(0, 64)));
  // CT and MR images require a third value: AXIAL for a CT stack (PS3.3 C.8.2.1.1.1), OTHER for MR.
  put(common, text(Tags.ImageType, 'CS', sopClass === CT_IMAGE ? 'DERIVED\\SECONDARY\\AXIAL' : 'DERIVED\\SECONDARY\\OTHER'));
  put(common, text(0x00082111, 'ST', input.derivationDescription.slice(0, 1024)));
  put(common, text(0x00200037, 'DS', ds(iop)));
  put(common, text(0x00280030, 'DS', ds([rowSpacing, colSpacing])));
  put(common, text(0x00180050, 'DS', ds([norm(sliceStep)])));
  put(common, uint16Element(Tags.SamplesPerPixel, [1]));
  put(common, text(Tags.PhotometricInterpretation, 'CS', 'MONOCHROME2'));
  put(common, uint16Element(Tags.Rows, [nj]));
  put(common, uint16Element(Tags.Columns, [ni]));
  put(common, uint16Element(Tags.BitsAllocated, [16]));
  put(common, uint16Element(Tags.BitsStored, [16]));
  put(common, uint16Element(0x00280102, [15]));
  put(common, uint16Element(Tags.PixelRepresentation, [1]));
  // The derived images are made by the gateway: it is their equipment (and readers such as
  // dcm2niix must not apply the source vendor's private scaling rules to them).
  put(common, text(0x00080070, 'LO', 'Veilgate'));
  put(common, text(0x00081090, 'LO', 'Veilgate gateway'));
  put(common, text(0x00181020, 'LO', VEILGATE_VERSION));
  put(common, text(0x00281052, 'DS', ds([intercept])));
  put(common, text(0x00281053, 'DS', ds([slope])));
  if (sopClass === CT_IMAGE) put(common, text(0x00281054, 'LO', 'HU'));
  // Common Instance Reference: the source series and every instance of it.
  const referencedInstances: Dataset[] = input.sourceInstances.map(
    (s) =>
      new Map([
        [0x00081150, text(0x00081150, 'UI', s.sopClassUID)],
        [0x00081155, text(0x00081155, 'UI', s.sopInstanceUID)],
      ]),
  );
  const referencedSeries: Dataset = new Map<Tag, DataElement>([[Tags.SeriesInstanceUID, text(Tags.SeriesInstanceUID, 'UI', input.sourceSeriesUID)]]);
  if (referencedInstances.length) referencedSeries.set(0x0008114a, { tag: 0x0008114a, vr: 'SQ', items: referencedInstances });
  put(common, { tag: 0x00081115, vr: 'SQ', items: [referencedSeries] });

  const out: Dataset[] = [];
  const perSlice = ni * nj;
  for (let k = 0; k < nk; k++) {
    const d: Dataset = new Map(common);
    const position = along(origin, sliceStep, k);
    put(d, text(Tags.SOPInstanceUID, 'UI', randomUid()));
    put(d, text(Tags.InstanceNumber, 'IS', String(k + 1)));
    put(d, text(0x00200032, 'DS', ds(position)));
    const frame = new Int16Array(perSlice);
    for (let j = 0; j < nj; j++) {
      const srcJ = flipJ ? nj - 1 - j : j;
      for (let i = 0; i < ni; i++) {
        const srcI = flipI ? ni - 1 - i : i;
        frame[j * ni + i] = pixels[k * perSlice + srcJ * ni + srcI];
      }
    }
    put(d, { tag: Tags.PixelData, vr: 'OW', value: new Uint8Array(frame.buffer) });
    // Without a slice stack (enhanced or mosaic source) each slice came from the source image itself.
    const nearest = nearestSourceSlice(stack, position) ?? input.sourceInstances[0];
    if (nearest) {
      const ref: Dataset = new Map([
        [0x00081150, text(0x00081150, 'UI', nearest.sopClassUID)],
        [0x00081155, text(0x00081155, 'UI', nearest.sopInstanceUID)],
      ]);
      put(d, { tag: 0x00082112, vr: 'SQ', items: [ref] });
    }
    out.push(d);
  }
  return out;
}

/** The source slice closest to a position along the stack's normal: what a derived slice came from. */
function nearestSourceSlice(stack: SliceStack | undefined, position: Vec3) {
  if (!stack) return undefined;
  let best = stack.slices[0];
  let bestDistance = Infinity;
  for (const s of stack.slices) {
    const d = norm([s.position[0] - position[0], s.position[1] - position[1], s.position[2] - position[2]]);
    if (d < bestDistance) {
      bestDistance = d;
      best = s;
    }
  }
  return best;
}
