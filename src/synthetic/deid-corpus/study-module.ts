/**
 * The study and its order: identifiers, people, descriptions, and the coded procedure at
 * three depths: ProcedureCodeSequence (1), RequestAttributesSequence > ScheduledProtocol
 * CodeSequence or RequestedProcedureCodeSequence (2), and RequestedProcedureCodeSequence >
 * EquivalentCodeSequence (3). Each holds a registered
 * code first (kept) and then a local one naming the patient (to go).
 */
import { Level } from './builder';
import { CODES, localCode, registeredCode } from './codes';
import { Person, phoneNumber } from './identities';
import { StudyPlan } from './plans';
import { Rng } from './random';

const PROCEDURE = { CT: CODES.ctChest, MR: CODES.mrBrain, US: CODES.usAbdomen } as const;
const REASON = { CT: CODES.chestPain, MR: CODES.headache, US: CODES.abdominalPain } as const;

function personName(b: Level, keyword: string, p: Person): void {
  b.phi(keyword, p.pn, p.tokens);
}

export function studyModule(b: Level, study: StudyPlan, rng: Rng): void {
  const patient = study.patient;
  const site = patient.site;
  b.uid('StudyInstanceUID', study.uid, { consistent: true });
  b.date('StudyDate', study.date);
  b.keep('StudyTime', study.time);
  b.phi('AccessionNumber', study.accession, [study.accession]);
  personName(b, 'ReferringPhysicianName', study.referring);
  if (rng.chance(0.4)) {
    b.seq('ReferringPhysicianIdentificationSequence', [
      (item) => {
        item.phi('InstitutionName', site.institution, [site.token]);
        const phone = phoneNumber(rng, site.country);
        item.phi('PersonTelephoneNumbers', phone, [phone]);
        item.seq('PersonIdentificationCodeSequence', [localCode(rng, patient)]);
      },
    ]);
  }
  b.phi('StudyID', study.studyId, [study.studyId]);
  b.clean('StudyDescription', study.description);
  personName(b, 'NameOfPhysiciansReadingStudy', study.reading);
  if (rng.chance(0.5)) personName(b, 'PhysiciansOfRecord', study.referring);
  b.seq('ProcedureCodeSequence', [registeredCode(PROCEDURE[study.modality]), localCode(rng, patient)]);
  personName(b, 'RequestingPhysician', study.requesting);
  b.phi('RequestingService', `Ambulanz ${site.token}`, [site.token]);
  b.phi('PlacerOrderNumberImagingServiceRequest', study.placerOrderNumber, [study.placerOrderNumber]);
  b.phi('AdmissionID', study.admissionId, [study.admissionId]);
  b.phi('CurrentPatientLocation', `Station 4B ${site.token}`, [site.token]);
  b.seq('RequestAttributesSequence', [
    (item) => {
      item.phi('RequestedProcedureID', study.requestedProcedureId, [study.requestedProcedureId]);
      item.phi('ScheduledProcedureStepID', study.scheduledStepId, [study.scheduledStepId]);
      item.phi('AccessionNumber', study.accession, [study.accession]);
      item.uid('StudyInstanceUID', study.uid, { consistent: true });
      item.clean('RequestedProcedureDescription', study.requestedProcedureDescription);
      item.clean('ReasonForTheRequestedProcedure', study.reasonForRequest);
      // Either the registered code with the RIS's own code as its equivalent (depth 3), or the
      // RIS's own code alone (depth 2), as many RIS send it.
      if (study.ownProcedureCode) item.seq('RequestedProcedureCodeSequence', [localCode(rng, patient)]);
      else item.seq('RequestedProcedureCodeSequence', [registeredCode(PROCEDURE[study.modality], (code) => code.seq('EquivalentCodeSequence', [localCode(rng, patient)]))]);
      item.seq('ScheduledProtocolCodeSequence', [localCode(rng, patient)]);
      item.seq('ReasonForRequestedProcedureCodeSequence', [registeredCode(REASON[study.modality])]);
      // A private block inside a standard sequence: the RIS's own copy of the MRN.
      item.set(0x00110010, 'SYNTH RIS 2.0', 'LO');
      item.phi(0x00111001, `${patient.mrn}`, [patient.mrn], 'LO');
    },
  ]);
  b.phi('PerformedProcedureStepID', study.performedStepId, [study.performedStepId]);
  b.date('PerformedProcedureStepStartDate', study.date);
  b.keep('PerformedProcedureStepStartTime', study.time);
  b.clean('PerformedProcedureStepDescription', study.performedStepDescription);
}
