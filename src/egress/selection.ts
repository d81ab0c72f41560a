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

/** The most lines a CSV of studies may have. */
const MAX_CSV_STUDIES = 100_000;

/** A CSV of StudyInstanceUIDs: the first column of each line; a header line and blank lines are skipped. */
export function parseStudyCsv(body: string): string[] {
  const studies: string[] = [];
  const lines = body.split(/\r?\n/);
  for (const [n, raw] of lines.entries()) {
    const cell = raw.split(/[,;\t]/)[0].trim().replace(/^"(.*)"$/, '$1').trim();
    if (!cell) continue;
    if (n === 0 && !/^[0-9.]+$/.test(cell)) continue; // a header ("StudyInstanceUID")
    studies.push(requireUid(cell, `line ${n + 1}: study`));
    if (studies.length > MAX_CSV_STUDIES) throw new VeilgateError('payload-too-large', `at most ${MAX_CSV_STUDIES} studies in one CSV`);
  }
  if (!studies.length) throw new VeilgateError('bad-request', 'the CSV names no StudyInstanceUID');
  return [...new Set(studies)];
}

/** The selection a JSON body names: exactly one of study, series (with or without study), query. */
export function selectionOf(body: Record<string, unknown>): Selection {
  const has = (k: string) => body[k] !== undefined;
  if (has('query')) {
    if (has('series') || has('study')) throw new VeilgateError('bad-request', 'give one of "study", "series" or "query"');
    const q = body.query;
    if (typeof q !== 'object' || q === null || Array.isArray(q)) throw new VeilgateError('bad-request', '"query" must be an object of QIDO-RS parameters, such as { "Modality": "CT" }');
    const level = body.level ?? 'study';
    if (level !== 'study' && level !== 'series') throw new VeilgateError('bad-request', '"level" must be "study" or "series"');
    const params: Record<string, string> = {};
    for (const [k, v] of Object.entries(q)) {
      if (typeof v !== 'string' && typeof v !== 'number') throw new VeilgateError('bad-request', `query parameter "${k}" must be a string`);
      params[k] = String(v);
    }
    return { kind: 'query', level, params };
  }
  if (has('series')) return { kind: 'series', series: requireUid(body.series, 'series'), study: has('study') ? requireUid(body.study, 'study') : undefined };
  if (has('study')) return { kind: 'study', study: requireUid(body.study, 'study') };
  if (has('studies')) {
    if (!Array.isArray(body.studies) || !body.studies.length) throw new VeilgateError('bad-request', '"studies" must be a non-empty list of StudyInstanceUIDs');
    return { kind: 'studies', studies: [...new Set(body.studies.map((s, i) => requireUid(s, `studies[${i}]`)))] };
  }
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
