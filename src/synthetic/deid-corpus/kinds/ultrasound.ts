/**
 * Ultrasound images with the patient's name, ID and the study date burned into a banner at
 * the top (BurnedInAnnotation YES), RGB or MONOCHROME2, single- or multi-frame. The key
 * asks for the banner to be blanked in every frame and every other pixel to be untouched.
 */
import { CorpusInstance } from '../answer-key';
import { Level, float64, uint16, uint32 } from '../builder';
import { bannerRegion, BURNED_IN_LAYOUTS, drawBanner } from '../burned-in';
import { contentDates, imageComments } from '../instance-module';
import { imagePixelModule, speckle } from '../pixels';
import { finishInstance, InstanceInput, startInstance } from './common';

export const US_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.6.1';
export const US_MULTIFRAME_STORAGE = '1.2.840.10008.5.1.4.1.1.3.1';

/** Study date as the banner shows it: 15.03.2023. */
export function bannerDate(da: string): string {
  return `${da.slice(6, 8)}.${da.slice(4, 6)}.${da.slice(0, 4)}`;
}

function ultrasoundRegion(b: Level, bannerHeight: number, rows: number, columns: number): void {
  // The calibrated region starts below the banner: its geometry must survive.
  b.seq('SequenceOfUltrasoundRegions', [
    (r) => {
      r.keepBinary('RegionSpatialFormat', uint16(1));
      r.keepBinary('RegionDataType', uint16(1));
      r.set('RegionFlags', uint32(0), 'UL');
      r.keepBinary('RegionLocationMinX0', uint32(0));
      r.keepBinary('RegionLocationMinY0', uint32(bannerHeight));
      r.keepBinary('RegionLocationMaxX1', uint32(columns - 1));
      r.keepBinary('RegionLocationMaxY1', uint32(rows - 1));
      r.keepBinary('PhysicalUnitsXDirection', uint16(3));
      r.keepBinary('PhysicalUnitsYDirection', uint16(3));
      r.keepBinary('PhysicalDeltaX', float64(0.03));
      r.keepBinary('PhysicalDeltaY', float64(0.03));
    },
  ]);
}

export function ultrasoundInstance(input: InstanceInput, opts: { rgb: boolean; frames: number }): CorpusInstance {
  const b = startInstance(input);
  const { series, id, rng } = input;
  const layout = BURNED_IN_LAYOUTS.US;
  const patient = series.study.patient;
  contentDates(b, series, id, rng);
  b.keep('ImageType', 'ORIGINAL\\PRIMARY\\ABDOMINAL');
  b.set('BurnedInAnnotation', 'YES');
  b.set('PatientOrientation', '');
  b.keep('TransducerType', 'CURVED LINEAR');
  if (opts.frames > 1) {
    b.keep('FrameTime', '40');
    b.set('FrameIncrementPointer', Buffer.from([0x18, 0x00, 0x63, 0x10]), 'AT');
  }
  ultrasoundRegion(b, layout.bannerHeight, layout.rows, layout.columns);
  imageComments(b, series);

  const samples = opts.rgb ? 3 : 1;
  const frameBytes = layout.rows * layout.columns * samples;
  const data = new Uint8Array(frameBytes * opts.frames);
  for (let f = 0; f < opts.frames; f++) {
    speckle(rng, data, layout.rows, layout.columns, samples, f * frameBytes);
    const canvas = { data: data.subarray(f * frameBytes, (f + 1) * frameBytes), rows: layout.rows, columns: layout.columns, samplesPerPixel: samples };
    drawBanner(canvas, layout, [patient.name.banner, `${patient.mrn} ${bannerDate(series.study.date)}`], opts.rgb ? [255, 255, 96] : [255]);
  }
  const pixelLayout = { rows: layout.rows, columns: layout.columns, samplesPerPixel: samples, bitsAllocated: 8, frames: opts.frames };
  imagePixelModule(b, { ...pixelLayout, photometric: opts.rgb ? 'RGB' : 'MONOCHROME2', bitsStored: 8 }, data);
  const region = bannerRegion(layout);
  b.record.answers.push({ action: 'pixels_hidden', region }, { action: 'pixels_retained', region });
  return finishInstance('US', b, input, { data, layout: pixelLayout });
}
