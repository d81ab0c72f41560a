/** QIDO-RS query parameters (PS3.18 8.3.4) to a Query: anything unknown or malformed is a 400. */
import { VeilgateError } from '../errors';
import { keywordOf, tagFor } from '../dicom/dictionary';
import { tagHex } from '../dicom/dataset';
import { Level, LEVEL_ORDER, matchKeyByName } from '../query/attributes';
import { MatchKey } from '../query/attributes';
import { parseConstraint } from '../query/constraints';
import { Query } from '../query/query';

const bad = (msg: string) => new VeilgateError('bad-request', msg);

function single(name: string, value: unknown): string {
  if (Array.isArray(value)) throw bad(`query parameter "${name}" is given more than once`);
  if (typeof value !== 'string') throw bad(`query parameter "${name}" is malformed`);
  return value;
}

/** Offsets and limits beyond a billion name no real page: refused rather than overflowing the database's integers. */
function nonNegativeInteger(name: string, value: string): number {
  if (!/^\d{1,9}$/.test(value)) throw bad(`${name} must be a whole number from 0 to 999999999`);
  return Number(value);
}

/** An attribute named by keyword or hex tag, as an 8-digit hex tag, if the dictionary knows it. */
function attributeTag(name: string): string | undefined {
  const t = tagFor(name) ?? tagFor(name.toUpperCase());
  return t === undefined ? undefined : tagHex(t);
}

export interface ParsedQido {
  query: Query;
  /** Attributes the client asked to match that the index cannot match on (reported in a 299 Warning). */
  unsupported: string[];
  /** The keywords of the match keys given, universal matches too (what the audit trail records). */
  matchKeys: string[];
}

export function parseQido(
  level: Level,
  scope: Query['scope'],
  params: Record<string, unknown>,
  limits: { defaultLimit: number; maxLimit: number },
): ParsedQido {
  const query: Query = { level, scope, constraints: [], includeFields: [], limit: limits.defaultLimit, offset: 0 };
  const given: { key: MatchKey; value: string }[] = [];
  let fuzzy = false;
  const unsupported: string[] = [];
  const include = new Set<string>();
  for (const [rawName, rawValue] of Object.entries(params)) {
    const name = rawName.trim();
    const lower = name.toLowerCase();
    if (lower === 'limit') {
      query.limit = Math.min(nonNegativeInteger('limit', single(name, rawValue)), limits.maxLimit);
    } else if (lower === 'offset') {
      query.offset = nonNegativeInteger('offset', single(name, rawValue));
    } else if (lower === 'fuzzymatching') {
      const v = single(name, rawValue).toLowerCase();
      if (v !== 'true' && v !== 'false') throw bad('fuzzymatching must be true or false');
      fuzzy = v === 'true';
    } else if (lower === 'includefield') {
      const values = (Array.isArray(rawValue) ? rawValue : [rawValue]).flatMap((v) => String(v).split(','));
      for (const v of values.map((s) => s.trim()).filter(Boolean)) {
        if (v.toLowerCase() === 'all') {
          query.includeFields = 'all';
          continue;
        }
        const tag = attributeTag(v);
        if (!tag) throw bad(`includefield: "${v}" is not a DICOM attribute keyword or tag`);
        include.add(tag);
      }
    } else {
      const key = matchKeyByName(name);
      const value = single(name, rawValue);
      if (key) {
        if (LEVEL_ORDER[key.level] > LEVEL_ORDER[level]) {
          throw bad(`${key.keyword} is a ${key.level}-level attribute and cannot be matched in a ${level} search`);
        }
        if (given.some((c) => c.key === key)) throw bad(`${key.keyword} is given more than once`);
        given.push({ key, value });
      } else {
        const tag = name.includes('.') ? undefined : attributeTag(name);
        if (!tag) throw bad(`unknown query parameter "${name}"`);
        unsupported.push(keywordOf(parseInt(tag, 16) >>> 0) ?? tag);
      }
    }
  }
  if (query.includeFields !== 'all') query.includeFields = [...include];
  // After every parameter: fuzzymatching may come after the names it applies to.
  for (const { key, value } of given) {
    const c = parseConstraint(key, value, fuzzy);
    if (c) query.constraints.push(c);
  }
  return { query, unsupported, matchKeys: given.map((c) => c.key.keyword) };
}
