/**
 * One instance into the PostgreSQL index, inside the caller's transaction, exactly as SqliteIndex
 * inserts it (duplicates, projects and joiner, a series under another study, counters,
 * modalities, fingerprints, metadata stamps).
 *
 * Several nodes may add instances of the same new study or series at once. Inserts into one
 * study take turns, as SQLite's single writer would have them: the transaction holds the study's
 * advisory lock (lockStudies) from its start, and the study row's lock (FOR NO KEY UPDATE, which
 * foreign-key checks' KEY SHARE locks do not wait for) before its projects are judged and its
 * counters and modality list change. Rows are still created with INSERT ... ON CONFLICT DO
 * NOTHING and read back: a series may be created under another study at the same moment.
 */
import { VeilgateError } from '../../errors';
import { studyOpenTo } from '../../auth/projects';
import type { InstanceRecord } from '../index';
import { WORDS_ATTR } from './columns';
import { named, Tx } from './database';
import { asciiKey, personNameWords } from '../../query/patterns';

export type InsertOutcome = 'inserted' | 'duplicate';

/** The advisory-lock key space (pg_advisory_xact_lock(space, key)) of "instances are being added to this study". */
const STUDY_LOCK_SPACE = 0x76677374; // 'vgst'

/**
 * Take the study locks of a transaction's records before any of them goes in, all at once and in
 * UID order: nodes storing batches that share studies then wait for one another at the start
 * instead of deadlocking halfway (each holding one study and wanting the other's). A hash
 * collision only makes two studies take turns.
 */
export async function lockStudies(tx: Tx, studies: readonly string[]): Promise<void> {
  const unique = [...new Set(studies)].sort();
  if (!unique.length) return;
  await tx.query(
    named('vg_lock_studies', 'SELECT pg_advisory_xact_lock($1, hashtext(u)) FROM (SELECT u FROM unnest($2::text[]) u ORDER BY u) ordered'),
    [STUDY_LOCK_SPACE, unique],
  );
}

/** Creates the study unless it exists; true when this transaction created it. */
async function ensureStudy(tx: Tx, r: InstanceRecord): Promise<boolean> {
  const s = r.study;
  const created = await tx.query(
    named('vg_insert_study', `INSERT INTO studies (study_uid, patient_name, patient_name_key, patient_id, patient_birth_date, patient_sex, study_date,
       study_time, accession_number, study_id, referring_physician_name, referring_physician_name_key, study_description, attrs)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
     ON CONFLICT (study_uid) DO NOTHING RETURNING id`),
    [r.studyUID, s.patientName, asciiKey(s.patientName), s.patientID, s.patientBirthDate, s.patientSex, s.studyDate,
      s.studyTime, s.accessionNumber, s.studyID, s.referringPhysicianName, asciiKey(s.referringPhysicianName), s.studyDescription, s.attributesJson],
  );
  if (!created.rowCount) return false;
  const words = [
    ...personNameWords(s.patientName).map((w) => [WORDS_ATTR.PatientName, w] as const),
    ...personNameWords(s.referringPhysicianName).map((w) => [WORDS_ATTR.ReferringPhysicianName, w] as const),
  ];
  if (words.length) {
    await tx.query(
      named('vg_insert_words', `INSERT INTO person_name_words (attr, word, study_uid)
       SELECT unnest($1::smallint[]), unnest($2::text[]), $3 ON CONFLICT DO NOTHING`),
      [words.map((w) => w[0]), words.map((w) => w[1]), r.studyUID],
    );
  }
  return true;
}

/**
 * A study belongs to the projects its first instance got; a later one may join only if the study
 * is open to its source. Called with the study row locked, so the projects read are settled.
 */
async function joinProjects(tx: Tx, r: InstanceRecord): Promise<void> {
  const held = (await tx.query<{ project: string }>(named('vg_study_projects', 'SELECT project FROM study_projects WHERE study_uid = $1'), [r.studyUID])).rows.map((x) => x.project);
  if (held.length) {
    if (!studyOpenTo(held, r.joiner)) throw new VeilgateError('forbidden', 'the source may not add instances to this study');
  } else if (r.projects.length) {
    await tx.query(named('vg_insert_projects', 'INSERT INTO study_projects (study_uid, project) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING'), [r.studyUID, r.projects]);
  }
}

/** Creates the series unless it exists; refuses one stored under another study. */
async function ensureSeries(tx: Tx, r: InstanceRecord): Promise<void> {
  const se = r.series;
  const created = await tx.query(
    named('vg_insert_series', `INSERT INTO series (series_uid, study_uid, modality, modality_key, series_number, series_description, performed_start_date,
       performed_start_time, scheduled_step_id, requested_procedure_id, attrs)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
     ON CONFLICT (series_uid) DO NOTHING RETURNING id`),
    [r.seriesUID, r.studyUID, se.modality, asciiKey(se.modality), se.seriesNumber, se.seriesDescription, se.performedStartDate,
      se.performedStartTime, se.scheduledStepID, se.requestedProcedureID, se.attributesJson],
  );
  if (!created.rowCount) {
    const existing = await tx.query<{ study_uid: string }>(named('vg_series_study', 'SELECT study_uid FROM series WHERE series_uid = $1'), [r.seriesUID]);
    if (existing.rows[0]?.study_uid !== r.studyUID) throw new VeilgateError('refused', 'the series of this instance is already stored under another study');
    return;
  }
  // The study's distinct modalities in the order its series first brought them (as SQLite lists them).
  await tx.query(
    named('vg_study_series', `UPDATE studies SET num_series = num_series + 1, modalities = coalesce((
       SELECT string_agg(modality, ',' ORDER BY first) FROM (
         SELECT modality, min(id) AS first FROM series WHERE study_uid = $1 AND modality IS NOT NULL GROUP BY modality) m), '')
     WHERE study_uid = $1`),
    [r.studyUID],
  );
}

/**
 * Inserts the record, its study locked already (lockStudies). 'duplicate' when its SOP Instance UID is stored already: the caller must
 * then discard whatever this call changed (roll back its transaction or savepoint), as a
 * concurrent insert of the same instance may be found only at the instance row, after the study
 * and series work.
 */
export async function insertRecord(tx: Tx, r: InstanceRecord): Promise<InsertOutcome> {
  // A rejected instance awaiting deletion keeps its UID: a re-send is a duplicate, never stored over it.
  const exists = named('vg_instance_exists', 'SELECT 1 FROM instances WHERE sop_instance_uid = $1 UNION ALL SELECT 1 FROM rejected_instances WHERE sop_instance_uid = $1');
  if ((await tx.query(exists, [r.sopInstanceUID])).rowCount) return 'duplicate';
  await ensureStudy(tx, r);
  await tx.query(named('vg_lock_study', 'SELECT 1 FROM studies WHERE study_uid = $1 FOR NO KEY UPDATE'), [r.studyUID]);
  await joinProjects(tx, r);
  await ensureSeries(tx, r);
  const instance = await tx.query(
    named('vg_insert_instance', `INSERT INTO instances (sop_instance_uid, series_uid, study_uid, sop_class_uid, instance_number, transfer_syntax_uid,
       blob_key, size, frames, bulk, metadata, attrs, content_sha256)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
     ON CONFLICT (sop_instance_uid) DO NOTHING RETURNING id`),
    [r.sopInstanceUID, r.seriesUID, r.studyUID, r.sopClassUID, r.instanceNumber, r.transferSyntaxUID, r.blobKey,
      r.size, r.frames ? JSON.stringify(r.frames) : null, JSON.stringify(r.bulk), r.metadataJson,
      r.instanceAttributesJson, r.contentSha256 ?? null],
  );
  if (!instance.rowCount) return 'duplicate';
  if (r.identifierFingerprints?.length) {
    await tx.query(named('vg_insert_fingerprints', 'INSERT INTO study_identifier_fingerprints (study_uid, fingerprint) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING'), [
      r.studyUID,
      r.identifierFingerprints,
    ]);
  }
  // A new stamp for the series and the study: their metadata changed (metadataStamp).
  await tx.query(named('vg_series_instance', `UPDATE series SET num_instances = num_instances + 1, metadata_version = nextval('metadata_clock') WHERE series_uid = $1`), [r.seriesUID]);
  await tx.query(named('vg_study_instance', `UPDATE studies SET num_instances = num_instances + 1, metadata_version = nextval('metadata_clock') WHERE study_uid = $1`), [r.studyUID]);
  return 'inserted';
}
