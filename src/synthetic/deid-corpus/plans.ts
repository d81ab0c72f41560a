/**
 * What a study and a series are before any instance is written: identifiers, dates, people,
 * free text. Instances of one series repeat these values, as real ones do, so each
 * instance's answer key holds them again.
 */
import { FreeText } from './builder';
import { ObjectKind } from './answer-key';
import { addDays, later, timeOfDay } from './calendar';
import { comment, describe, overLong, Phrase, protocolName, SERIES_PHRASES, studyPhrase } from './descriptions';
import { Patient, Person, person } from './identities';
import { Rng } from './random';
import { UidSource } from './uids';

export type StudyModality = 'CT' | 'MR' | 'US';

export interface StudyPlan {
  patient: Patient;
  modality: StudyModality;
  uid: string;
  date: string;
  time: string;
  accession: string;
  studyId: string;
  phrase: Phrase;
  description: FreeText;
  referring: Person;
  reading: Person;
  requesting: Person;
  requestedProcedureId: string;
  scheduledStepId: string;
  performedStepId: string;
  requestedProcedureDescription: FreeText;
  reasonForRequest: FreeText;
  performedStepDescription: FreeText;
  placerOrderNumber: string;
  admissionId: string;
  patientComments?: FreeText;
  /** The RIS sends only its own code as the requested procedure. */
  ownProcedureCode: boolean;
}

export interface SeriesPlan {
  study: StudyPlan;
  kind: ObjectKind;
  uid: string;
  number: number;
  modality: string;
  date: string;
  time: string;
  description: FreeText;
  protocol: FreeText;
  operator: Person;
  performing: Person;
  station: string;
  serial: string;
  model: string;
  calibrationDate: string;
  frameOfReferenceUID: string;
  /** Image Comments for this series' instances, when it has any. */
  imageComments?: FreeText;
}

export function planStudy(rng: Rng, uids: UidSource, patient: Patient, modality: StudyModality, date: string): StudyPlan {
  const accession = `${rng.letters(2)}${rng.digits(8, 1)}`;
  const staff = patient.site.staff;
  const phrase = studyPhrase(rng, patient, modality);
  // A few study descriptions are far longer than LO's 64 characters, with identity inside.
  const description = rng.chance(0.06) ? overLong(rng, phrase, patient, accession, 5000) : describe(rng, phrase, patient, accession);
  return {
    patient,
    modality,
    uid: uids.next(),
    date,
    time: timeOfDay(rng),
    accession,
    studyId: `${rng.letters(1)}${rng.digits(7)}`,
    phrase,
    description,
    referring: rng.pick(staff),
    reading: rng.pick(staff),
    requesting: person(rng, patient.charset),
    requestedProcedureId: `RP${rng.digits(7)}`,
    scheduledStepId: `SPS${rng.digits(7)}`,
    performedStepId: `PPS${rng.digits(7)}`,
    requestedProcedureDescription: describe(rng, phrase, patient, accession),
    reasonForRequest: describe(rng, rng.pick([{ text: 'suspected pneumonia', retained: ['SUSPECTED', 'PNEUMONIA'] }, { text: 'follow up of known lesion', retained: ['FOLLOW', 'LESION'] }, { text: 'acute pain, rule out fracture', retained: ['ACUTE', 'PAIN', 'FRACTURE'] }]), patient, accession),
    performedStepDescription: describe(rng, phrase, patient, accession),
    placerOrderNumber: `PO${rng.digits(9)}`,
    admissionId: `ADM${rng.digits(8)}`,
    patientComments: rng.chance(0.4)
      ? describe(rng, { text: 'Allergic to iodine contrast', retained: ['ALLERGIC', 'IODINE', 'CONTRAST'] }, patient, accession, 2)
      : undefined,
    ownProcedureCode: rng.chance(0.4),
  };
}

const MODELS: Record<string, string> = { CT: 'Synthia CT 64', MR: 'Synthia MR 3T', US: 'Synthia Sono 9', OT: 'Synthia Capture', SR: 'Synthia Reporter', SEG: 'Synthia Segmenter' };

const MODALITY_OF: Record<ObjectKind, string> = { CT: 'CT', MR: 'MR', EnhancedMR: 'MR', US: 'US', SC: 'OT', SR: 'SR', SEG: 'SEG' };

export function planSeries(rng: Rng, uids: UidSource, study: StudyPlan, kind: ObjectKind, number: number, frameOfReferenceUID: string): SeriesPlan {
  const patient = study.patient;
  const modality = MODALITY_OF[kind];
  const phrase = rng.pick(SERIES_PHRASES[kind]);
  const stationPrefix = modality === 'OT' ? 'WS' : modality.slice(0, 2);
  return {
    study,
    kind,
    uid: uids.next(),
    number,
    modality,
    date: study.date,
    time: later(study.time, number * 137),
    description: rng.chance(0.6) ? describe(rng, phrase, patient, study.accession) : { text: phrase.text, retained: phrase.retained, tokens: [] },
    protocol: protocolName(rng, phrase, patient),
    operator: rng.pick(patient.site.staff),
    performing: rng.pick(patient.site.staff),
    // Station names are one word, never a clinical one: "CTWEND02".
    station: `${stationPrefix}${patient.site.asciiToken.slice(0, 4).toUpperCase()}${rng.digits(2, 0)}`,
    serial: `${rng.letters(2)}${rng.digits(6)}`,
    model: MODELS[modality],
    calibrationDate: addDays(study.date, -rng.int(1, 300)),
    frameOfReferenceUID,
    imageComments: rng.chance(0.5) ? (rng.chance(0.05) ? overLong(rng, phrase, patient, study.accession, 12000) : comment(rng, patient, study.accession)) : undefined,
  };
}
