/**
 * Patient identity as a hospital system sends it: names (with middle names and prefixes),
 * MRN and its issuer (with qualifiers naming the hospital), other IDs, birth date, address,
 * phone, e-mail; and the characteristics that Retain Patient Characteristics keeps.
 */
import { Level } from './builder';
import { ageOn } from './calendar';
import { SPECIFIC_CHARACTER_SET } from './charsets';
import { Patient } from './identities';
import { StudyPlan } from './plans';
import { Rng } from './random';

export function patientModule(b: Level, patient: Patient, study: StudyPlan, rng: Rng): void {
  b.set('SpecificCharacterSet', SPECIFIC_CHARACTER_SET[patient.charset]);
  b.phi('PatientName', patient.name.pn, patient.name.tokens);
  b.notNull('PatientName');
  b.patientId(patient.mrn, patient.key);
  b.phi('IssuerOfPatientID', patient.site.issuer, [patient.site.issuer]);
  if (rng.chance(0.5)) {
    // Two levels down, the issuer's qualifiers name the hospital (not listed in Table E.1-1).
    b.seq('IssuerOfPatientIDQualifiersSequence', [
      (q) => {
        q.phi('UniversalEntityID', patient.site.domain, [patient.site.asciiToken]);
        q.set('UniversalEntityIDType', 'DNS');
        q.seq('AssigningFacilitySequence', [(f) => f.phi('LocalNamespaceEntityID', patient.site.institution, [patient.site.token])]);
      },
    ]);
  }
  b.seq(
    'OtherPatientIDsSequence',
    patient.otherIds.map((o) => (item: Level) => {
      item.phi('PatientID', o.id, [o.id]);
      item.phi('IssuerOfPatientID', o.issuer, [o.issuer]);
      item.set('TypeOfPatientID', 'TEXT');
    }),
  );
  b.phi('PatientBirthDate', patient.birthDate, [patient.birthDate]);
  b.keep('PatientSex', patient.sex);
  b.keep('PatientAge', ageOn(patient.birthDate, study.date));
  b.keep('PatientWeight', patient.weightKg);
  b.keep('PatientSize', patient.sizeM);
  b.phi('PatientAddress', patient.address.text, patient.address.tokens);
  b.phi('PatientTelephoneNumbers', patient.phone, [patient.phone]);
  if (rng.chance(0.5)) b.phi('PatientTelecomInformation', `${patient.phone}\r\n${patient.email}`, [patient.phone, patient.email]);
  if (rng.chance(0.3)) b.phi('PatientMotherBirthName', patient.motherBirthName.text, patient.motherBirthName.tokens);
  if (study.patientComments) b.clean('PatientComments', study.patientComments);
}
