/**
 * Segmentation (BINARY) of a CT series: one frame per source slice, each frame pointing at
 * its slice through Derivation Image > Source Image (three levels down), the series and
 * instances listed in Referenced Series, and the CT's frame of reference. Every reference
 * must map to the same new UID as the CT it names.
 */
import { CorpusInstance } from '../answer-key';
import { Level, uint16, uint32 } from '../builder';
import { CODES, localCode, registeredCode } from '../codes';
import { contentDates } from '../instance-module';
import { imagePixelModule, packBits } from '../pixels';
import { frameOfReferenceModule } from '../series-module';
import { finishInstance, InstanceInput, InstanceRef, startInstance } from './common';
import { CT_IMAGE_STORAGE, SLICE_SIZE } from './cross-sectional';

export const SEGMENTATION_STORAGE = '1.2.840.10008.5.1.4.1.1.66.4';

const at = (group: number, element: number) => uint16(group, element);

function segments(b: Level, input: InstanceInput): void {
  const patient = input.series.study.patient;
  // The author is the Content Creator (and operator) of the SEG: a name the instance carries.
  const author = input.series.operator;
  b.seq('SegmentSequence', [
    (s) => {
      s.keepBinary('SegmentNumber', uint16(1));
      s.keepWords('SegmentLabel', 'Liver', ['Liver']);
      s.keep('SegmentAlgorithmType', 'MANUAL');
      s.seq('SegmentedPropertyCategoryCodeSequence', [registeredCode(CODES.anatomicalStructure)]);
      s.seq('SegmentedPropertyTypeCodeSequence', [registeredCode(CODES.liver)]);
      // Not listed in Table E.1-1, but free text a person typed: the name must go.
      s.phi('SegmentDescription', `Liver contour drawn by ${author.display}`, author.displayTokens);
    },
    // A second segment typed with a local code naming the patient (depth 2).
    (s) => {
      s.set('SegmentNumber', uint16(2));
      s.set('SegmentLabel', 'Lesion');
      s.set('SegmentAlgorithmType', 'MANUAL');
      s.seq('SegmentedPropertyCategoryCodeSequence', [registeredCode(CODES.mass)]);
      s.seq('SegmentedPropertyTypeCodeSequence', [localCode(input.rng, patient)]);
    },
  ]);
}

function perFrame(sources: InstanceRef[]): ((item: Level) => void)[] {
  return sources.map((src, i) => (frame: Level) => {
    frame.seq('DerivationImageSequence', [
      (d) => {
        d.seq('SourceImageSequence', [
          (si) => {
            si.keep('ReferencedSOPClassUID', src.sopClassUID);
            si.uid('ReferencedSOPInstanceUID', src.sopInstanceUID, { consistent: true });
            si.seq('PurposeOfReferenceCodeSequence', [
              (c) => {
                c.set('CodeValue', '121322');
                c.set('CodingSchemeDesignator', 'DCM');
                c.set('CodeMeaning', 'Source image for image processing operation');
              },
            ]);
          },
        ]);
        d.seq('DerivationCodeSequence', [registeredCode({ scheme: 'DCM', value: '113076', meaning: 'Segmentation' })]);
      },
    ]);
    frame.seq('FrameContentSequence', [(fc) => fc.set('DimensionIndexValues', uint32(1, i + 1), 'UL')]);
    frame.seq('PlanePositionSequence', [(pp) => pp.keep('ImagePositionPatient', src.position ?? '0\\0\\0')]);
    frame.seq('SegmentIdentificationSequence', [(si) => si.keepBinary('ReferencedSegmentNumber', uint16(1))]);
  });
}

export function segmentationInstance(input: InstanceInput, sources: InstanceRef[], dimensionUID: string): CorpusInstance {
  const b = startInstance(input);
  const { series, id, rng } = input;
  frameOfReferenceModule(b, series);
  contentDates(b, series, id, rng);
  b.keep('ImageType', 'DERIVED\\PRIMARY');
  b.keep('ContentLabel', 'LIVER');
  b.keepWords('ContentDescription', 'Liver segmentation', ['Liver', 'segmentation']);
  b.phi('ContentCreatorName', series.operator.pn, series.operator.tokens);
  b.keep('SegmentationType', 'BINARY');
  b.set('LossyImageCompression', '00');
  b.seq('ReferencedSeriesSequence', [
    (rs) => {
      rs.uid('SeriesInstanceUID', sources[0].seriesUID, { consistent: true });
      rs.seq('ReferencedInstanceSequence', sources.map((src) => (r: Level) => {
        r.keep('ReferencedSOPClassUID', CT_IMAGE_STORAGE);
        r.uid('ReferencedSOPInstanceUID', src.sopInstanceUID, { consistent: true });
      }));
    },
  ]);
  segments(b, input);
  b.seq('DimensionOrganizationSequence', [(d) => d.uid('DimensionOrganizationUID', dimensionUID, { consistent: true })]);
  b.seq('DimensionIndexSequence', [
    (d) => {
      d.uid('DimensionOrganizationUID', dimensionUID, { consistent: true });
      d.set('DimensionIndexPointer', at(0x0062, 0x000b), 'AT');
      d.set('FunctionalGroupPointer', at(0x0062, 0x000a), 'AT');
    },
    (d) => {
      d.uid('DimensionOrganizationUID', dimensionUID, { consistent: true });
      d.set('DimensionIndexPointer', at(0x0020, 0x0032), 'AT');
      d.set('FunctionalGroupPointer', at(0x0020, 0x9113), 'AT');
    },
  ]);
  b.seq('SharedFunctionalGroupsSequence', [
    (g) => {
      g.seq('PixelMeasuresSequence', [
        (m) => {
          m.keep('PixelSpacing', '5\\5');
          m.keep('SliceThickness', '2.5');
        },
      ]);
      g.seq('PlaneOrientationSequence', [(o) => o.keep('ImageOrientationPatient', '1\\0\\0\\0\\1\\0')]);
    },
  ]);
  b.seq('PerFrameFunctionalGroupsSequence', perFrame(sources));

  // A blob in the middle of each slice: one bit per pixel, frames back to back.
  const mask = new Uint8Array(SLICE_SIZE * SLICE_SIZE * sources.length);
  sources.forEach((_, f) => {
    const r = 5 + ((f * 3) % 7);
    for (let y = 0; y < SLICE_SIZE; y++) {
      for (let x = 0; x < SLICE_SIZE; x++) if (Math.hypot(x - 16, y - 16) < r) mask[(f * SLICE_SIZE + y) * SLICE_SIZE + x] = 1;
    }
  });
  const data = packBits(mask);
  const layout = { rows: SLICE_SIZE, columns: SLICE_SIZE, samplesPerPixel: 1, bitsAllocated: 1, frames: sources.length };
  imagePixelModule(b, { ...layout, photometric: 'MONOCHROME2', bitsStored: 1 }, data);
  b.record.answers.push({ action: 'pixels_retained' });
  return finishInstance('SEG', b, input, { data, layout });
}
