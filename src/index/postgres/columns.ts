/**
 * Where each match key lives in the PostgreSQL schema (db/postgres/001): the backend's own map
 * from a key's keyword to its column, so no column name leaves this backend.
 */
import type { Level } from '../../query/attributes';

/** Table aliases used in every search statement: studies s, series se, instances i. */
export type Alias = 's' | 'se' | 'i';

export const LEVEL_ALIAS: Record<Level, Alias> = { study: 's', series: 'se', instance: 'i' };
export const TABLE: Record<Alias, string> = { s: 'studies', se: 'series', i: 'instances' };

export interface KeyColumn {
  table: Alias;
  column: string;
  /** Person names: the ASCII-uppercased key column, and their person_name_words.attr. */
  personName?: { key: string; wordsAttr: number };
}

/** person_name_words.attr of each person-name key. */
export const WORDS_ATTR = { PatientName: 0, ReferringPhysicianName: 1 } as const;

const col = (table: Alias, column: string): KeyColumn => ({ table, column });

export const KEY_COLUMNS: Record<string, KeyColumn> = {
  StudyInstanceUID: col('s', 'study_uid'),
  StudyDate: col('s', 'study_date'),
  StudyTime: col('s', 'study_time'),
  AccessionNumber: col('s', 'accession_number'),
  // Matched through the study's series (modality_key), see search.ts.
  ModalitiesInStudy: col('s', 'modalities'),
  ReferringPhysicianName: {
    table: 's',
    column: 'referring_physician_name',
    personName: { key: 'referring_physician_name_key', wordsAttr: WORDS_ATTR.ReferringPhysicianName },
  },
  StudyDescription: col('s', 'study_description'),
  PatientName: { table: 's', column: 'patient_name', personName: { key: 'patient_name_key', wordsAttr: WORDS_ATTR.PatientName } },
  PatientID: col('s', 'patient_id'),
  PatientBirthDate: col('s', 'patient_birth_date'),
  PatientSex: col('s', 'patient_sex'),
  StudyID: col('s', 'study_id'),
  SeriesInstanceUID: col('se', 'series_uid'),
  Modality: col('se', 'modality'),
  SeriesNumber: col('se', 'series_number'),
  SeriesDescription: col('se', 'series_description'),
  PerformedProcedureStepStartDate: col('se', 'performed_start_date'),
  PerformedProcedureStepStartTime: col('se', 'performed_start_time'),
  'RequestAttributesSequence.ScheduledProcedureStepID': col('se', 'scheduled_step_id'),
  'RequestAttributesSequence.RequestedProcedureID': col('se', 'requested_procedure_id'),
  SOPInstanceUID: col('i', 'sop_instance_uid'),
  SOPClassUID: col('i', 'sop_class_uid'),
  InstanceNumber: col('i', 'instance_number'),
};

export function keyColumn(keyword: string): KeyColumn {
  const c = KEY_COLUMNS[keyword];
  // A match key added to query/attributes.ts without a column here is a bug, not a client's error.
  if (!c) throw new Error(`the PostgreSQL index has no column for match key ${keyword}`);
  return c;
}
