/**
 * What POST /api/transfers may ask to send — a study, a series, a QIDO-style query, or a list of
 * (pseudonymous) StudyInstanceUIDs — resolved to instances through the caller's view of the
 * index (the AccessView): a study the caller may not see is as absent as one that does not exist.
 */
import { VeilgateError } from '../errors';
import type { ReadIndex } from '../index/index';
import { keyQuery } from '../query/query';
import { parseQido } from '../dicomweb/qido-params';
import { requireUid } from '../dicomweb/params';
import type { NewItem } from './transfer-store';

export type Selection =
  | { kind: 'study'; study: string }
  | { kind: 'series'; series: string; study?: string }
  | { kind: 'query'; level: 'study' | 'series'; params: Record<string, string> }
  | { kind: 'studies'; studies: string[] };

/** The most studies a list may name (a CSV, or a JSON "studies" list): checked before any is looked up. */
export const MAX_LISTED_STUDIES = 10_000;
/** The most QIDO parameters, and the longest value, a stored selection may hold. */
const MAX_QUERY_KEYS = 64;
const MAX_QUERY_VALUE = 1024;

const tooMany = () => new VeilgateError('payload-too-large', `at most ${MAX_LISTED_STUDIES} studies in one list`);

/**
 * A CSV of StudyInstanceUIDs: the first column of each line; a header line and blank lines are
 * skipped. Every line counts against the bound, read one at a time: a body of blank lines or
 * separators never becomes an array of them.
 */
export function parseStudyCsv(body: string): string[] {
  const studies = new Set<string>();
  let lines = 0;
  for (let at = 0; at <= body.length; ) {
    const end = body.indexOf('\n', at);
    const raw = body.slice(at, end < 0 ? body.length : end).replace(/\r$/, '');
    at = end < 0 ? body.length + 1 : end + 1;
    if (++lines > MAX_LISTED_STUDIES + 1) throw tooMany();
    const cut = raw.search(/[,;\t]/);
    const cell = (cut < 0 ? raw : raw.slice(0, cut)).trim().replace(/^"(.*)"$/, '$1').trim();
    if (!cell) continue;
    if (lines === 1 && !/^[0-9.]+$/.test(cell)) continue; // a header ("StudyInstanceUID")
    studies.add(requireUid(cell, `line ${lines}: study`));
  }
  if (!studies.size) throw new VeilgateError('bad-request', 'the CSV names no StudyInstanceUID');
  return [...studies];
}

/** A JSON list of StudyInstanceUIDs, bounded before any is checked. */
export function parseStudyList(list: unknown): string[] {
  if (!Array.isArray(list) || !list.length) throw new VeilgateError('bad-request', '"studies" must be a non-empty list of StudyInstanceUIDs');
  if (list.length > MAX_LISTED_STUDIES) throw tooMany();
  return [...new Set(list.map((s, i) => requireUid(s, `studies[${i}]`)))];
}

/** QIDO-RS parameters given as a JSON object (a transfer's or an export's "query"), bounded in keys and value length. */
export function parseQueryParams(q: unknown, refused: RegExp = /^(limit|offset|includefield)$/i): Record<string, string> {
  if (typeof q !== 'object' || q === null || Array.isArray(q)) throw new VeilgateError('bad-request', '"query" must be an object of QIDO-RS parameters, such as { "Modality": "CT" }');
  const entries = Object.entries(q);
  if (entries.length > MAX_QUERY_KEYS) throw new VeilgateError('bad-request', `"query" may hold at most ${MAX_QUERY_KEYS} parameters`);
  const params: Record<string, string> = {};
  for (const [k, v] of entries) {
    if (typeof v !== 'string' && typeof v !== 'number') throw new VeilgateError('bad-request', `query parameter "${k.slice(0, 64)}" must be a string`);
    if (refused.test(k)) throw new VeilgateError('bad-request', `query parameter "${k}" has no meaning here: the whole selection is taken`);
    if (String(v).length > MAX_QUERY_VALUE) throw new VeilgateError('bad-request', `query parameter "${k.slice(0, 64)}" is longer than ${MAX_QUERY_VALUE} characters`);
    params[k] = String(v);
  }
  return params;
}

/**
 * What a stored record (a transfer, an export, its manifest) keeps of a query or list: the
 * parameter names and the count, never the values, which are text a client typed (an original
 * name searched for would otherwise be shown to every reader of the record and exported).
 */
export function selectionSummary(s: { kind: 'query'; params: Record<string, string>; level: string } | { kind: 'studies'; studies: string[] }): Record<string, unknown> {
  return s.kind === 'query' ? { query: Object.keys(s.params), level: s.level } : { studies: s.studies.length };
}

/** The selection a JSON body names: exactly one of study, series (with or without study), query. */
export function selectionOf(body: Record<string, unknown>): Selection {
  const has = (k: string) => body[k] !== undefined;
  if (has('query')) {
    if (has('series') || has('study')) throw new VeilgateError('bad-request', 'give one of "study", "series" or "query"');
    const level = body.level ?? 'study';
    if (level !== 'study' && level !== 'series') throw new VeilgateError('bad-request', '"level" must be "study" or "series"');
    return { kind: 'query', level, params: parseQueryParams(body.query) };
  }
  if (has('series')) return { kind: 'series', series: requireUid(body.series, 'series'), study: has('study') ? requireUid(body.study, 'study') : undefined };
  if (has('study')) return { kind: 'study', study: requireUid(body.study, 'study') };
  if (has('studies')) return { kind: 'studies', studies: parseStudyList(body.studies) };
  throw new VeilgateError('bad-request', 'body must name what to send: "study", "series", "query" or "studies"');
}

/** The instances a selection names, as the view sees them; at most `max`. */
export async function resolveSelection(view: ReadIndex, s: Selection, limits: { max: number; qidoMaxLimit: number }): Promise<NewItem[]> {
  const items: NewItem[] = [];
  const add = async (study: string, series?: string) => {
    for (const i of await view.instances({ study, series })) {
      items.push({ study: i.studyUID, series: i.seriesUID, instance: i.sopInstanceUID });
      if (items.length > limits.max) throw new VeilgateError('payload-too-large', `a transfer may hold at most ${limits.max} instances (egress.maxTransferInstances)`);
    }
  };
  if (s.kind === 'study') {
    if (!(await view.exists('study', { study: s.study }))) throw new VeilgateError('not-found', 'no such study');
    await add(s.study);
  } else if (s.kind === 'series') {
    let study = s.study;
    if (!study) study = (await view.search(keyQuery('series', 'SeriesInstanceUID', s.series))).rows[0]?.studyUID;
    if (!study || !(await view.exists('series', { study, series: s.series }))) throw new VeilgateError('not-found', 'no such series');
    await add(study, s.series);
  } else if (s.kind === 'studies') {
    for (const [n, study] of s.studies.entries()) {
      if (!(await view.exists('study', { study }))) throw new VeilgateError('not-found', `study ${n + 1} of the list is not stored (or not visible)`);
      await add(study);
    }
  } else {
    const { query } = parseQido(s.level, {}, s.params, { defaultLimit: limits.qidoMaxLimit, maxLimit: limits.qidoMaxLimit });
    const found = await view.search(query);
    if (found.more) throw new VeilgateError('payload-too-large', `the query matches more than ${query.limit} ${s.level === 'study' ? 'studies' : 'series'}: narrow it`);
    for (const row of found.rows) await add(row.studyUID, s.level === 'series' ? row.seriesUID : undefined);
  }
  if (!items.length) throw new VeilgateError('not-found', 'the selection holds no instance');
  return items;
}
