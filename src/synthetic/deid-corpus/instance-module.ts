/** SOP Common and General Image: the instance's own identity, dates and comments. */
import { Level } from './builder';
import { later } from './calendar';
import { codingSchemeIdentification } from './codes';
import { SeriesPlan } from './plans';
import { Rng } from './random';

export interface InstanceIdentity {
  sopClassUID: string;
  sopInstanceUID: string;
  number: number;
}

export function sopCommonModule(b: Level, s: SeriesPlan, id: InstanceIdentity, rng: Rng): void {
  b.keep('SOPClassUID', id.sopClassUID);
  b.uid('SOPInstanceUID', id.sopInstanceUID);
  b.date('InstanceCreationDate', s.date);
  b.keep('InstanceCreationTime', later(s.time, 300 + id.number));
  b.keep('InstanceNumber', String(id.number));
  b.set('TimezoneOffsetFromUTC', '+0100');
  if (rng.chance(0.3)) codingSchemeIdentification(b, s.study.patient.site);
}

/** Content and acquisition dates and times; the acquisition date-time (DT) for some. */
export function contentDates(b: Level, s: SeriesPlan, id: InstanceIdentity, rng: Rng): void {
  const acquired = later(s.time, 10 + id.number * 2);
  b.date('ContentDate', s.date);
  b.keep('ContentTime', later(acquired, 1));
  b.date('AcquisitionDate', s.date);
  b.keep('AcquisitionTime', acquired);
  if (rng.chance(0.5)) b.date('AcquisitionDateTime', `${s.date}${acquired}.250000`);
}

export function imageComments(b: Level, s: SeriesPlan): void {
  if (s.imageComments) b.clean('ImageComments', s.imageComments);
}
