/**
 * A Query (typed constraints, src/query/constraints.ts) compiled to one parameterised PostgreSQL
 * statement. Matching is SQLite's (the reference, sqlite-search.ts):
 * - uids: the column is one of the list; equal: the value exactly (case-sensitive);
 * - range: between normalised date or time strings, inclusive, in code point order (COLLATE "C");
 * - wildcard: LIKE with % _ \ escaped, case-sensitive, `?` one character;
 * - person-name: LIKE on the ASCII-uppercased key column; from any word start (wordStart) by
 *   person_name_words; a plain value is an equality on the key;
 * - any-modality: a plain value or a literal prefix ("CT", "C*") by the study's series' modality_key
 *   (ASCII case ignored); any other wildcard value as SQLite decides it, on the study's
 *   comma-joined modality list, where it may match across two modalities ("C??" matches "C,X").
 * A wildcard value with a literal start also gets the explicit range `c >= 'DOE' AND c < 'DOF'`,
 * so its index serves it even under a generic plan; the LIKE then decides the rest.
 *
 * The statement finds the page of the level's row ids (ORDER BY id LIMIT OFFSET), then reads the
 * rows it names; PostgreSQL's planner, which keeps statistics, chooses the indexes. Every value
 * is a parameter ($n), never part of the text.
 */
import { VeilgateError } from '../../errors';
import { Level, LEVEL_ORDER } from '../../query/attributes';
import { Constraint, hasWildcard, literalStart } from '../../query/constraints';
import type { Query } from '../../query/query';
import { Alias, LEVEL_ALIAS, TABLE, keyColumn } from './columns';
import type { Param } from './database';
import { asciiUpper, likePattern, prefixEnd } from '../../query/patterns';

/** Parameters of one statement, numbered as they are added. */
export class SqlParams {
  readonly values: Param[] = [];

  add(value: Param): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

/** `c starts with prefix` as a range an index on a "C" column serves ('' has no range: always true). */
function prefixRange(column: string, prefix: string, p: SqlParams): string[] {
  if (!prefix) return [];
  const end = prefixEnd(prefix);
  return end === undefined ? [`${column} >= ${p.add(prefix)}`] : [`${column} >= ${p.add(prefix)}`, `${column} < ${p.add(end)}`];
}

/** A wildcard match on a column holding `value`s already in the form compared (case-sensitive). */
function likeMatch(column: string, pattern: string, p: SqlParams, suffix = ''): string {
  return [...prefixRange(column, literalStart(pattern), p), `${column} LIKE ${p.add(likePattern(pattern) + suffix)} ESCAPE '\\'`].join(' AND ');
}

/** One modality value against series x's modality_key (ASCII case ignored). */
function modalityArm(value: string, p: SqlParams): string {
  const key = asciiUpper(value);
  return hasWildcard(key) ? `(${likeMatch('x.modality_key', key, p)})` : `x.modality_key = ${p.add(key)}`;
}

/**
 * Whether a study's series decide a ModalitiesInStudy value exactly as SQLite's LIKE over the
 * comma-joined list does: plain values and literal prefixes only (see sqlite-search.ts).
 */
function seriesDecide(value: string): boolean {
  return /^[^*?]+\**$/.test(value);
}

/** ModalitiesInStudy, matched as SQLite matches it (upper() of a "C" column folds ASCII only). */
function anyModalitySql(values: string[], l: Alias, p: SqlParams): { sql: string; table: Alias } {
  if (values.every(seriesDecide)) {
    return { table: l, sql: `${l}.study_uid IN (SELECT x.study_uid FROM series x WHERE ${values.map((v) => modalityArm(v, p)).join(' OR ')})` };
  }
  const arms = values.map((v) => `(',' || upper(s.modalities) || ',') LIKE ${p.add(`%,${likePattern(asciiUpper(v))},%`)} ESCAPE '\\'`);
  return { table: 's', sql: `(${arms.join(' OR ')})` };
}

/** A constraint as a predicate over the search's aliases (s, se, i). */
export function constraintSql(c: Constraint, level: Level, p: SqlParams): { sql: string; table: Alias } {
  const kc = keyColumn(c.key.keyword);
  if (LEVEL_ORDER[c.key.level] > LEVEL_ORDER[level]) {
    throw new VeilgateError('bad-request', `${c.key.keyword} is a ${c.key.level}-level attribute and cannot be matched in a ${level} search`);
  }
  const column = `${kc.table}.${kc.column}`;
  const l = LEVEL_ALIAS[level];
  switch (c.kind) {
    case 'uids':
      return { table: kc.table, sql: `${column} = ANY(${p.add(c.uids)})` };
    case 'equal':
      return { table: kc.table, sql: `${column} = ${p.add(c.value)}` };
    case 'range': {
      const parts: string[] = [];
      if (c.low !== undefined) parts.push(`${column} >= ${p.add(c.low)}`);
      if (c.high !== undefined) parts.push(`${column} <= ${p.add(c.high)}`);
      return { table: kc.table, sql: parts.length ? parts.join(' AND ') : 'true' };
    }
    case 'wildcard':
      return { table: kc.table, sql: likeMatch(column, c.pattern, p) };
    case 'person-name': {
      const pn = kc.personName;
      if (!pn) throw new Error(`${c.key.keyword} is not a person name in the PostgreSQL index`);
      const pattern = asciiUpper(c.pattern);
      if (c.wordStart) {
        // Some word start of the name begins with the value: the rest of the name may follow.
        const words = `SELECT w.study_uid FROM person_name_words w WHERE w.attr = ${p.add(pn.wordsAttr)} AND ${likeMatch('w.word', pattern, p, '%')}`;
        return { table: l, sql: `${l}.study_uid IN (${words})` };
      }
      const key = `${kc.table}.${pn.key}`;
      return { table: kc.table, sql: hasWildcard(pattern) ? likeMatch(key, pattern, p) : `${key} = ${p.add(pattern)}` };
    }
    case 'any-modality':
      return anyModalitySql(c.values, l, p);
  }
}

/** How an upper level's table joins the level's. */
function joinOf(l: Alias, t: Alias): string {
  return t === 's' ? `JOIN studies s ON s.study_uid = ${l}.study_uid` : `JOIN series se ON se.series_uid = ${l}.series_uid`;
}

/** The select list and joins that build result rows (src/query/results.ts ResultSource), per level. */
function resultColumns(q: Query): { select: string[]; joins: string[] } {
  const extras = q.includeFields === 'all' || q.includeFields.length > 0;
  const unscoped = !q.scope.study;
  const study = ['s.attrs AS "studyAttrs"', 's.modalities AS "modalities"', 's.num_series AS "studySeriesCount"', 's.num_instances AS "studyInstanceCount"'];
  const series = ['se.attrs AS "seriesAttrs"', 'se.num_instances AS "seriesInstanceCount"'];
  const firstMetadata = (column: string, of: string) => `(SELECT m.metadata FROM instances m WHERE m.${column} = ${of} ORDER BY m.id LIMIT 1) AS "metadata"`;
  if (q.level === 'study') {
    return { select: [...study, 's.study_uid AS "studyUID"', ...(extras ? [firstMetadata('study_uid', 's.study_uid')] : [])], joins: [] };
  }
  if (q.level === 'series') {
    return {
      select: [...series, 'se.study_uid AS "studyUID"', 'se.series_uid AS "seriesUID"', ...(unscoped ? study : []), ...(extras ? [firstMetadata('series_uid', 'se.series_uid')] : [])],
      joins: unscoped ? [joinOf('se', 's')] : [],
    };
  }
  const withSeries = !q.scope.series;
  return {
    select: [
      'i.attrs AS "instanceAttrs"',
      'i.study_uid AS "studyUID"',
      'i.series_uid AS "seriesUID"',
      'i.sop_instance_uid AS "sopInstanceUID"',
      ...(withSeries ? series : []),
      ...(unscoped ? study : []),
      ...(extras ? ['i.metadata AS "metadata"'] : []),
    ],
    joins: [...(withSeries ? [joinOf('i', 'se')] : []), ...(unscoped ? [joinOf('i', 's')] : [])],
  };
}

export interface CompiledSearch {
  text: string;
  values: Param[];
}

/** The search statement, or undefined when nothing can match (an empty project list). */
export function compileSearch(q: Query): CompiledSearch | undefined {
  if (q.projects !== undefined && q.projects.length === 0) return undefined;
  const l = LEVEL_ALIAS[q.level];
  const p = new SqlParams();
  const where: string[] = [];
  const tables = new Set<Alias>([l]);
  if (q.scope.study) where.push(`${l}.study_uid = ${p.add(q.scope.study)}`);
  if (q.scope.series) {
    where.push(q.level === 'study' ? `s.study_uid IN (SELECT x.study_uid FROM series x WHERE x.series_uid = ${p.add(q.scope.series)})` : `${l}.series_uid = ${p.add(q.scope.series)}`);
  }
  for (const c of q.constraints) {
    const term = constraintSql(c, q.level, p);
    tables.add(term.table);
    where.push(term.sql);
  }
  if (q.projects !== undefined) {
    where.push(`${l}.study_uid IN (SELECT sp.study_uid FROM study_projects sp WHERE sp.project = ANY(${p.add(q.projects)}))`);
  }
  const joins = [...tables].filter((t) => t !== l).map((t) => joinOf(l, t));
  // One row more than asked tells whether there are more.
  const page = [
    `SELECT ${l}.id FROM ${TABLE[l]} ${l}`,
    ...joins,
    where.length ? `WHERE ${where.join(' AND ')}` : '',
    `ORDER BY ${l}.id LIMIT ${p.add(q.limit + 1)} OFFSET ${p.add(q.offset)}`,
  ].filter(Boolean);
  const result = resultColumns(q);
  const text = [
    `SELECT ${result.select.join(', ')}`,
    `FROM (${page.join(' ')}) page JOIN ${TABLE[l]} ${l} ON ${l}.id = page.id`,
    ...result.joins,
    'ORDER BY page.id',
  ].join(' ');
  return { text, values: p.values };
}
