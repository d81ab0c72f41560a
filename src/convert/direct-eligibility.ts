/**
 * Whether a stored series is a plain stack of single-frame slices that can be written to
 * NIfTI directly (direct-nifti.ts) with the header dcm2niix would give it, and in what order.
 *
 * The rule is conservative: anything dcm2niix treats specially (enhanced or multi-frame
 * objects, mosaics, gantry tilt, uneven spacing, repeated positions or 4D, compressed pixel
 * data, vendor private attributes it reads, 3D acquisitions it reorients, overlays it writes
 * as extra volumes, intensity scaling that varies, ...) goes to dcm2niix itself. Everything
 * is decided from the metadata recorded at ingest (PS3.18 JSON and the frame byte ranges).
 */
import type { DicomJson } from '../dicom/json';
import type { StoredInstance } from '../index/index';
import { TS } from '../dicom/transfer-syntax';
import { FVec, hasGantryTilt, intersliceDistance, isSameFloat } from './direct-geometry';

const f = Math.fround;

export const CT_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.2';
export const MR_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.4';

/** One slice of an eligible stack. */
export interface DirectSlice {
  instance: StoredInstance;
  json: DicomJson;
  instanceNumber: number;
  /** ImagePositionPatient as dcm2niix reads it (single precision). */
  position: FVec;
  /** Where the slice's pixel data lies in its stored file. */
  pixels: { offset: number; length: number };
}

export interface DirectStack {
  /** Slices in dcm2niix's order: InstanceNumber ascending. */
  slices: DirectSlice[];
  modality: 'CT' | 'MR';
  manufacturer: Manufacturer;
  rows: number;
  columns: number;
  bitsAllocated: 8 | 16 | 32;
  bitsStored: number;
  signed: boolean;
  /** Distance between the first two slices (dcm2niix's intersliceDistance), 0 for one slice. */
  dx: number;
}

export type Eligibility = { ok: true; stack: DirectStack } | { ok: false; reason: string };

export type Manufacturer = 'Siemens' | 'GE' | 'Philips' | 'Toshiba' | 'Canon' | 'UIH' | 'Bruker' | 'Hitachi' | 'Mediso' | 'unknown';

/** dcm2niix's dcmStrManufacturer: the vendor from the first letters of (0008,0070). */
export function manufacturerOf(text: string | undefined): Manufacturer {
  const s = (text ?? '').toUpperCase();
  if (s.startsWith('SI')) return 'Siemens';
  if (s.startsWith('GE')) return 'GE';
  if (s.startsWith('HA')) return 'GE'; // Hamamatsu-GE
  if (s.startsWith('PH')) return 'Philips';
  if (s.startsWith('TO')) return 'Toshiba';
  if (s.startsWith('CA')) return 'Canon';
  if (s.startsWith('UI') || s.startsWith('UN')) return 'UIH';
  if (s.startsWith('BR')) return 'Bruker';
  if (s.startsWith('HI')) return 'Hitachi';
  if (s.startsWith('ME')) return 'Mediso';
  return 'unknown';
}

const value = (j: DicomJson, tag: string): unknown[] | undefined => j[tag]?.Value;
const first = (j: DicomJson, tag: string): unknown => j[tag]?.Value?.[0];
const text = (j: DicomJson, tag: string): string | undefined => {
  const v = first(j, tag);
  return typeof v === 'string' ? v : undefined;
};
const int = (j: DicomJson, tag: string): number | undefined => {
  const v = first(j, tag);
  return typeof v === 'number' && Number.isInteger(v) ? v : undefined;
};
const numbers = (j: DicomJson, tag: string): number[] | undefined => {
  const v = value(j, tag);
  return v && v.every((x) => typeof x === 'number') ? (v as number[]) : undefined;
};
const same = (a: DicomJson, b: DicomJson, tag: string) => JSON.stringify(a[tag]?.Value ?? null) === JSON.stringify(b[tag]?.Value ?? null);

/**
 * Attributes that must be the same on every slice: those dcm2niix compares before stacking
 * slices into one volume (isSameSet), and those whose first-slice value it writes for all.
 */
const UNIFORM = [
  '00080008', // ImageType (derived, phase/real/imaginary)
  '00080016', // SOPClassUID
  '00080020', // StudyDate
  '00080030', // StudyTime
  '00080060', // Modality
  '00080070', // Manufacturer
  '0008103E', // SeriesDescription (stands in for a missing ProtocolName)
  '00089208', // ComplexImageComponent
  '00180023', // MRAcquisitionType
  '00180050', // SliceThickness
  '00180080', // RepetitionTime
  '00180081', // EchoTime
  '00180086', // EchoNumbers
  '00180088', // SpacingBetweenSlices
  '00181030', // ProtocolName
  '00181060', // TriggerTime
  '00181120', // GantryDetectorTilt
  '00181250', // ReceiveCoilName
  '00181312', // InPlanePhaseEncodingDirection
  '00189082', // EffectiveEchoTime
  '0020000D', // StudyInstanceUID
  '0020000E', // SeriesInstanceUID
  '00200011', // SeriesNumber
  '00200037', // ImageOrientationPatient
  '00280002', // SamplesPerPixel
  '00280004', // PhotometricInterpretation
  '00280010', // Rows
  '00280011', // Columns
  '00280030', // PixelSpacing
  '00280100', // BitsAllocated
  '00280101', // BitsStored
  '00280103', // PixelRepresentation
  '00281052', // RescaleIntercept
  '00281053', // RescaleSlope
];

/**
 * Attributes dcm2niix reads wherever they appear, sequences included: inside any item they
 * would overwrite (or precede) the slice's own values, so their presence there is refused.
 */
const WATCHED_IN_SEQUENCES = new Set([
  '00080008', '00080022', '0008002A', '00080032', '00080060', '00080070', '00181030', '0008103E',
  '00180023', '00180050', '00180080', '00180081', '00180086', '00180088', '00181060', '00181120',
  '00181152', '00181250', '00181312', '00189082', '00189087', '00189089', '00200011', '00200012',
  '00200013', '00200032', '00200037', '00201002', '00204000', '00280002', '00280008', '00280010',
  '00280011', '00280030', '00280100', '00280101', '00280103', '00281052', '00281053', '00540081',
  '00409224', '00409225', '7FE00010',
]);

function nestedWatched(j: DicomJson): string | undefined {
  for (const [tag, attr] of Object.entries(j)) {
    if (attr.vr !== 'SQ' || !attr.Value) continue;
    for (const item of attr.Value as DicomJson[]) {
      if (!item || typeof item !== 'object') continue;
      for (const inner of Object.keys(item)) {
        if (WATCHED_IN_SEQUENCES.has(inner)) return `${inner} inside ${tag}`;
      }
      const deeper = nestedWatched(item);
      if (deeper) return deeper;
    }
  }
  return undefined;
}

const isPrivateKey = (tag: string) => (parseInt(tag.slice(0, 4), 16) & 1) === 1;
const isOverlayKey = (tag: string) => /^60[0-1][0-9A-F]/.test(tag) && (parseInt(tag.slice(0, 4), 16) & 1) === 0;

/** Check one slice on its own; the reason it cannot go the direct way, or undefined. */
function sliceProblem(inst: StoredInstance, j: DicomJson): string | undefined {
  if (inst.transferSyntaxUID !== TS.ExplicitVRLittleEndian) return `stored as ${inst.transferSyntaxUID} (compressed pixel data)`;
  const sop = inst.sopClassUID;
  if (sop !== CT_IMAGE_STORAGE && sop !== MR_IMAGE_STORAGE) return `SOP class ${sop} is not a classic CT or MR image`;
  const frames = int(j, '00280008');
  if (frames !== undefined && frames !== 1) return 'multi-frame instance';
  if (!inst.frames || inst.frames.length !== 1 || inst.frames[0].length !== 1) return 'pixel data is not one addressable frame';
  for (const key of Object.keys(j)) {
    if (isPrivateKey(key)) return `private attribute ${key} (vendor-specific conversion)`;
    if (isOverlayKey(key)) return `overlay ${key} (dcm2niix writes overlays as extra volumes)`;
  }
  if (j['7FE00008'] || j['7FE00009']) return 'floating-point pixel data';
  const nested = nestedWatched(j);
  if (nested) return `attribute ${nested}`;
  const imageType = (value(j, '00080008') ?? []).map(String);
  if (imageType.some((t) => /MOSAIC/i.test(t))) return 'Siemens mosaic';
  if (numbers(j, '00200032')?.length !== 3 || numbers(j, '00200037')?.length !== 6) return 'no usable ImagePositionPatient / ImageOrientationPatient';
  const ps = numbers(j, '00280030');
  if (ps?.length !== 2 || !(ps[0] > 0) || f(ps[0]) !== f(ps[1])) return 'PixelSpacing missing or not square';
  if ((int(j, '00280002') ?? 1) !== 1) return 'more than one sample per pixel';
  const photometric = text(j, '00280004');
  if (photometric !== undefined && photometric !== 'MONOCHROME1' && photometric !== 'MONOCHROME2') return `photometric interpretation ${photometric}`;
  const rows = int(j, '00280010') ?? 0;
  const columns = int(j, '00280011') ?? 0;
  if (rows < 2 || columns < 2) return 'image smaller than 2×2';
  const bits = int(j, '00280100');
  if (bits !== 8 && bits !== 16 && bits !== 32) return `BitsAllocated ${bits}`;
  const stored = int(j, '00280101') ?? bits;
  if (stored < 1 || stored > bits) return `BitsStored ${stored}`;
  const pr = int(j, '00280103') ?? 0;
  if (pr !== 0 && pr !== 1) return `PixelRepresentation ${pr}`;
  if (pr === 1 && bits === 16 && stored === 12) return 'signed 12-bit pixels (dcm2niix masks them)';
  if (inst.frames[0][0].length !== rows * columns * (bits / 8)) return 'pixel data length does not match the image size';
  const slope = numbers(j, '00281053');
  if (slope && !(Number.isFinite(slope[0]) && slope[0] !== 0)) return 'RescaleSlope 0';
  if (imageType.some((t) => /DIFFUSION/i.test(t)) || /DIFFUSION/i.test(String(first(j, '00089209') ?? ''))) return 'diffusion series (bval/bvec)';
  if (j['00189087'] || j['00189089'] || j['00189117']) return 'diffusion attributes';
  const tilt = numbers(j, '00181120');
  if (tilt && tilt[0] !== 0) return 'gantry tilt';
  if (int(j, '00200013') === undefined) return 'no InstanceNumber';
  if (j['00409096'] && manufacturerOf(text(j, '00080070')) === 'Philips') return 'Philips real world value mapping';
  return undefined;
}

/**
 * The direct-path stack of a series, or why there is none. `instances` and `metadata` come
 * from the index (any order; matched by SOPInstanceUID).
 */
export function directStack(instances: StoredInstance[], metadata: DicomJson[]): Eligibility {
  const refuse = (reason: string): Eligibility => ({ ok: false, reason });
  if (instances.length === 0) return refuse('no instances');
  if (metadata.length !== instances.length) return refuse('metadata and instances differ');
  const byUid = new Map(metadata.map((m) => [String(first(m, '00080018')), m]));
  const slices: DirectSlice[] = [];
  for (const inst of instances) {
    const j = byUid.get(inst.sopInstanceUID);
    if (!j) return refuse('metadata missing for an instance');
    const problem = sliceProblem(inst, j);
    if (problem) return refuse(problem);
    const [frame] = inst.frames![0];
    slices.push({
      instance: inst,
      json: j,
      instanceNumber: int(j, '00200013')!,
      position: numbers(j, '00200032')!.map(f),
      pixels: { offset: frame.offset, length: frame.length },
    });
  }
  const j0 = slices[0].json;
  for (const s of slices) {
    for (const tag of UNIFORM) if (!same(j0, s.json, tag)) return refuse(`${tag} varies across the series`);
  }
  const modality = text(j0, '00080060');
  if (modality !== 'CT' && modality !== 'MR') return refuse(`modality ${modality}`);
  const expectedSop = modality === 'CT' ? CT_IMAGE_STORAGE : MR_IMAGE_STORAGE;
  if (slices[0].instance.sopClassUID !== expectedSop) return refuse('modality and SOP class disagree');
  const manufacturer = manufacturerOf(text(j0, '00080070'));
  if (manufacturer === 'UIH' || manufacturer === 'Bruker') return refuse(`${manufacturer} (vendor-specific slice handling)`);
  if (manufacturer === 'Siemens') {
    if (/XA\d/.test(String(first(j0, '00181020') ?? ''))) return refuse('Siemens XA classic images');
    if (slices.some((s) => /fldyn3d1/.test(String(first(s.json, '00180024') ?? '')))) return refuse('Siemens dynamic series');
  }
  if (manufacturer === 'GE' && modality === 'MR' && (numbers(j0, '00181060')?.[0] ?? 0) !== 0) return refuse('GE trigger times (slice timing)');
  if (modality === 'MR' && j0['00189034'] && manufacturer === 'GE') return refuse('GE phase encoding polarity');
  // XRayExposure is dcm2niix's CT "echo": its presence must agree for the slices to stack.
  if (slices.some((s) => !!s.json['00181152'] !== !!j0['00181152'])) return refuse('XRayExposure present on some slices only');

  // dcm2niix's order: series number, then instance number (unique here).
  slices.sort((a, b) => a.instanceNumber - b.instanceNumber);
  for (let i = 1; i < slices.length; i++) {
    if (slices[i].instanceNumber === slices[i - 1].instanceNumber) return refuse('repeated InstanceNumber');
  }
  const n = slices.length;
  if (n > 1 && /^3D/i.test(text(j0, '00180023') ?? '')) return refuse('3D acquisition (dcm2niix reorients it)');
  // Slices per acquisition that would make dcm2niix split the stack into volumes.
  const locations = int(j0, '00540081');
  if (locations !== undefined && locations !== n && locations > 0 && n % locations === 0) return refuse('NumberOfSlices splits the series into volumes');
  const imagesInAcquisition = int(j0, '00201002');
  if (manufacturer === 'GE' && imagesInAcquisition !== undefined && imagesInAcquisition !== n && imagesInAcquisition > 0 && n % imagesInAcquisition === 0) {
    return refuse('ImagesInAcquisition splits the series into volumes');
  }

  let dx = 0;
  if (n > 1) {
    const orient = numbers(j0, '00200037')!.map(f);
    const normal = [orient[1] * orient[5] - orient[2] * orient[4], orient[2] * orient[3] - orient[0] * orient[5], orient[0] * orient[4] - orient[1] * orient[3]];
    const along = slices.map((s) => s.position[0] * normal[0] + s.position[1] * normal[1] + s.position[2] * normal[2]);
    const increasing = along[1] > along[0];
    for (let i = 1; i < n; i++) {
      if (isSameFloat(slices[i].position[0], slices[0].position[0]) && isSameFloat(slices[i].position[1], slices[0].position[1]) && isSameFloat(slices[i].position[2], slices[0].position[2])) {
        return refuse('repeated slice position (4D or duplicates)');
      }
      if (along[i] > along[i - 1] !== increasing || along[i] === along[i - 1]) return refuse('InstanceNumber order is not the spatial order');
    }
    dx = intersliceDistance(slices[0].position, slices[1].position);
    if (!(dx > 0)) return refuse('no distance between slices');
    const mean = Math.abs(along[n - 1] - along[0]) / (n - 1);
    for (let i = 1; i < n; i++) {
      const gap = intersliceDistance(slices[i - 1].position, slices[i].position);
      if (Math.abs(f(dx - gap)) > 0.2) return refuse('slice spacing varies');
      if (Math.abs(Math.abs(along[i] - along[i - 1]) - mean) > 0.01 * mean) return refuse('slice spacing varies');
    }
    if (hasGantryTilt(slices[0].position, slices[n - 1].position, orient, f(numbers(j0, '00181120')?.[0] ?? 0))) return refuse('gantry tilt (slices not perpendicular to the image plane)');
  }
  const bits = int(j0, '00280100') as 8 | 16 | 32;
  return {
    ok: true,
    stack: {
      slices,
      modality,
      manufacturer,
      rows: int(j0, '00280010')!,
      columns: int(j0, '00280011')!,
      bitsAllocated: bits,
      bitsStored: int(j0, '00280101') ?? bits,
      signed: (int(j0, '00280103') ?? 0) === 1,
      dx,
    },
  };
}
