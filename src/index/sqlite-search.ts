/**
 * Searches on the SQLite index that stay fast at a million instances (schema: db/sqlite/004).
 *
 * Matching is that of sqlite-constraints.ts (the typed constraints of src/query/constraints.ts as
 * SQL), which stays the reference: a constraint that does not drive a search is checked with exactly its SQL. A condition
 * that drives is written so that an index serves it, with the same matches:
 * - person names compare upper() key columns (SQLite's LIKE folds ASCII case, and so does upper());
 *   a wildcard value with a literal start is the range key >= 'DOE' AND key < 'DOF', the LIKE kept
 *   on the key to decide the rest inside the index;
 * - case-sensitive strings with wildcards range over the column the same way, GLOB deciding the rest;
 * - fuzzy person names read person_name_words (one row per word start), the same range there;
 * - ModalitiesInStudy reads its study's series by an index on upper(modality).
 *
 * A search is one statement: an inner query finds the page of row ids (ORDER BY id LIMIT OFFSET)
 * from indexes, the outer one reads those rows. Which index finds the ids is chosen here, not left
 * to SQLite's guesses (the index keeps no statistics):
 * - a UID or a path scope (few rows, always) is left to SQLite, which takes its index;
 * - otherwise each condition an index can serve is probed: its index's rows are counted (up to
 *   what the best so far reached) and scaled to the search level by the mean number of series or
 *   instances per study or series. The fewest, if under PROBE_CAP, drives: its table comes first
 *   (INDEXED BY, CROSS JOIN keeps the order), its matches are sorted by id, and every other
 *   condition is checked on those rows only (unary + keeps SQLite from using another index);
 * - when every estimate reaches PROBE_CAP (StudyDate=1900-, PatientSex=F), matches are dense: the
 *   level's narrow id index is walked in id order and each row checked until the page is full,
 *   which a dense match fills early, where sorting them all would cost the whole range.
 * - a value that begins with a wildcard ("*son") has no range: when nothing else drives, it scans
 *   its own narrow index whole, decided there (a covering scan), and its matches are sorted.
 * Limits, by design: a leading-wildcard value of a level above the search's (PatientName=*son in
 * an instance search) is only checked, on the rows the id walk reaches (the whole level when few
 * match); an id walk for a dense condition whose matches all lie late in id order reads the rows
 * before them; and OFFSET walks that many entries of a narrow id index (about 40 ms per 500,000
 * instances).
 */
import type Database from 'better-sqlite3';
import type { StudyFields } from './index';
import type { Query } from '../query/query';
import type { Level } from '../query/attributes';
import type { Constraint } from '../query/constraints';
import { literalStart } from '../query/constraints';
import { compileConstraint, globPattern } from './sqlite-constraints';
import { asciiUpper, likePattern, personNameWords, prefixEnd } from '../query/patterns';

/** person_name_words.attr of each person-name match key. */
export const PN_WORD_ATTR = { PatientName: 0, ReferringPhysicianName: 1 } as const;

/** Matches (rows of the search level) a driving condition may have before the id walk is cheaper than sorting them. */
export const PROBE_CAP = 10_000;

type Prepare = (sql: string) => { run(...params: unknown[]): unknown };

export function insertPersonNameWords(stmt: Prepare, studyId: number, studyUID: string, s: StudyFields): void {
  const insert = stmt('INSERT OR IGNORE INTO person_name_words (attr, word, study_id, study_uid) VALUES (?, ?, ?, ?)');
  for (const w of personNameWords(s.patientName)) insert.run(PN_WORD_ATTR.PatientName, w, studyId, studyUID);
  for (const w of personNameWords(s.referringPhysicianName)) insert.run(PN_WORD_ATTR.ReferringPhysicianName, w, studyId, studyUID);
}

// ---------------------------------------------------------------------------------------------
// Conditions as index-served terms

type Param = string | number;
type Alias = 's' | 'se' | 'i';

/** A condition (or the project filter or the path scope) in the forms a search may need. */
export interface Term {
  /** The table its check (checkSql) reads. */
  table: Alias;
  /** Its predicate as an index serves it, when it drives. */
  sql: string;
  /** The table its driving form reads, when not `table`. */
  driveTable?: Alias;
  params: Param[];
  /** The same predicate with no index used for it: checked on rows found otherwise. */
  checkSql: string;
  /** The parameters of checkSql, when not those of sql. */
  checkParams?: Param[];
  /** The index that serves it (INDEXED BY when it drives); absent: its subquery's. */
  index?: string;
  /** Few rows always (a UID, a path scope): SQLite takes its index, no probe needed. */
  selective?: boolean;
  /** Cannot drive by a range (no literal start to range over): checked, or at most scanned. */
  unindexed?: boolean;
  /** For an unindexed condition of the search level: its predicate over its whole index (a covering scan). */
  scan?: { sql: string; params: Param[] };
  /** Its check when the studies table is in the search anyway (evaluated once per study, not per row below it). */
  checkSqlOnStudies?: string;
  /** Counts the rows its index reaches (up to a LIMIT ? appended last), rows of `per`. */
  probe?: { sql: string; params: Param[]; per: Alias };
}

/** The column holding each match key's normalised value. */
export const SQLITE_COLUMN: Record<string, string> = {
  StudyInstanceUID: 's.study_uid',
  StudyDate: 's.study_date',
  StudyTime: 's.study_time',
  AccessionNumber: 's.accession_number',
  ModalitiesInStudy: 's.modalities',
  ReferringPhysicianName: 's.referring_physician_name',
  StudyDescription: 's.study_description',
  PatientName: 's.patient_name',
  PatientID: 's.patient_id',
  PatientBirthDate: 's.patient_birth_date',
  PatientSex: 's.patient_sex',
  StudyID: 's.study_id',
  SeriesInstanceUID: 'se.series_uid',
  Modality: 'se.modality',
  SeriesNumber: 'se.series_number',
  SeriesDescription: 'se.series_description',
  PerformedProcedureStepStartDate: 'se.performed_start_date',
  PerformedProcedureStepStartTime: 'se.performed_start_time',
  'RequestAttributesSequence.ScheduledProcedureStepID': 'se.scheduled_step_id',
  'RequestAttributesSequence.RequestedProcedureID': 'se.requested_procedure_id',
  SOPInstanceUID: 'i.sop_instance_uid',
  SOPClassUID: 'i.sop_class_uid',
  InstanceNumber: 'i.instance_number',
};

function columnOf(c: Constraint): string {
  const col = SQLITE_COLUMN[c.key.keyword];
  if (!col) throw new Error(`no index column for ${c.key.keyword}`);
  return col;
}

/** Indexes of the plain match columns (db/sqlite/004): (column, id, uid). */
const COLUMN_INDEX: Record<string, string> = {
  's.study_date': 'studies_study_date',
  's.study_time': 'studies_study_time',
  's.accession_number': 'studies_accession',
  's.patient_id': 'studies_patient_id',
  's.patient_birth_date': 'studies_patient_birth_date',
  's.patient_sex': 'studies_patient_sex',
  's.study_id': 'studies_study_id',
  's.study_description': 'studies_study_description',
  's.patient_name_key': 'studies_patient_name_key',
  's.referring_physician_name_key': 'studies_referring_physician_name_key',
  'se.modality': 'series_modality',
  'se.series_number': 'series_series_number',
  'se.series_description': 'series_series_description',
  'se.performed_start_date': 'series_performed_start',
  'se.performed_start_time': 'series_performed_start_time',
  'se.scheduled_step_id': 'series_scheduled_step_id',
  'se.requested_procedure_id': 'series_requested_procedure_id',
  'i.sop_class_uid': 'instances_sop_class',
  'i.instance_number': 'instances_instance_number',
};

/** Person-name columns: their upper() key column and their person_name_words attr. */
const PN_KEYS: Record<string, { key: string; attr: number }> = {
  's.patient_name': { key: 's.patient_name_key', attr: PN_WORD_ATTR.PatientName },
  's.referring_physician_name': { key: 's.referring_physician_name_key', attr: PN_WORD_ATTR.ReferringPhysicianName },
};

const LEVEL_ALIAS: Record<Level, Alias> = { study: 's', series: 'se', instance: 'i' };
const TABLE: Record<Alias, string> = { s: 'studies', se: 'series', i: 'instances' };

const aliasOf = (column: string) => column.slice(0, column.indexOf('.')) as Alias;

/** `c >= ? AND c < ?` for strings starting with `prefix`. */
function prefixRange(c: string, prefix: string): { sql: string; params: Param[] } {
  const end = prefixEnd(prefix);
  return end === undefined ? { sql: `${c} >= ?`, params: [prefix] } : { sql: `${c} >= ? AND ${c} < ?`, params: [prefix, end] };
}

/** A driving form over one indexed column. */
function columnTerm(column: string, sql: string, params: Param[], extra: Partial<Term> = {}): Omit<Term, 'checkSql'> {
  return { table: aliasOf(column), sql, params, index: COLUMN_INDEX[column], ...extra };
}

/** Rows of the level below a study that a set of study UIDs reaches: the level's table joined by its study_uid index. */
function studyUidTerm(level: Level, uids: string, where: string, params: Param[], probeFrom: string, unindexed: boolean): Omit<Term, 'checkSql' | 'table'> {
  const l = LEVEL_ALIAS[level];
  return { driveTable: l, sql: `${l}.study_uid IN ${uids}`, params, unindexed, probe: { sql: `SELECT count(*) FROM (SELECT 1 FROM ${probeFrom} WHERE ${where} LIMIT ?)`, params, per: 's' } };
}

function personNameTerm(c: Extract<Constraint, { kind: 'person-name' }>, level: Level): Omit<Term, 'checkSql'> {
  const pn = PN_KEYS[columnOf(c)];
  const pattern = likePattern(c.pattern);
  const start = asciiUpper(literalStart(c.pattern));
  if (c.wordStart) {
    // A word start (person_name_words) that the value matches from its beginning.
    const range = start ? prefixRange('w.word', start) : { sql: '1', params: [] };
    const where = `w.attr = ? AND ${range.sql} AND w.word LIKE ? ESCAPE '\\'`;
    const params = [pn.attr, ...range.params, `${pattern}%`];
    if (level !== 'study') {
      return { table: 's', ...studyUidTerm(level, `(SELECT w.study_uid FROM person_name_words w WHERE ${where})`, where, params, 'person_name_words w', !start) };
    }
    const sql = `s.id IN (SELECT w.study_id FROM person_name_words w WHERE ${where})`;
    return {
      table: 's',
      sql,
      params,
      unindexed: !start,
      scan: { sql, params },
      probe: { sql: `SELECT count(*) FROM (SELECT 1 FROM person_name_words w WHERE ${where} LIMIT ?)`, params, per: 's' },
    };
  }
  if (!/[*?]/.test(c.pattern)) return columnTerm(pn.key, `${pn.key} = ?`, [asciiUpper(c.pattern)]);
  if (!start) return columnTerm(pn.key, '', [], { unindexed: true, scan: { sql: `${pn.key} LIKE ? ESCAPE '\\'`, params: [pattern] } });
  const range = prefixRange(pn.key, start);
  return columnTerm(pn.key, `${range.sql} AND ${pn.key} LIKE ? ESCAPE '\\'`, [...range.params, pattern]);
}

function wildcardTerm(c: Extract<Constraint, { kind: 'wildcard' }>): Omit<Term, 'checkSql'> {
  const col = columnOf(c);
  const start = literalStart(c.pattern);
  if (!start) return columnTerm(col, '', [], { unindexed: true, scan: { sql: `${col} GLOB ?`, params: [globPattern(c.pattern)] } });
  const range = prefixRange(col, start);
  return columnTerm(col, `${range.sql} AND ${col} GLOB ?`, [...range.params, globPattern(c.pattern)]);
}

/**
 * Whether the study's series can decide a ModalitiesInStudy value exactly as the LIKE over the
 * study's comma-joined list does: a wildcard there may match across two modalities ("C*T" matches
 * "CR,MT", "C??" matches "C,X"), so only plain values and literal prefixes ("C*") are looked up by
 * series; any other value is only checked, on the list, as before.
 */
function seriesDecideModality(value: string): boolean {
  return /^[^*?]+\**$/.test(value);
}

/**
 * ModalitiesInStudy: a study matches when one of its series' modalities matches one of the listed
 * values (ignoring ASCII case, as the LIKE over the study's modality list does).
 */
function modalitiesTerm(c: Extract<Constraint, { kind: 'any-modality' }>, level: Level): Omit<Term, 'checkSql'> {
  const values = c.values;
  const arms: string[] = [];
  const params: Param[] = [];
  for (const m of values) {
    if (!/[*?]/.test(m)) {
      arms.push('upper(x.modality) = ?');
      params.push(asciiUpper(m));
    } else {
      const range = prefixRange('upper(x.modality)', asciiUpper(literalStart(m)));
      arms.push(`(${range.sql} AND upper(x.modality) LIKE ? ESCAPE '\\')`);
      params.push(...range.params, likePattern(m));
    }
  }
  const where = arms.join(' OR ');
  const uids = `(SELECT x.study_uid FROM series x WHERE ${where})`;
  const unindexed = !values.every(seriesDecideModality);
  if (level !== 'study') return { table: 's', ...studyUidTerm(level, uids, where, params, 'series x', unindexed) };
  return { table: 's', sql: `s.study_uid IN ${uids}`, params, unindexed, probe: { sql: `SELECT count(*) FROM (SELECT 1 FROM series x WHERE ${where} LIMIT ?)`, params, per: 's' } };
}

/** A constraint as a term at a search level. */
export function constraintTerm(c: Constraint, level: Level): Term {
  // The reference SQL is the check of every constraint that does not drive: matching is its
  // matching whatever the plan.
  const col = columnOf(c);
  const reference = compileConstraint(c, col);
  const check = { checkSql: reference.sql.split(col).join(`+${col}`), checkParams: reference.params };
  switch (c.kind) {
    case 'person-name':
      return { ...personNameTerm(c, level), ...check };
    case 'wildcard':
      return { ...wildcardTerm(c), ...check };
    case 'any-modality':
      return { ...modalitiesTerm(c, level), ...check };
    case 'uids':
      // An IN list of UIDs: few rows, always.
      return { ...columnTerm(col, reference.sql, reference.params, { selective: true }), ...check };
    default:
      // Equalities, dates and times (ranges) are already served by an indexed column.
      return { ...columnTerm(col, reference.sql, reference.params), ...check };
  }
}

/**
 * Only studies of these projects. Driving: the projects' studies by project; checking: one
 * primary-key lookup per row, by the study's row id at the study level (every index of studies
 * holds it), by the study UID below.
 */
function projectTerm(level: Level, projects: readonly string[]): Term {
  const list = projects.map(() => '?').join(', ');
  const params = [...projects];
  if (level === 'study') {
    return {
      table: 's',
      sql: `s.id IN (SELECT study_id FROM study_project_ids WHERE project IN (${list}))`,
      checkSql: `EXISTS (SELECT 1 FROM study_project_ids p WHERE p.study_id = s.id AND p.project IN (${list}))`,
      params,
      probe: { sql: `SELECT count(*) FROM (SELECT 1 FROM study_project_ids WHERE project IN (${list}) LIMIT ?)`, params, per: 's' },
    };
  }
  const l = LEVEL_ALIAS[level];
  return {
    table: l,
    sql: `${l}.study_uid IN (SELECT study_uid FROM study_projects WHERE project IN (${list}))`,
    checkSql: `EXISTS (SELECT 1 FROM study_projects p WHERE p.study_uid = ${l}.study_uid AND p.project IN (${list}))`,
    checkSqlOnStudies: `EXISTS (SELECT 1 FROM study_project_ids p WHERE p.study_id = s.id AND p.project IN (${list}))`,
    params,
    probe: { sql: `SELECT count(*) FROM (SELECT 1 FROM study_projects INDEXED BY study_projects_by_project WHERE project IN (${list}) LIMIT ?)`, params, per: 's' },
  };
}

/** The terms of a query: path scope, conditions, project filter. Undefined: nothing can match. */
export function queryTerms(q: Query): Term[] | undefined {
  const l = LEVEL_ALIAS[q.level];
  const terms: Term[] = [];
  if (q.scope.study) {
    const col = `${l}.study_uid`;
    terms.push({ table: l, sql: `${col} = ?`, checkSql: `+${col} = ?`, params: [q.scope.study], selective: true });
  }
  if (q.scope.series) terms.push({ table: 'i', sql: 'i.series_uid = ?', checkSql: '+i.series_uid = ?', params: [q.scope.series], selective: true });
  for (const c of q.constraints) terms.push(constraintTerm(c, q.level));
  if (q.projects !== undefined) {
    if (q.projects.length === 0) return undefined;
    terms.push(projectTerm(q.level, q.projects));
  }
  return terms;
}

// ---------------------------------------------------------------------------------------------
// The statement

/** How a table joins the level's table `l` (UNIQUE keys one way, indexed ones the other). */
function joinOn(l: Alias, t: Alias): string {
  return t === 's' ? `s.study_uid = ${l}.study_uid` : `se.series_uid = ${l}.series_uid`;
}

export type Driver = number | 'sqlite' | 'id-order';

/**
 * The statement that finds the page of ids: with terms[driver] driving (its table first, by its
 * index, CROSS JOIN keeping that order), 'id-order' (the level's narrow id index walked in order),
 * or 'sqlite' (a selective term present: SQLite takes its index, everything else is checked).
 */
export function pageQuery(q: Query, terms: Term[], driver: Driver): { sql: string; params: Param[] } {
  const l = LEVEL_ALIAS[q.level];
  const drive = typeof driver === 'number' ? terms[driver] : undefined;
  const first = drive ? (drive.driveTable ?? drive.table) : l;
  const needed = new Set<Alias>([l]);
  terms.forEach((t, n) => needed.add(n === driver ? (t.driveTable ?? t.table) : t.table));
  const tables = [first, ...[...needed].filter((t) => t !== first)];
  const join = driver === 'sqlite' ? 'JOIN' : 'CROSS JOIN';
  const from = tables
    .map((t, n) => {
      const by = n === 0 && drive?.index ? drive.index : driver === 'id-order' && t === l ? `${TABLE[l]}_by_id` : undefined;
      const table = `${TABLE[t]} ${t}${by ? ` INDEXED BY ${by}` : ''}`;
      return n === 0 ? table : `${join} ${table} ON ${joinOn(l, t === l ? first : t)}`;
    })
    .join(' ');
  const where: string[] = [];
  const params: Param[] = [];
  terms.forEach((t, n) => {
    const serve = driver === 'sqlite' ? t.selective : n === driver;
    // An unindexed condition drives by scanning its whole index, its predicate decided there.
    const served = serve && t.unindexed && t.scan ? t.scan : { sql: t.sql, params: t.params };
    where.push(serve ? served.sql : needed.has('s') && t.checkSqlOnStudies ? t.checkSqlOnStudies : t.checkSql);
    params.push(...(serve ? served.params : (t.checkParams ?? t.params)));
  });
  const sql = `SELECT ${l}.id AS id FROM ${from}${where.length ? ' WHERE ' + where.join(' AND ') : ''} ORDER BY ${l}.id LIMIT ? OFFSET ?`;
  return { sql, params };
}

export type Statement = (sql: string) => Database.Statement;

/** The rows of `level` per row of `per`, on average (from the row ids: no statistics are kept, none deleted). */
function fanOut(stmt: Statement, per: Alias, level: Level): number {
  const l = LEVEL_ALIAS[level];
  if (per === l) return 1;
  const max = (t: Alias) => (stmt(`SELECT max(id) FROM ${TABLE[t]}`).pluck().get() as number | null) ?? 0;
  return Math.max(1, max(l) / Math.max(1, max(per)));
}

/** Decide how the page of ids is found: see the file comment. */
export function choosePlan(stmt: Statement, q: Query, terms: Term[], cap = PROBE_CAP): Driver {
  if (terms.some((t) => t.selective)) return 'sqlite';
  let best: number | undefined;
  let bestRows = cap;
  terms.forEach((t, n) => {
    if (t.unindexed) return;
    const probe = t.probe ?? { sql: `SELECT count(*) FROM (SELECT 1 FROM ${TABLE[t.table]} ${t.table} INDEXED BY ${t.index} WHERE ${t.sql} LIMIT ?)`, params: t.params, per: t.table };
    const scale = fanOut(stmt, probe.per, q.level);
    // Counting stops at the best so far: a term that reaches it cannot do better.
    const count = stmt(probe.sql).pluck().get(...probe.params, Math.ceil(bestRows / scale)) as number;
    if (count * scale < bestRows) {
      best = n;
      bestRows = count * scale;
    }
  });
  if (best !== undefined) return best;
  // A value that starts with a wildcard may match few rows or many: a scan of its own (narrow)
  // index costs the index at most, where the id walk may read every row of the level.
  const scan = terms.findIndex((t) => t.unindexed && t.scan && (t.driveTable ?? t.table) === LEVEL_ALIAS[q.level]);
  return scan >= 0 ? scan : 'id-order';
}

export interface PlannedSearch {
  sql: string;
  params: Param[];
  /** How the page of ids is found: 'sqlite' (a selective term), 'driver:<term>', 'id-order'. */
  plan: string;
}

/** The select list and joins of the outer query (what results are built from), by level. */
function outerQuery(q: Query): { select: string; from: string } {
  const wantsExtras = q.includeFields === 'all' || q.includeFields.length > 0;
  const unscoped = !q.scope.study;
  let select: string;
  let from: string;
  if (q.level === 'study') {
    select = 's.attrs AS studyAttrs, s.modalities, s.num_series AS studySeriesCount, s.num_instances AS studyInstanceCount, s.study_uid AS studyUID';
    if (wantsExtras) select += ', (SELECT metadata FROM instances WHERE study_uid = s.study_uid ORDER BY id LIMIT 1) AS metadata';
    from = 'studies s ON s.id = page.id';
  } else if (q.level === 'series') {
    select = 'se.attrs AS seriesAttrs, se.num_instances AS seriesInstanceCount, se.study_uid AS studyUID, se.series_uid AS seriesUID';
    if (unscoped) select += ', s.attrs AS studyAttrs, s.modalities, s.num_series AS studySeriesCount, s.num_instances AS studyInstanceCount';
    if (wantsExtras) select += ', (SELECT metadata FROM instances WHERE series_uid = se.series_uid ORDER BY id LIMIT 1) AS metadata';
    from = 'series se ON se.id = page.id' + (unscoped ? ' JOIN studies s ON s.study_uid = se.study_uid' : '');
  } else {
    select = 'i.attrs AS instanceAttrs, i.study_uid AS studyUID, i.series_uid AS seriesUID, i.sop_instance_uid AS sopInstanceUID';
    if (!q.scope.series) select += ', se.attrs AS seriesAttrs, se.num_instances AS seriesInstanceCount';
    if (unscoped) select += ', s.attrs AS studyAttrs, s.modalities, s.num_series AS studySeriesCount, s.num_instances AS studyInstanceCount';
    if (wantsExtras) select += ', i.metadata AS metadata';
    from = 'instances i ON i.id = page.id';
    if (!q.scope.series) from += ' JOIN series se ON se.series_uid = i.series_uid';
    if (unscoped) from += ' JOIN studies s ON s.study_uid = i.study_uid';
  }
  return { select, from };
}

/** The whole search statement: the page of ids, then the rows they name (undefined: nothing can match). */
export function planSearch(stmt: Statement, q: Query, cap = PROBE_CAP): PlannedSearch | undefined {
  const terms = queryTerms(q);
  if (!terms) return undefined;
  const driver = choosePlan(stmt, q, terms, cap);
  const page = pageQuery(q, terms, driver);
  const outer = outerQuery(q);
  return {
    sql: `SELECT ${outer.select} FROM (${page.sql}) AS page JOIN ${outer.from} ORDER BY page.id`,
    params: [...page.params, q.limit + 1, q.offset],
    plan: typeof driver === 'number' ? `driver:${driver}` : driver,
  };
}
