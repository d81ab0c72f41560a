/**
 * Deleting and rejecting on PostgreSQL, inside the caller's transaction, exactly as SqliteIndex
 * does (the reference): the scope's instances (a rejection's listed ones) leave the searchable
 * tables, kept in rejected_instances for a rejection; the series and the study they leave empty
 * go too (the study with its words, projects and fingerprints); what remains is recounted and
 * gets new metadata stamps. The study is locked as an insert locks it (lockStudies, then its row
 * FOR NO KEY UPDATE), so a node adding to it meanwhile waits and then sees the deletion whole.
 */
import type { Rejection, RemovedInstances, Scope } from '../index';
import { INSTANCE_COLUMNS, InstanceRow, toStored } from '../instance-row';
import { named, Tx } from './database';
import { lockStudies } from './insert-record';
import { SqlParams } from './search';

/** Only studies of these projects (undefined: every study), as index.ts filters reads. */
function visible(projects: readonly string[] | undefined, p: SqlParams): string | undefined {
  if (projects === undefined) return undefined;
  if (projects.length === 0) return 'false';
  return `EXISTS (SELECT 1 FROM study_projects sp WHERE sp.study_uid = i.study_uid AND sp.project = ANY(${p.add(projects)}))`;
}

export async function removeRows(tx: Tx, scope: Scope, projects: readonly string[] | undefined, rejection: Rejection | undefined): Promise<RemovedInstances | undefined> {
  await lockStudies(tx, [scope.study]);
  const study = (
    await tx.query<{ patient_id: string | null }>(named('vg_remove_lock_study', 'SELECT patient_id FROM studies WHERE study_uid = $1 FOR NO KEY UPDATE'), [scope.study])
  ).rows[0];
  if (!study) return undefined;
  const p = new SqlParams();
  const where = [`i.study_uid = ${p.add(scope.study)}`, visible(projects, p)];
  if (scope.series) where.push(`i.series_uid = ${p.add(scope.series)}`);
  if (scope.instance) where.push(`i.sop_instance_uid = ${p.add(scope.instance)}`);
  if (rejection) where.push(`i.sop_instance_uid = ANY(${p.add([...rejection.instances])})`);
  const rows = (
    await tx.query<InstanceRow & { id: string }>(
      `SELECT ${INSTANCE_COLUMNS}, i.id::text AS id FROM instances i JOIN series se ON se.series_uid = i.series_uid
       WHERE ${where.filter(Boolean).join(' AND ')} ORDER BY se.series_number ASC NULLS LAST, se.id, i.instance_number ASC NULLS LAST, i.id`,
      p.values,
    )
  ).rows;
  if (!rows.length) return undefined;
  const ids = rows.map((r) => r.id);
  if (rejection) {
    await tx.query(
      `INSERT INTO rejected_instances (sop_instance_uid, series_uid, study_uid, sop_class_uid, transfer_syntax_uid, blob_key, size,
         frames, bulk, content_sha256, reason_code, reason_scheme, rejected_at)
       SELECT sop_instance_uid, series_uid, study_uid, sop_class_uid, transfer_syntax_uid, blob_key, size, frames, bulk, content_sha256, $2, $3, $4
       FROM instances WHERE id = ANY($1::bigint[])
       ON CONFLICT (sop_instance_uid) DO UPDATE SET blob_key = excluded.blob_key, reason_code = excluded.reason_code,
         reason_scheme = excluded.reason_scheme, rejected_at = excluded.rejected_at`,
      [ids, rejection.code, rejection.scheme, rejection.at ?? Date.now()],
    );
  }
  await tx.query('DELETE FROM instances WHERE id = ANY($1::bigint[])', [ids]);
  const series = [...new Set(rows.map((r) => r.series_uid))];
  // Series left empty go; the others are recounted, with a new stamp (their metadata changed).
  await tx.query('DELETE FROM series se WHERE se.series_uid = ANY($1) AND NOT EXISTS (SELECT 1 FROM instances i WHERE i.series_uid = se.series_uid)', [series]);
  await tx.query(
    `UPDATE series se SET num_instances = (SELECT count(*) FROM instances i WHERE i.series_uid = se.series_uid), metadata_version = nextval('metadata_clock')
     WHERE se.series_uid = ANY($1)`,
    [series],
  );
  const left = Number((await tx.query<{ n: string }>('SELECT count(*)::text AS n FROM series WHERE study_uid = $1', [scope.study])).rows[0].n);
  if (left) {
    // The study's distinct modalities in the order its series first brought them (as insert-record.ts lists them).
    await tx.query(
      `UPDATE studies SET num_series = $2, num_instances = (SELECT count(*) FROM instances WHERE study_uid = $1),
         modalities = coalesce((SELECT string_agg(modality, ',' ORDER BY first) FROM (
           SELECT modality, min(id) AS first FROM series WHERE study_uid = $1 AND modality IS NOT NULL GROUP BY modality) m), ''),
         metadata_version = nextval('metadata_clock')
       WHERE study_uid = $1`,
      [scope.study, left],
    );
  } else {
    for (const table of ['person_name_words', 'study_projects', 'study_identifier_fingerprints', 'studies']) {
      await tx.query(`DELETE FROM ${table} WHERE study_uid = $1`, [scope.study]);
    }
  }
  return { instances: rows.map(toStored), patientID: study.patient_id ?? '', studyRemoved: !left };
}

/** Forget up to `limit` instances rejected at or before `before`; their blob keys. */
export async function purgeRejectedRows(tx: Tx, before: number, limit: number): Promise<string[]> {
  const r = await tx.query<{ blob_key: string }>(
    `DELETE FROM rejected_instances WHERE sop_instance_uid IN (
       SELECT sop_instance_uid FROM rejected_instances WHERE rejected_at <= $1 ORDER BY rejected_at LIMIT $2 FOR UPDATE SKIP LOCKED)
     RETURNING blob_key`,
    [before, limit],
  );
  return r.rows.map((x) => x.blob_key);
}
