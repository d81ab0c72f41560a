/**
 * Secondary captures (a CT dose screen, key images): the banner with the patient's identity
 * at the top, non-identifying text (dose figures) below it that must stay, and a reference
 * to the image it was captured from.
 */
import { CorpusInstance } from '../answer-key';
import { bannerRegion, BURNED_IN_LAYOUTS, drawBanner } from '../burned-in';
import { drawText } from '../font';
import { imageComments } from '../instance-module';
import { imagePixelModule, speckle } from '../pixels';
import { SYNTHETIC_MANUFACTURER } from '../series-module';
import { finishInstance, InstanceInput, InstanceRef, referenceItem, startInstance } from './common';
import { bannerDate } from './ultrasound';

export const SECONDARY_CAPTURE_STORAGE = '1.2.840.10008.5.1.4.1.1.7';

export function secondaryCaptureInstance(input: InstanceInput, source?: InstanceRef): CorpusInstance {
  const b = startInstance(input);
  const { series, rng } = input;
  const layout = BURNED_IN_LAYOUTS.SC;
  const patient = series.study.patient;
  b.keep('ConversionType', 'WSD');
  b.keep('SecondaryCaptureDeviceManufacturer', SYNTHETIC_MANUFACTURER);
  b.date('DateOfSecondaryCapture', series.date);
  b.keep('TimeOfSecondaryCapture', series.time);
  b.date('ContentDate', series.date);
  b.keep('ContentTime', series.time);
  b.set('BurnedInAnnotation', 'YES');
  b.set('PatientOrientation', '');
  // The operator named here is the one in Operators' Name: an identifier the instance carries.
  b.clean('DerivationDescription', {
    text: `Screen capture of dose report, operator ${series.operator.display}`,
    retained: ['SCREEN', 'CAPTURE', 'DOSE', 'REPORT'],
    tokens: series.operator.displayTokens,
  });
  if (source) b.seq('SourceImageSequence', [referenceItem(source)]);
  imageComments(b, series);

  const data = new Uint8Array(layout.rows * layout.columns);
  speckle(rng, data, layout.rows, layout.columns, 1, 0);
  const canvas = { data, rows: layout.rows, columns: layout.columns, samplesPerPixel: 1 };
  drawBanner(canvas, layout, [patient.name.banner, `${patient.mrn} ${bannerDate(series.study.date)}`], [255]);
  // Dose figures below the banner: burned-in text that identifies nobody and must survive.
  drawText(canvas, `CTDIVOL ${rng.int(3, 25)}.${rng.int(0, 9)} MGY`, 2, 40, [250]);
  drawText(canvas, `DLP ${rng.int(80, 900)} MGY-CM`, 2, 52, [250]);
  const pixelLayout = { rows: layout.rows, columns: layout.columns, samplesPerPixel: 1, bitsAllocated: 8, frames: 1 };
  imagePixelModule(b, { ...pixelLayout, photometric: 'MONOCHROME2', bitsStored: 8 }, data);
  const region = bannerRegion(layout);
  b.record.answers.push({ action: 'pixels_hidden', region }, { action: 'pixels_retained', region });
  return finishInstance('SC', b, input, { data, layout: pixelLayout });
}
