/**
 * Series, equipment and frame of reference: the people and machines that made the series
 * (operators, station, serial number, institution) go; what the series is (modality,
 * number, body part, anatomy code, manufacturer and model) stays.
 */
import { Level } from './builder';
import { CODES, registeredCode } from './codes';
import { SeriesPlan } from './plans';

/** Manufacturer of every synthetic instance: the pixel recipes of the scorer match on it. */
export const SYNTHETIC_MANUFACTURER = 'Veilgate Synthetic';

const ANATOMY = { CT: CODES.chest, MR: CODES.brain, US: CODES.abdomen } as const;
const BODY_PART = { CT: 'CHEST', MR: 'BRAIN', US: 'ABDOMEN' } as const;

export function seriesModule(b: Level, s: SeriesPlan): void {
  b.uid('SeriesInstanceUID', s.uid, { consistent: true });
  b.keep('Modality', s.modality);
  b.keep('SeriesNumber', String(s.number));
  b.date('SeriesDate', s.date);
  b.keep('SeriesTime', s.time);
  b.clean('SeriesDescription', s.description);
  b.phi('OperatorsName', s.operator.pn, s.operator.tokens);
  b.phi('PerformingPhysicianName', s.performing.pn, s.performing.tokens);
  b.phi('PerformedStationAETitle', s.station, [s.station]);
  if (s.kind !== 'SR' && s.kind !== 'SEG') {
    b.clean('ProtocolName', s.protocol);
    b.keep('BodyPartExamined', BODY_PART[s.study.modality]);
    b.seq('AnatomicRegionSequence', [registeredCode(ANATOMY[s.study.modality])]);
  }
}

export function equipmentModule(b: Level, s: SeriesPlan): void {
  const site = s.study.patient.site;
  b.keep('Manufacturer', SYNTHETIC_MANUFACTURER);
  b.keep('ManufacturerModelName', s.model);
  b.keep('SoftwareVersions', 'VG 1.4.2');
  b.phi('InstitutionName', site.institution, [site.token]);
  const addressTokens = [...site.addressTokens, ...(site.address.includes(site.token) ? [site.token] : [])];
  b.phi('InstitutionAddress', site.address, addressTokens);
  b.phi('InstitutionalDepartmentName', site.department, [site.token]);
  // A few station names are longer than SH allows (16): some modalities send them anyway.
  const station = s.number % 7 === 3 ? `${s.station}-${site.asciiToken.toUpperCase()}-ROOM` : s.station;
  b.phi('StationName', station, station === s.station ? [s.station] : [s.station, site.asciiToken]);
  b.phi('DeviceSerialNumber', s.serial, [s.serial]);
  b.date('DateOfLastCalibration', s.calibrationDate);
  b.keep('TimeOfLastCalibration', '063000');
}

export function frameOfReferenceModule(b: Level, s: SeriesPlan): void {
  b.uid('FrameOfReferenceUID', s.frameOfReferenceUID, { consistent: true });
  b.set('PositionReferenceIndicator', '');
}
