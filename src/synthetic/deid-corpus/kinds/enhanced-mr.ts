/**
 * Enhanced MR (multi-frame): geometry and value mapping in the Shared Functional Groups,
 * per-frame positions and acquisition date-times (DT, two levels down, to be shifted), frame
 * comments to clean, and a vendor's private sequence inside each frame's item naming the
 * patient.
 */
import { CorpusInstance } from '../answer-key';
import { Level, float64, uint32 } from '../builder';
import { later } from '../calendar';
import { describe } from '../descriptions';
import { contentDates, imageComments } from '../instance-module';
import { crossSectionalPixels, imagePixelModule } from '../pixels';
import { frameOfReferenceModule } from '../series-module';
import { finishInstance, InstanceInput, startInstance } from './common';
import { SLICE_SIZE, slicePosition } from './cross-sectional';

export const ENHANCED_MR_STORAGE = '1.2.840.10008.5.1.4.1.1.4.1';

function sharedGroups(b: Level): void {
  b.seq('SharedFunctionalGroupsSequence', [
    (g) => {
      g.seq('PixelMeasuresSequence', [
        (m) => {
          m.keep('PixelSpacing', '5\\5');
          m.keep('SliceThickness', '2.5');
        },
      ]);
      g.seq('PlaneOrientationSequence', [(o) => o.keep('ImageOrientationPatient', '1\\0\\0\\0\\1\\0')]);
      g.seq('MRImageFrameTypeSequence', [(t) => t.keep('FrameType', 'ORIGINAL\\PRIMARY\\M\\NONE')]);
      g.seq('PixelValueTransformationSequence', [
        (p) => {
          p.keep('RescaleIntercept', '0');
          p.keep('RescaleSlope', '1');
          p.set('RescaleType', 'US');
        },
      ]);
    },
  ]);
}

function perFrameGroups(b: Level, input: InstanceInput, frames: number): void {
  const { series, rng } = input;
  const patient = series.study.patient;
  b.seq(
    'PerFrameFunctionalGroupsSequence',
    Array.from({ length: frames }, (_, i) => (frame: Level) => {
      frame.seq('FrameContentSequence', [
        (fc) => {
          const acquired = `${series.date}${later(series.time, 30 + i)}.000000`;
          fc.date('FrameAcquisitionDateTime', acquired);
          fc.date('FrameReferenceDateTime', acquired);
          fc.keepBinary('FrameAcquisitionDuration', float64(850));
          fc.keep('StackID', '1');
          fc.keepBinary('InStackPositionNumber', uint32(i + 1));
          if (i === 0 && rng.chance(0.5)) {
            fc.clean('FrameComments', describe(rng, { text: 'REFERENCE FRAME MOTION FREE', retained: ['REFERENCE', 'FRAME', 'MOTION'] }, patient, series.study.accession));
          }
        },
      ]);
      frame.seq('PlanePositionSequence', [(pp) => pp.keep('ImagePositionPatient', slicePosition(i + 1))]);
      // Vendor data per frame: a private sequence holding the patient's name again.
      frame.set(0x20050010, 'SYNTH MR IMAGING DD 001', 'LO');
      frame.seq(0x2005140f, [
        (pv) => {
          pv.set(0x20050010, 'SYNTH MR IMAGING DD 001', 'LO');
          pv.phi('PatientName', patient.name.pn, patient.name.tokens);
          pv.phi(0x20051001, series.station, [series.station], 'LO');
        },
      ]);
    }),
  );
}

export function enhancedMrInstance(input: InstanceInput, frames: number, dimensionUID: string): CorpusInstance {
  const b = startInstance(input);
  const { series, id, rng } = input;
  frameOfReferenceModule(b, series);
  contentDates(b, series, id, rng);
  b.keep('ImageType', 'ORIGINAL\\PRIMARY\\M\\NONE');
  b.keep('ContentQualification', 'PRODUCT');
  b.keep('ResonantNucleus', '1H');
  b.keep('MagneticFieldStrength', '3');
  b.set('BurnedInAnnotation', 'NO');
  b.seq('DimensionOrganizationSequence', [(d) => d.uid('DimensionOrganizationUID', dimensionUID, { consistent: true })]);
  imageComments(b, series);
  sharedGroups(b);
  perFrameGroups(b, input, frames);
  const layout = { rows: SLICE_SIZE, columns: SLICE_SIZE, samplesPerPixel: 1, bitsAllocated: 16, frames };
  const data = crossSectionalPixels(rng, SLICE_SIZE, SLICE_SIZE, frames, 500);
  imagePixelModule(b, { ...layout, photometric: 'MONOCHROME2', bitsStored: 12 }, data);
  b.record.answers.push({ action: 'pixels_retained' });
  return finishInstance('EnhancedMR', b, input, { data, layout });
}
