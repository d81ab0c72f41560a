/**
 * CT and MR images: one slice each, with the geometry (position, orientation, spacing,
 * thickness) and the value mapping (rescale) that must survive exactly.
 */
import { CorpusInstance } from '../answer-key';
import { Level } from '../builder';
import { contentDates, imageComments } from '../instance-module';
import { overlayPlane } from '../overlay';
import { crossSectionalPixels, imagePixelModule } from '../pixels';
import { frameOfReferenceModule } from '../series-module';
import { finishInstance, InstanceInput, InstanceRef, referenceItem, startInstance } from './common';

export const SLICE_SIZE = 32;
export const SLICE_SPACING = 2.5;

export const CT_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.2';
export const MR_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.4';

/** Image Position (Patient) of slice `n` (1-based) of a series. */
export function slicePosition(n: number): string {
  return `-80\\-80\\${(n * SLICE_SPACING).toFixed(1)}`;
}

export interface SliceInput extends InstanceInput {
  /** A slice of another series this one was planned on (Referenced Image Sequence). */
  referencedImage?: InstanceRef;
}

function geometry(b: Level, n: number): void {
  b.keep('ImagePositionPatient', slicePosition(n));
  b.keep('ImageOrientationPatient', '1\\0\\0\\0\\1\\0');
  b.keep('PixelSpacing', '5\\5');
  b.keep('SliceThickness', String(SLICE_SPACING));
  b.keep('SliceLocation', (n * SLICE_SPACING).toFixed(1));
}

function ctSpecific(b: Level): void {
  b.keep('ImageType', 'ORIGINAL\\PRIMARY\\AXIAL');
  b.keep('KVP', '120');
  b.keep('AcquisitionNumber', '1');
  b.keep('XRayTubeCurrent', '180');
  b.keep('ConvolutionKernel', 'B30f');
  b.keep('RescaleIntercept', '-1024');
  b.keep('RescaleSlope', '1');
  b.set('RescaleType', 'HU');
  b.set('WindowCenter', '40');
  b.set('WindowWidth', '400');
}

function mrSpecific(b: Level): void {
  b.keep('ImageType', 'ORIGINAL\\PRIMARY\\M\\ND');
  b.keep('ScanningSequence', 'SE');
  b.keep('SequenceVariant', 'SK');
  b.set('ScanOptions', '');
  b.keep('MRAcquisitionType', '2D');
  b.keep('RepetitionTime', '520');
  b.keep('EchoTime', '12');
  b.keep('MagneticFieldStrength', '3');
  b.keep('EchoTrainLength', '1');
  b.keep('SequenceName', '*se2d1');
}

export function sliceInstance(kind: 'CT' | 'MR', input: SliceInput): CorpusInstance {
  const b = startInstance(input);
  const { series, id, rng } = input;
  frameOfReferenceModule(b, series);
  contentDates(b, series, id, rng);
  geometry(b, id.number);
  if (kind === 'CT') ctSpecific(b);
  else mrSpecific(b);
  b.keep('PatientPosition', 'HFS');
  b.set('BurnedInAnnotation', 'NO');
  if (input.referencedImage) b.seq('ReferencedImageSequence', [referenceItem(input.referencedImage)]);
  imageComments(b, series);
  if (rng.chance(0.3)) overlayPlane(b, series.study.patient, SLICE_SIZE, SLICE_SIZE);
  const layout = { rows: SLICE_SIZE, columns: SLICE_SIZE, samplesPerPixel: 1, bitsAllocated: 16, frames: 1 };
  const data = crossSectionalPixels(rng, SLICE_SIZE, SLICE_SIZE, 1, kind === 'CT' ? 1064 : 400);
  imagePixelModule(b, { ...layout, photometric: 'MONOCHROME2', bitsStored: 12 }, data);
  b.record.answers.push({ action: 'pixels_retained' });
  return finishInstance(kind, b, input, { data, layout });
}
