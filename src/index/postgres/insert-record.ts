/**
 * One instance into the PostgreSQL index, inside the caller's transaction, exactly as SqliteIndex
 * inserts it (duplicates, projects and joiner, a series under another study, counters,
 * modalities, fingerprints, metadata stamps): one call of vg_insert_instance (db/postgres/004),
 * so a record costs one round trip, and a refused one undoes only its own work.
 *
 * Several nodes may add instances of the same new study or series at once. Inserts into one
 * study take turns, as SQLite's single writer would have them: the transaction holds the study's
 * advisory lock (lockStudies) from its start, and the function locks the study row before its
 * projects are judged and its counters and modality list change.
 */
import { VeilgateError } from '../../errors';
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

const INSERT_INSTANCE = named(
  'vg_insert_instance',
  `SELECT vg_insert_instance(${Array.from({ length: 40 }, (_, k) => `$${k + 1}`).join(', ')}) AS outcome`,
);

/** What the function answers for a refused record, as the error SqliteIndex throws for it. */
const REFUSALS: Record<string, () => VeilgateError> = {
  forbidden: () => new VeilgateError('forbidden', 'the source may not add instances to this study'),
  'series-elsewhere': () => new VeilgateError('refused', 'the series of this instance is already stored under another study'),
};

/**
 * Inserts the record, its study locked already (lockStudies): 'inserted', or 'duplicate' when its
 * SOP Instance UID is stored (or rejected and awaiting deletion) already, with nothing changed.
 * A record the index refuses comes back as the error to give its sender, with nothing of it kept
 * and the transaction still usable; a failure of the database itself throws.
 */
export async function insertRecord(tx: Tx, r: InstanceRecord): Promise<InsertOutcome | VeilgateError> {
  const s = r.study;
  const se = r.series;
  const words = [
    ...personNameWords(s.patientName).map((w) => [WORDS_ATTR.PatientName, w] as const),
    ...personNameWords(s.referringPhysicianName).map((w) => [WORDS_ATTR.ReferringPhysicianName, w] as const),
  ];
  const { rows } = await tx.query<{ outcome: string }>(INSERT_INSTANCE, [
    r.sopInstanceUID, r.seriesUID, r.studyUID, r.sopClassUID, r.instanceNumber, r.transferSyntaxUID,
    r.blobKey, r.size, r.frames ? JSON.stringify(r.frames) : null, JSON.stringify(r.bulk), r.metadataJson, r.instanceAttributesJson, r.contentSha256 ?? null,
    s.patientName, asciiKey(s.patientName), s.patientID, s.patientBirthDate, s.patientSex,
    s.studyDate, s.studyTime, s.accessionNumber, s.studyID, s.referringPhysicianName, asciiKey(s.referringPhysicianName),
    s.studyDescription, s.attributesJson, words.map((w) => w[0]), words.map((w) => w[1]),
    se.modality, asciiKey(se.modality), se.seriesNumber, se.seriesDescription, se.performedStartDate,
    se.performedStartTime, se.scheduledStepID, se.requestedProcedureID, se.attributesJson,
    r.projects, r.joiner, r.identifierFingerprints ?? [],
  ]);
  const outcome = rows[0]?.outcome;
  if (outcome === 'inserted' || outcome === 'duplicate') return outcome;
  const refusal = outcome !== undefined ? REFUSALS[outcome] : undefined;
  if (refusal) return refusal();
  throw new Error(`vg_insert_instance answered ${String(outcome)}`);
}
