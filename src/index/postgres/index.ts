/**
 * The Index on PostgreSQL, shared by every gateway node of a cluster (INDEX_URL postgres://).
 * Semantics are SqliteIndex's (the reference), proved by test/contract/index.contract.test.ts;
 * the schema is db/postgres/, the search compiler search.ts, the insert insert-record.ts.
 */
import type { Index, InstanceRecord, QueryResult, Rejection, RemovedInstances, Scope, StoredInstance } from '../index';
import { purgeRejectedRows, removeRows } from './remove';
import type { Query } from '../../query/query';
import { Level, LEVEL_ORDER } from '../../query/attributes';
import { buildResult, ResultSource } from '../../query/results';
import type { PgDatabase } from './database';
import { InsertGroups } from './insert-groups';
import { insertRecord, InsertOutcome, lockStudies } from './insert-record';
import { isOurFault } from '../../errors';
import { compileSearch, SqlParams } from './search';
import { INSTANCE_COLUMNS, InstanceRow, toStored } from '../instance-row';

/** Only studies of these projects (undefined: every study); `column` is the row's study UID. */
function projectFilter(column: string, projects: readonly string[] | undefined, p: SqlParams): string | undefined {
  if (projects === undefined) return undefined;
  if (projects.length === 0) return 'false';
  return `EXISTS (SELECT 1 FROM study_projects sp WHERE sp.study_uid = ${column} AND sp.project = ANY(${p.add(projects)}))`;
}

/** The instances of a scope (alias i), visible to `projects`. */
function scopeWhere(scope: Scope, projects: readonly string[] | undefined, p: SqlParams): string {
  const clauses = [`i.study_uid = ${p.add(scope.study)}`];
  const visible = projectFilter('i.study_uid', projects, p);
  if (visible) clauses.push(visible);
  if (scope.series) clauses.push(`i.series_uid = ${p.add(scope.series)}`);
  if (scope.instance) clauses.push(`i.sop_instance_uid = ${p.add(scope.instance)}`);
  return clauses.join(' AND ');
}

/** Series by number (unnumbered last), then by arrival; instances likewise within a series. */
const SCOPE_ORDER = 'ORDER BY se.series_number ASC NULLS LAST, se.id, i.instance_number ASC NULLS LAST, i.id';

/** The metadata version of a study or series scope (a bigint, read as text: it is only compared). */
function stampQuery(scope: Scope, projects: readonly string[] | undefined, p: SqlParams): string | undefined {
  if (scope.instance) return undefined;
  if (scope.series) {
    const where = [`se.series_uid = ${p.add(scope.series)}`, `se.study_uid = ${p.add(scope.study)}`, projectFilter('se.study_uid', projects, p)];
    return `SELECT se.metadata_version::text FROM series se WHERE ${where.filter(Boolean).join(' AND ')}`;
  }
  const where = [`s.study_uid = ${p.add(scope.study)}`, projectFilter('s.study_uid', projects, p)];
  return `SELECT s.metadata_version::text FROM studies s WHERE ${where.filter(Boolean).join(' AND ')}`;
}

export class PostgresIndex implements Index {
  /** Grouped commits of this node's inserts (insert-groups.ts). */
  private readonly groups: InsertGroups;

  constructor(private readonly db: PgDatabase) {
    // Half the pool at most, so searches, jobs and keys always find a connection during a burst.
    this.groups = new InsertGroups((records) => this.insertMany(records), Math.max(1, Math.floor((db.pool.options.max ?? 10) / 2)));
  }

  async insert(record: InstanceRecord): Promise<InsertOutcome> {
    return this.groups.insert(record);
  }

  /**
   * Many records in one transaction, each as insert() would put it: one that is refused comes
   * back as its error and the others stay (the insert function undoes a refused record's own
   * work). Its studies are locked first (lockStudies); a deadlock with another node all the same
   * is not a refusal: the whole transaction runs again. A failure that aborts the transaction and
   * is not the database's own (unavailable, full) belongs to one record: each then goes alone.
   */
  async insertMany(records: readonly InstanceRecord[]): Promise<(InsertOutcome | Error)[]> {
    try {
      return await this.db.transaction(async (tx) => {
        await lockStudies(tx, records.map((r) => r.studyUID));
        const outcomes: (InsertOutcome | Error)[] = [];
        for (const r of records) outcomes.push(await insertRecord(tx, r));
        return outcomes;
      });
    } catch (e) {
      if (records.length === 1 || isOurFault(e)) throw e;
      const outcomes: (InsertOutcome | Error)[] = [];
      for (const r of records) outcomes.push(await this.insertMany([r]).then((o) => o[0], (err: unknown) => (err instanceof Error ? err : new Error(String(err)))));
      return outcomes;
    }
  }

  async findInstance(sopInstanceUID: string): Promise<StoredInstance | undefined> {
    // An indexed instance, or else one rejected and awaiting deletion (its UID stays taken).
    const r = await this.db.query<InstanceRow>(
      `SELECT * FROM (SELECT ${INSTANCE_COLUMNS}, 0 AS o FROM instances i WHERE i.sop_instance_uid = $1
       UNION ALL SELECT ${INSTANCE_COLUMNS}, 1 AS o FROM rejected_instances i WHERE i.sop_instance_uid = $1) x ORDER BY o LIMIT 1`,
      [sopInstanceUID],
    );
    return r.rows[0] && toStored(r.rows[0]);
  }

  async remove(scope: Scope, projects?: readonly string[]): Promise<RemovedInstances | undefined> {
    return this.db.transaction((tx) => removeRows(tx, scope, projects, undefined));
  }

  async reject(rejection: Rejection, projects?: readonly string[]): Promise<RemovedInstances | undefined> {
    return this.db.transaction((tx) => removeRows(tx, { study: rejection.study, series: rejection.series }, projects, rejection));
  }

  async purgeRejected(before: number, limit = 500): Promise<string[]> {
    return this.db.transaction((tx) => purgeRejectedRows(tx, before, limit));
  }

  async instances(scope: Scope, projects?: readonly string[]): Promise<StoredInstance[]> {
    const p = new SqlParams();
    const where = scopeWhere(scope, projects, p);
    const r = await this.db.query<InstanceRow>(
      `SELECT ${INSTANCE_COLUMNS} FROM instances i JOIN series se ON se.series_uid = i.series_uid WHERE ${where} ${SCOPE_ORDER}`,
      p.values,
    );
    return r.rows.map(toStored);
  }

  async metadata(scope: Scope, projects?: readonly string[]): Promise<string[]> {
    const p = new SqlParams();
    const where = scopeWhere(scope, projects, p);
    const r = await this.db.query<{ metadata: string }>(`SELECT i.metadata FROM instances i JOIN series se ON se.series_uid = i.series_uid WHERE ${where} ${SCOPE_ORDER}`, p.values);
    return r.rows.map((x) => x.metadata);
  }

  async metadataStamp(scope: Scope, projects?: readonly string[]): Promise<string | undefined> {
    const p = new SqlParams();
    const sql = stampQuery(scope, projects, p);
    if (!sql) return undefined;
    const r = await this.db.query<{ metadata_version: string }>(sql, p.values);
    return r.rows[0]?.metadata_version;
  }

  /** One statement, so one snapshot: the documents are those of the stamp, whatever writers do meanwhile. */
  async metadataWithStamp(scope: Scope, projects?: readonly string[]): Promise<{ stamp: string | undefined; docs: string[] }> {
    const p = new SqlParams();
    const stamp = stampQuery(scope, projects, p);
    const where = scopeWhere(scope, projects, p);
    const docs = `SELECT coalesce(array_agg(d.metadata ORDER BY d.n), '{}') FROM (
        SELECT i.metadata, row_number() OVER (${SCOPE_ORDER}) AS n FROM instances i JOIN series se ON se.series_uid = i.series_uid WHERE ${where}) d`;
    const r = await this.db.query<{ stamp: string | null; docs: string[] }>(`SELECT ${stamp ? `(${stamp})` : 'NULL::text'} AS stamp, (${docs}) AS docs`, p.values);
    return { stamp: r.rows[0].stamp ?? undefined, docs: r.rows[0].docs };
  }

  async search(q: Query): Promise<QueryResult> {
    const compiled = compileSearch(q);
    if (!compiled) return { more: false, rows: [] };
    const r = await this.db.query<ResultSource & { studyUID: string; seriesUID?: string; sopInstanceUID?: string }>(compiled.text, compiled.values);
    return {
      more: r.rows.length > q.limit,
      rows: r.rows.slice(0, q.limit).map((row) => ({
        json: buildResult({ ...row, level: q.level }, q.includeFields),
        studyUID: row.studyUID,
        seriesUID: row.seriesUID,
        sopInstanceUID: row.sopInstanceUID,
      })),
    };
  }

  /** The plan PostgreSQL chooses for a search (EXPLAIN), for tests and diagnosis. */
  async explainSearch(q: Query): Promise<string[]> {
    const compiled = compileSearch(q);
    if (!compiled) return [];
    const r = await this.db.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${compiled.text}`, compiled.values);
    return r.rows.map((x) => x['QUERY PLAN']);
  }

  async exists(level: Level, scope: Scope, projects?: readonly string[]): Promise<boolean> {
    const p = new SqlParams();
    const table = { study: 'studies', series: 'series', instance: 'instances' }[level];
    const keys: [string, string | undefined][] = [
      ['study_uid', scope.study],
      ['series_uid', scope.series],
      ['sop_instance_uid', scope.instance],
    ];
    const where: (string | undefined)[] = keys.slice(0, LEVEL_ORDER[level] + 1).map(([column, value]) => `t.${column} = ${p.add(value ?? null)}`);
    where.push(projectFilter('t.study_uid', projects, p));
    const r = await this.db.query(`SELECT 1 FROM ${table} t WHERE ${where.filter(Boolean).join(' AND ')} LIMIT 1`, p.values);
    return r.rowCount > 0;
  }

  async studyProjects(study: string): Promise<string[]> {
    const r = await this.db.query<{ project: string }>('SELECT project FROM study_projects WHERE study_uid = $1 ORDER BY project', [study]);
    return r.rows.map((x) => x.project);
  }

  async studyPatients(studies: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    if (!studies.length) return out;
    const r = await this.db.query<{ study_uid: string; patient_id: string | null }>('SELECT study_uid, patient_id FROM studies WHERE study_uid = ANY($1)', [
      [...new Set(studies)],
    ]);
    for (const row of r.rows) out.set(row.study_uid, row.patient_id ?? '');
    return out;
  }

  async counts(): Promise<{ studies: number; series: number; instances: number }> {
    const r = await this.db.query<{ studies: number; series: number; instances: number }>(
      `SELECT (SELECT count(*) FROM studies)::int AS studies, (SELECT count(*) FROM series)::int AS series, (SELECT count(*) FROM instances)::int AS instances`,
    );
    return r.rows[0];
  }

  async identifierFingerprints(study: string): Promise<Set<string>> {
    const r = await this.db.query<{ fingerprint: string }>('SELECT fingerprint FROM study_identifier_fingerprints WHERE study_uid = $1', [study]);
    return new Set(r.rows.map((x) => x.fingerprint));
  }

  async checkWritable(): Promise<void> {
    await this.db.query('INSERT INTO health_check (id, checked_at) VALUES (1, now()) ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at');
  }

  async hasBlob(key: string): Promise<boolean> {
    const r = await this.db.query('SELECT 1 FROM instances WHERE blob_key = $1 UNION ALL SELECT 1 FROM rejected_instances WHERE blob_key = $1 LIMIT 1', [key]);
    return r.rowCount > 0;
  }

  async siteSecretFingerprint(fingerprint: string): Promise<string> {
    // Two statements: the read must see a fingerprint another node committed while the insert waited.
    await this.db.query('INSERT INTO site_secret (id, fingerprint) VALUES (1, $1) ON CONFLICT (id) DO NOTHING', [fingerprint]);
    const r = await this.db.query<{ fingerprint: string }>('SELECT fingerprint FROM site_secret WHERE id = 1');
    return r.rows[0].fingerprint;
  }

  /** Closes the pool the node's job and key stores share too (openPostgres). */
  close(): Promise<void> {
    return this.db.close();
  }
}

