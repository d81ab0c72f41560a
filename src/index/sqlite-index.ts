/** The Index on SQLite (better-sqlite3, WAL mode): one file in the data directory. */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Index, InstanceRecord, QueryResult, Rejection, RemovedInstances, Scope, StoredInstance } from './index';
import { Query } from '../query/query';
import { INSTANCE_COLUMNS, InstanceRow, toStored } from './instance-row';
import { Level, LEVEL_ORDER } from '../query/attributes';
import { buildResult } from '../query/results';
import { VeilgateError } from '../errors';
import { migrate } from './sqlite-migrations';
import { insertPersonNameWords, PN_WORD_ATTR, planSearch } from './sqlite-search';
import { personNameWords } from '../query/patterns';
import { WalSync } from './wal-sync';
import { SAFETY_NET_PAGES, WalCheckpointer } from './wal-checkpointer';

import { studyOpenTo } from '../auth/projects';

/**
 * Only studies of these projects (undefined: every study). One primary-key lookup per row: an IN
 * list of the projects' studies would be built whole first (all 100,000 of a large project).
 * `column` must be qualified (the subquery has its own study_uid).
 */
function projectClause(column: string, projects: readonly string[] | undefined): { sql: string; params: string[] } | undefined {
  if (projects === undefined) return undefined;
  if (projects.length === 0) return { sql: '0', params: [] };
  return { sql: `EXISTS (SELECT 1 FROM study_projects p WHERE p.study_uid = ${column} AND p.project IN (${projects.map(() => '?').join(', ')}))`, params: [...projects] };
}

function scopeWhere(scope: Scope, projects?: readonly string[]): { sql: string; params: string[] } {
  const clauses = ['i.study_uid = ?'];
  const params = [scope.study];
  const p = projectClause('i.study_uid', projects);
  if (p) {
    clauses.push(p.sql);
    params.push(...p.params);
  }
  if (scope.series) {
    clauses.push('i.series_uid = ?');
    params.push(scope.series);
  }
  if (scope.instance) {
    clauses.push('i.sop_instance_uid = ?');
    params.push(scope.instance);
  }
  return { sql: clauses.join(' AND '), params };
}

const ORDER = 'ORDER BY se.series_number IS NULL, se.series_number, se.id, i.instance_number IS NULL, i.instance_number, i.id';

export class SqliteIndex implements Index {
  private readonly db: Database.Database;
  private readonly insertTx: (r: InstanceRecord) => 'inserted' | 'duplicate';
  private readonly statements = new Map<string, Database.Statement>();

  /** Prepared once, reused for every call: ingest runs the same statements for every instance. */
  private stmt(sql: string): Database.Statement {
    let st = this.statements.get(sql);
    if (!st) {
      st = this.db.prepare(sql);
      this.statements.set(sql, st);
    }
    return st;
  }

  constructor(dataDir: string, file = path.join(dataDir, 'index.sqlite')) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    // NORMAL, with the WAL flushed before an instance is acknowledged (wal-sync.ts): as durable as
    // FULL for everything acknowledged, without an fsync per commit on the main thread.
    this.db.pragma('synchronous = NORMAL');
    this.wal = new WalSync(`${file}-wal`);
    // Checkpoints run on a thread of their own when writes pause (wal-checkpointer.ts).
    this.db.pragma(`wal_autocheckpoint = ${SAFETY_NET_PAGES}`);
    this.db.pragma('foreign_keys = ON');
    // Another process (veilgate import beside the server) may hold the write lock for a moment.
    this.db.pragma('busy_timeout = 5000');
    migrate(this.db);
    this.checkpointer = new WalCheckpointer(file);
    this.insertTx = this.db.transaction((r: InstanceRecord) => this.insertRecord(r));
    this.removeTx = this.db.transaction((scope: Scope, projects: readonly string[] | undefined, rejection: Rejection | undefined) => this.removeRows(scope, projects, rejection));
  }

  private readonly removeTx: (scope: Scope, projects: readonly string[] | undefined, rejection: Rejection | undefined) => RemovedInstances | undefined;

  /**
   * Takes a scope's instances (a rejection's listed ones) out of the searchable tables, then the
   * series and the study they leave empty; recounts what remains. In the caller's transaction.
   */
  private removeRows(scope: Scope, projects: readonly string[] | undefined, rejection: Rejection | undefined): RemovedInstances | undefined {
    const w = scopeWhere(scope, projects);
    let rows = this.db
      .prepare(`SELECT ${INSTANCE_COLUMNS}, i.id FROM instances i JOIN series se ON se.series_uid = i.series_uid WHERE ${w.sql} ${ORDER}`)
      .all(...w.params) as (InstanceRow & { id: number })[];
    if (rejection) {
      const listed = new Set(rejection.instances);
      rows = rows.filter((r) => listed.has(r.sop_instance_uid));
    }
    if (!rows.length) return undefined;
    const study = this.stmt('SELECT id, patient_id, patient_name, referring_physician_name FROM studies WHERE study_uid = ?').get(scope.study) as
      | { id: number; patient_id: string | null; patient_name: string | null; referring_physician_name: string | null }
      | undefined;
    if (rejection) {
      const keep = this.stmt(
        `INSERT OR REPLACE INTO rejected_instances (sop_instance_uid, series_uid, study_uid, sop_class_uid, transfer_syntax_uid, blob_key, size,
           frames, bulk, content_sha256, reason_code, reason_scheme, rejected_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      const at = rejection.at ?? Date.now();
      for (const r of rows) {
        keep.run(r.sop_instance_uid, r.series_uid, r.study_uid, r.sop_class_uid, r.transfer_syntax_uid, r.blob_key, r.size, r.frames, r.bulk, r.content_sha256, rejection.code, rejection.scheme, at);
      }
    }
    // Each deletion moves the series' and study's metadata stamps on (the trigger of db/sqlite/004).
    const drop = this.stmt('DELETE FROM instances WHERE id = ?');
    for (const r of rows) drop.run(r.id);
    for (const series of new Set(rows.map((r) => r.series_uid))) {
      const left = this.stmt('SELECT count(*) FROM instances WHERE series_uid = ?').pluck().get(series) as number;
      if (left) this.stmt('UPDATE series SET num_instances = ? WHERE series_uid = ?').run(left, series);
      else this.stmt('DELETE FROM series WHERE series_uid = ?').run(series);
    }
    const seriesLeft = this.stmt('SELECT count(*) FROM series WHERE study_uid = ?').pluck().get(scope.study) as number;
    if (seriesLeft) {
      this.stmt(
        `UPDATE studies SET num_series = ?, num_instances = (SELECT count(*) FROM instances WHERE study_uid = ?),
           modalities = coalesce((SELECT group_concat(DISTINCT modality) FROM series WHERE study_uid = ? AND modality IS NOT NULL), '')
         WHERE study_uid = ?`,
      ).run(seriesLeft, scope.study, scope.study, scope.study);
    } else if (study) {
      // The study goes with its words (by their keys: the table is keyed by attribute and word), projects and fingerprints.
      const word = this.stmt('DELETE FROM person_name_words WHERE attr = ? AND word = ? AND study_id = ?');
      for (const w of personNameWords(study.patient_name)) word.run(PN_WORD_ATTR.PatientName, w, study.id);
      for (const w of personNameWords(study.referring_physician_name)) word.run(PN_WORD_ATTR.ReferringPhysicianName, w, study.id);
      this.stmt('DELETE FROM study_projects WHERE study_uid = ?').run(scope.study);
      this.stmt('DELETE FROM study_identifier_fingerprints WHERE study_uid = ?').run(scope.study);
      this.stmt('DELETE FROM studies WHERE study_uid = ?').run(scope.study);
    }
    return { instances: rows.map(toStored), patientID: study?.patient_id ?? '', studyRemoved: !seriesLeft };
  }

  async remove(scope: Scope, projects?: readonly string[]): Promise<RemovedInstances | undefined> {
    const removed = this.removeTx(scope, projects, undefined);
    return removed && this.committed(removed);
  }

  async reject(rejection: Rejection, projects?: readonly string[]): Promise<RemovedInstances | undefined> {
    const removed = this.removeTx({ study: rejection.study, series: rejection.series }, projects, rejection);
    return removed && this.committed(removed);
  }

  /** On disk before the caller deletes a blob: a crash must never leave a row whose file is gone. */
  private async committed<T>(value: T): Promise<T> {
    this.checkpointer.wrote();
    await this.wal.durable();
    return value;
  }

  async purgeRejected(before: number, limit = 500): Promise<string[]> {
    const keys = this.db.transaction(() => {
      const rows = this.stmt('SELECT sop_instance_uid, blob_key FROM rejected_instances WHERE rejected_at <= ? ORDER BY rejected_at LIMIT ?').raw().all(before, limit) as [string, string][];
      const drop = this.stmt('DELETE FROM rejected_instances WHERE sop_instance_uid = ?');
      for (const [uid] of rows) drop.run(uid);
      return rows.map((r) => r[1]);
    })();
    return keys.length ? this.committed(keys) : keys;
  }

  /** The database, for the job and key stores that share its file (core/backends.ts). */
  get database(): Database.Database {
    return this.db;
  }

  private insertRecord(r: InstanceRecord): 'inserted' | 'duplicate' {
    // A rejected instance awaiting deletion keeps its UID: a re-send is a duplicate, never stored over it.
    if (this.stmt('SELECT 1 FROM instances WHERE sop_instance_uid = ? UNION ALL SELECT 1 FROM rejected_instances WHERE sop_instance_uid = ?').get(r.sopInstanceUID, r.sopInstanceUID)) return 'duplicate';
    // A study belongs to the projects its first instance got; later ones may join only if it is
    // open to their source (checked again here, inside the transaction).
    const held = (this.stmt('SELECT project FROM study_projects WHERE study_uid = ?').raw().all(r.studyUID) as [string][]).map((x) => x[0]);
    if (held.length) {
      if (!studyOpenTo(held, r.joiner)) throw new VeilgateError('forbidden', 'the source may not add instances to this study');
    } else {
      const add = this.stmt('INSERT OR IGNORE INTO study_projects (study_uid, project) VALUES (?, ?)');
      for (const project of r.projects) add.run(r.studyUID, project);
    }
    const s = r.study;
    // The *_key columns hold upper() of the person names: what case-insensitive matching ranges over.
    const study = this.stmt(
      `INSERT OR IGNORE INTO studies (study_uid, patient_name, patient_id, patient_birth_date, patient_sex, study_date, study_time,
         accession_number, study_id, referring_physician_name, study_description, attrs, patient_name_key, referring_physician_name_key)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, upper(?), upper(?))`,
    ).run(r.studyUID, s.patientName, s.patientID, s.patientBirthDate, s.patientSex, s.studyDate, s.studyTime,
      s.accessionNumber, s.studyID, s.referringPhysicianName, s.studyDescription, s.attributesJson, s.patientName, s.referringPhysicianName);
    if (study.changes) insertPersonNameWords(this.stmt.bind(this), Number(study.lastInsertRowid), r.studyUID, s);

    const existingSeries = this.stmt('SELECT study_uid FROM series WHERE series_uid = ?').get(r.seriesUID) as { study_uid: string } | undefined;
    if (existingSeries && existingSeries.study_uid !== r.studyUID) {
      throw new VeilgateError('refused', 'the series of this instance is already stored under another study');
    }
    if (!existingSeries) {
      const se = r.series;
      this.stmt(
        `INSERT INTO series (series_uid, study_uid, modality, series_number, series_description, performed_start_date,
           performed_start_time, scheduled_step_id, requested_procedure_id, attrs)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(r.seriesUID, r.studyUID, se.modality, se.seriesNumber, se.seriesDescription, se.performedStartDate,
        se.performedStartTime, se.scheduledStepID, se.requestedProcedureID, se.attributesJson);
      this.stmt(
        `UPDATE studies SET num_series = num_series + 1,
           modalities = coalesce((SELECT group_concat(DISTINCT modality) FROM series WHERE study_uid = ? AND modality IS NOT NULL), '')
         WHERE study_uid = ?`,
      ).run(r.studyUID, r.studyUID);
    }
    this.stmt(
      `INSERT INTO instances (sop_instance_uid, series_uid, study_uid, sop_class_uid, instance_number, transfer_syntax_uid,
         blob_key, size, frames, bulk, metadata, attrs, stored_at, content_sha256)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(r.sopInstanceUID, r.seriesUID, r.studyUID, r.sopClassUID, r.instanceNumber, r.transferSyntaxUID, r.blobKey,
      r.size, r.frames ? JSON.stringify(r.frames) : null, JSON.stringify(r.bulk), r.metadataJson,
      r.instanceAttributesJson, new Date().toISOString(), r.contentSha256 ?? null);
    const fingerprint = this.stmt('INSERT OR IGNORE INTO study_identifier_fingerprints (study_uid, fingerprint) VALUES (?, ?)');
    for (const f of r.identifierFingerprints ?? []) fingerprint.run(r.studyUID, f);
    this.stmt('UPDATE series SET num_instances = num_instances + 1 WHERE series_uid = ?').run(r.seriesUID);
    this.stmt('UPDATE studies SET num_instances = num_instances + 1 WHERE study_uid = ?').run(r.studyUID);
    return 'inserted';
  }

  private readonly wal: WalSync;
  private readonly checkpointer: WalCheckpointer;

  async insert(record: InstanceRecord): Promise<'inserted' | 'duplicate'> {
    const outcome = this.insertTx(record);
    this.checkpointer.wrote();
    // Acknowledged only once on disk; concurrent inserts share one flush (group commit).
    if (outcome === 'inserted') await this.wal.durable();
    return outcome;
  }

  /**
   * Many records in one transaction (one commit): each goes in exactly as insert() would put it,
   * in its own savepoint, so one that is refused (returned as its error) leaves the others in.
   */
  async insertMany(records: readonly InstanceRecord[]): Promise<('inserted' | 'duplicate' | Error)[]> {
    const outcomes = this.db.transaction(() =>
      records.map((r) => {
        try {
          return this.insertTx(r); // nested in the outer transaction: a savepoint
        } catch (e) {
          return e instanceof Error ? e : new Error(String(e));
        }
      }),
    )();
    // Acknowledged once on disk, as insert() is.
    if (outcomes.includes('inserted')) await this.wal.durable();
    return outcomes;
  }

  async findInstance(sopInstanceUID: string): Promise<StoredInstance | undefined> {
    const row = (this.stmt(`SELECT ${INSTANCE_COLUMNS} FROM instances i WHERE i.sop_instance_uid = ?`).get(sopInstanceUID) ??
      this.stmt(`SELECT ${INSTANCE_COLUMNS} FROM rejected_instances i WHERE i.sop_instance_uid = ?`).get(sopInstanceUID)) as InstanceRow | undefined;
    return row && toStored(row);
  }

  async instances(scope: Scope, projects?: readonly string[]): Promise<StoredInstance[]> {
    const w = scopeWhere(scope, projects);
    const rows = this.db
      .prepare(`SELECT ${INSTANCE_COLUMNS} FROM instances i JOIN series se ON se.series_uid = i.series_uid WHERE ${w.sql} ${ORDER}`)
      .all(...w.params) as InstanceRow[];
    return rows.map(toStored);
  }

  async metadata(scope: Scope, projects?: readonly string[]): Promise<string[]> {
    return this.readMetadata(scope, projects);
  }

  private readMetadata(scope: Scope, projects?: readonly string[]): string[] {
    const w = scopeWhere(scope, projects);
    const rows = this.stmt(`SELECT i.metadata FROM instances i JOIN series se ON se.series_uid = i.series_uid WHERE ${w.sql} ${ORDER}`)
      .raw()
      .all(...w.params) as [string][];
    return rows.map((r) => r[0]);
  }

  async metadataStamp(scope: Scope, projects?: readonly string[]): Promise<string | undefined> {
    return this.readMetadataStamp(scope, projects);
  }

  async metadataWithStamp(scope: Scope, projects?: readonly string[]): Promise<{ stamp: string | undefined; docs: string[] }> {
    // One read transaction: the documents are those of the stamp, whatever another writer does meanwhile.
    return this.db.transaction(() => ({ stamp: this.readMetadataStamp(scope, projects), docs: this.readMetadata(scope, projects) }))();
  }

  /** metadata_version (db/sqlite/004: a new value on every change to the scope's instances). */
  private readMetadataStamp(scope: Scope, projects?: readonly string[]): string | undefined {
    if (scope.instance) return undefined;
    const p = projectClause(scope.series ? 'se.study_uid' : 's.study_uid', projects);
    const sql = scope.series
      ? `SELECT se.metadata_version FROM series se WHERE se.series_uid = ? AND se.study_uid = ?`
      : `SELECT s.metadata_version FROM studies s WHERE s.study_uid = ?`;
    const params = scope.series ? [scope.series, scope.study] : [scope.study];
    const v = this.stmt(p ? `${sql} AND ${p.sql}` : sql).pluck().get(...params, ...(p?.params ?? [])) as number | undefined;
    return v === undefined ? undefined : String(v);
  }

  async exists(level: Level, scope: Scope, projects?: readonly string[]): Promise<boolean> {
    let sql =
      level === 'study'
        ? 'SELECT 1 FROM studies t WHERE study_uid = ?'
        : level === 'series'
          ? 'SELECT 1 FROM series t WHERE study_uid = ? AND series_uid = ?'
          : 'SELECT 1 FROM instances t WHERE study_uid = ? AND series_uid = ? AND sop_instance_uid = ?';
    const params = [scope.study, scope.series, scope.instance].slice(0, LEVEL_ORDER[level] + 1) as string[];
    const p = projectClause('t.study_uid', projects);
    if (p) {
      sql += ` AND ${p.sql}`;
      params.push(...p.params);
    }
    return this.db.prepare(sql).get(...params) !== undefined;
  }

  async studyPatients(studies: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    const unique = [...new Set(studies)];
    for (let i = 0; i < unique.length; i += 500) {
      const chunk = unique.slice(i, i + 500);
      const rows = this.db.prepare(`SELECT study_uid, patient_id FROM studies WHERE study_uid IN (${chunk.map(() => '?').join(', ')})`).raw().all(...chunk) as [string, string | null][];
      for (const [study, patient] of rows) out.set(study, patient ?? '');
    }
    return out;
  }

  async studyProjects(study: string): Promise<string[]> {
    return (this.stmt('SELECT project FROM study_projects WHERE study_uid = ? ORDER BY project').raw().all(study) as [string][]).map((r) => r[0]);
  }

  async search(q: Query): Promise<QueryResult> {
    // Two steps in one statement, each served by an index (sqlite-search.ts): the page of ids, then its rows.
    const planned = planSearch((sql) => this.searchStmt(sql), q);
    if (!planned) return { more: false, rows: [] };
    const rows = this.searchStmt(planned.sql).all(...planned.params) as Record<string, string | number | undefined>[];
    // One row more than asked tells whether there are more results.
    const more = rows.length > q.limit;
    return {
      more,
      rows: rows.slice(0, q.limit).map((r) => ({
        json: buildResult({ level: q.level, ...(r as object) }, q.includeFields),
        studyUID: r.studyUID as string,
        seriesUID: r.seriesUID as string | undefined,
        sopInstanceUID: r.sopInstanceUID as string | undefined,
      })),
    };
  }

  /** The statements searches prepare, the most recent kept (their text varies with the query's shape). */
  private readonly searchStatements = new Map<string, Database.Statement>();

  private searchStmt(sql: string): Database.Statement {
    let st = this.searchStatements.get(sql);
    if (st) {
      this.searchStatements.delete(sql);
    } else {
      st = this.db.prepare(sql);
      if (this.searchStatements.size >= 200) this.searchStatements.delete(this.searchStatements.keys().next().value!);
    }
    this.searchStatements.set(sql, st);
    return st;
  }

  /** The plan of a search's statement (EXPLAIN QUERY PLAN), for tests and diagnosis. */
  explainSearch(q: Query): { plan: string; sql: string; steps: string[] } | undefined {
    const planned = planSearch((sql) => this.searchStmt(sql), q);
    if (!planned) return undefined;
    const steps = (this.db.prepare(`EXPLAIN QUERY PLAN ${planned.sql}`).all(...planned.params) as { detail: string }[]).map((r) => r.detail);
    return { plan: planned.plan, sql: planned.sql, steps };
  }

  async counts(): Promise<{ studies: number; series: number; instances: number }> {
    const one = (t: string) => (this.db.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n;
    return { studies: one('studies'), series: one('series'), instances: one('instances') };
  }

  async identifierFingerprints(study: string): Promise<Set<string>> {
    const rows = this.stmt('SELECT fingerprint FROM study_identifier_fingerprints WHERE study_uid = ?').raw().all(study) as [string][];
    return new Set(rows.map((r) => r[0]));
  }

  async checkWritable(): Promise<void> {
    this.stmt('INSERT INTO health_check (id, checked_at) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at').run(new Date().toISOString());
  }

  async hasBlob(key: string): Promise<boolean> {
    return (
      this.stmt('SELECT 1 FROM instances WHERE blob_key = ? LIMIT 1').get(key) !== undefined ||
      this.stmt('SELECT 1 FROM rejected_instances WHERE blob_key = ? LIMIT 1').get(key) !== undefined
    );
  }

  async siteSecretFingerprint(fingerprint: string): Promise<string> {
    this.stmt(`INSERT OR IGNORE INTO index_facts (name, value) VALUES ('site-secret-fingerprint', ?)`).run(fingerprint);
    return this.stmt(`SELECT value FROM index_facts WHERE name = 'site-secret-fingerprint'`).pluck().get() as string;
  }

  async close(): Promise<void> {
    await this.checkpointer.close();
    this.db.close();
    this.wal.close();
  }
}
