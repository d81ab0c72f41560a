/**
 * Private attributes as vendors write them: a block with the name in LO and PN, a private
 * sequence holding standard patient attributes, a binary header (OB) with identity as
 * key=value text, and a UT note. All of it must go (private attributes are removed).
 */
import { Level } from './builder';
import { SeriesPlan } from './plans';
import { Rng } from './random';

const CREATOR = 'SYNTH MEDICAL 1.0';

export function privateBlocks(b: Level, s: SeriesPlan, rng: Rng): void {
  const patient = s.study.patient;
  const name = patient.name;
  b.set(0x00090010, CREATOR, 'LO');
  b.phi(0x00091001, name.display, name.displayTokens, 'LO');
  b.phi(0x00091002, name.pn, name.tokens, 'PN');
  b.seq(0x00091003, [
    (item) => {
      item.phi('PatientName', name.pn, name.tokens);
      item.phi('PatientID', patient.mrn, [patient.mrn]);
      item.set(0x00090010, CREATOR, 'LO');
      item.phi(0x00091004, s.study.accession, [s.study.accession], 'LO');
    },
  ]);
  b.set(0x00091005, '1.25', 'DS');
  b.set(0x00290010, 'VEILGATE SYNTH CSA HEADER', 'LO');
  const header = Buffer.from(`PatientName=${name.pn};PatientID=${patient.mrn};StationName=${s.station};`, 'utf8');
  const padded = header.length % 2 ? Buffer.concat([header, Buffer.from([0])]) : header;
  b.phi(0x00291010, padded, [...name.tokens, patient.mrn, s.station], 'OB');
  if (rng.chance(0.5)) {
    b.set(0x00430010, 'GEMS_SYNTH_01', 'LO');
    b.phi(0x00431028, `exam ${s.study.accession} at ${patient.site.institution}`, [s.study.accession, patient.site.token], 'UT');
  }
}
