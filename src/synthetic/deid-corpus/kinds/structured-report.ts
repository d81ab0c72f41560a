/**
 * Structured reports: Comprehensive SR, or Basic Text SR (no NUM items). The content tree
 * holds registered codes (kept), a date (shifted), a measurement (kept), and then, after
 * everything that must stay, items with identity: a person name, free text naming the
 * patient and a local code three levels down naming them again.
 */
import { CorpusInstance } from '../answer-key';
import { Level } from '../builder';
import { later } from '../calendar';
import { Code, CODES, localCode, registeredCode } from '../codes';
import { identityInsert } from '../descriptions';
import { titledDoctor } from '../identities';
import { Rng } from '../random';
import { SeriesPlan } from '../plans';
import { finishInstance, InstanceInput, InstanceRef, startInstance } from './common';

export const COMPREHENSIVE_SR_STORAGE = '1.2.840.10008.5.1.4.1.1.88.33';
export const BASIC_TEXT_SR_STORAGE = '1.2.840.10008.5.1.4.1.1.88.11';

const PROCEDURE: Record<string, Code> = { CT: CODES.ctChest, MR: CODES.mrBrain, US: CODES.usAbdomen };
const SITE: Record<string, Code> = { CT: CODES.lung, MR: CODES.brain, US: CODES.liver };

/** ValueType and RelationshipType of an item that must stay, and its concept name. */
function keptItem(item: Level, valueType: string, relationship: string, concept: Code): void {
  item.keep('RelationshipType', relationship);
  item.keep('ValueType', valueType);
  item.seq('ConceptNameCodeSequence', [registeredCode(concept)]);
}

/** An item that may be dropped whole: nothing of it is asked to stay. */
function droppableItem(item: Level, valueType: string, relationship: string, concept: Code): void {
  item.set('RelationshipType', relationship);
  item.set('ValueType', valueType);
  item.seq('ConceptNameCodeSequence', [
    (c) => {
      c.set('CodeValue', concept.value);
      c.set('CodingSchemeDesignator', concept.scheme);
      c.set('CodeMeaning', concept.meaning);
    },
  ]);
}

function findings(rng: Rng, s: SeriesPlan, comprehensive: boolean): (item: Level) => void {
  const patient = s.study.patient;
  return (item) => {
    keptItem(item, 'CONTAINER', 'CONTAINS', CODES.findings);
    item.keep('ContinuityOfContent', 'SEPARATE');
    item.date('ObservationDateTime', `${s.date}${later(s.time, 900)}`);
    const children: ((c: Level) => void)[] = [
      (c) => {
        keptItem(c, 'CODE', 'HAS CONCEPT MOD', CODES.findingSite);
        c.seq('ConceptCodeSequence', [registeredCode(SITE[s.study.modality])]);
      },
    ];
    if (comprehensive) {
      children.push((c) => {
        keptItem(c, 'NUM', 'CONTAINS', CODES.diameter);
        c.seq('MeasuredValueSequence', [
          (m) => {
            m.keep('NumericValue', `${rng.int(4, 40)}.${rng.int(0, 9)}`);
            m.seq('MeasurementUnitsCodeSequence', [registeredCode(CODES.millimeter)]);
          },
        ]);
      });
    }
    // Last: a finding coded locally, its meaning naming the patient (depth 3).
    children.push((c) => {
      droppableItem(c, 'CODE', 'CONTAINS', CODES.finding);
      c.seq('ConceptCodeSequence', [localCode(rng, patient)]);
    });
    item.seq('ContentSequence', children);
  };
}

function textItem(rng: Rng, s: SeriesPlan, concept: Code, opening: string): (item: Level) => void {
  const patient = s.study.patient;
  return (item) => {
    droppableItem(item, 'TEXT', 'CONTAINS', concept);
    const a = identityInsert(rng, patient, s.study.accession);
    const doctor = titledDoctor(rng);
    const referrer = s.study.referring;
    item.phi('TextValue', `${opening} ${a.text}; discussed with ${doctor.text} and ${referrer.display} by phone.`, [
      ...a.tokens,
      ...doctor.tokens,
      ...referrer.displayTokens,
    ]);
  };
}

export function structuredReportInstance(input: InstanceInput, evidence: InstanceRef[], comprehensive: boolean): CorpusInstance {
  const b = startInstance(input);
  const { series, rng } = input;
  const study = series.study;
  b.date('ContentDate', series.date);
  b.keep('ContentTime', series.time);
  b.keep('CompletionFlag', 'COMPLETE');
  b.keep('VerificationFlag', 'VERIFIED');
  b.seq('PerformedProcedureCodeSequence', [registeredCode(PROCEDURE[study.modality])]);
  b.seq('ReferencedPerformedProcedureStepSequence', []);
  b.seq('VerifyingObserverSequence', [
    (v) => {
      v.phi('VerifyingObserverName', study.reading.pn, study.reading.tokens);
      v.phi('VerifyingOrganization', study.patient.site.institution, [study.patient.site.token]);
      v.date('VerificationDateTime', `${series.date}${later(series.time, 3600)}`);
      v.seq('VerifyingObserverIdentificationCodeSequence', []);
    },
  ]);
  if (evidence.length) {
    const bySeries = new Map<string, InstanceRef[]>();
    for (const e of evidence) bySeries.set(e.seriesUID, [...(bySeries.get(e.seriesUID) ?? []), e]);
    b.seq('CurrentRequestedProcedureEvidenceSequence', [
      (ev) => {
        ev.uid('StudyInstanceUID', study.uid, { consistent: true });
        ev.seq(
          'ReferencedSeriesSequence',
          [...bySeries].map(([seriesUID, refs]) => (rs: Level) => {
            rs.uid('SeriesInstanceUID', seriesUID, { consistent: true });
            rs.seq(
              'ReferencedSOPSequence',
              refs.map((r) => (item: Level) => {
                item.keep('ReferencedSOPClassUID', r.sopClassUID);
                item.uid('ReferencedSOPInstanceUID', r.sopInstanceUID, { consistent: true });
              }),
            );
          }),
        );
      },
    ]);
  }
  // The root container.
  b.keep('ValueType', 'CONTAINER');
  b.seq('ConceptNameCodeSequence', [registeredCode(CODES.imagingReport)]);
  b.keep('ContinuityOfContent', 'SEPARATE');
  b.seq('ContentTemplateSequence', [
    (t) => {
      t.keep('MappingResource', 'DCMR');
      t.keep('TemplateIdentifier', '2000');
    },
  ]);
  b.seq('ContentSequence', [
    (item) => {
      keptItem(item, 'CODE', 'HAS CONCEPT MOD', CODES.procedureReported);
      item.seq('ConceptCodeSequence', [registeredCode(PROCEDURE[study.modality])]);
    },
    findings(rng, series, comprehensive),
    (item) => {
      keptItem(item, 'DATE', 'HAS OBS CONTEXT', CODES.studyDate);
      item.date('Date', study.date);
    },
    // From here on, identity: these items may be emptied, replaced or dropped.
    (item) => {
      droppableItem(item, 'PNAME', 'HAS OBS CONTEXT', CODES.personObserverName);
      item.phi('PersonName', study.reading.pn, study.reading.tokens);
    },
    textItem(rng, series, CODES.history, 'Referred for imaging:'),
    textItem(rng, series, CODES.impression, 'No acute findings. Patient'),
  ]);
  return finishInstance('SR', b, input);
}
