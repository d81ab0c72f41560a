/**
 * Turns a Query's conditions into parameterised SQL (PS3.4 C.2.2.2 matching rules as
 * PS3.18 10.6.1.3 applies them): single value, UID list, wildcards, ranges, person names.
 */
import { VeilgateError } from '../errors';
import { isSafeUid } from '../dicom/uid';
import { Condition } from './query';

export interface SqlFragment {
  sql: string;
  params: (string | number)[];
}

const bad = (msg: string) => new VeilgateError('bad-request', msg);

/** GLOB pattern for a DICOM wildcard value: * and ? keep their meaning, [ is literal. */
function globPattern(value: string): string {
  return value.replace(/\[/g, '[[]');
}

/** LIKE pattern (with ESCAPE '\') for a DICOM wildcard value. */
function likePattern(value: string): string {
  return value.replace(/[\\%_]/g, (c) => '\\' + c).replace(/\*/g, '%').replace(/\?/g, '_');
}

export function normaliseDate(value: string): string | undefined {
  const v = value.trim().replace(/[.-]/g, '');
  return /^\d{8}$/.test(v) ? v : undefined;
}

/** Times are compared as HHMMSSFFFFFF strings; missing parts are filled with `fill`. */
export function normaliseTime(value: string, fill: '0' | '9' = '0'): string | undefined {
  const m = /^(\d{2})(\d{2})?(\d{2})?(?:\.(\d{1,6}))?$/.exec(value.trim().replace(/:/g, ''));
  if (!m) return undefined;
  const edge = fill === '9' ? '59' : '00';
  return m[1] + (m[2] ?? edge) + (m[3] ?? edge) + (m[4] ?? '').padEnd(6, fill);
}

function rangeCondition(column: string, value: string, normalise: (v: string, edge: 'low' | 'high') => string | undefined, what: string): SqlFragment {
  const parts = value.split('-');
  if (parts.length === 1) {
    const low = normalise(value, 'low');
    const high = normalise(value, 'high');
    if (!low || !high) throw bad(`${what}: "${value}" is not a valid value`);
    return low === high ? { sql: `${column} = ?`, params: [low] } : { sql: `${column} BETWEEN ? AND ?`, params: [low, high] };
  }
  if (parts.length !== 2 || (!parts[0] && !parts[1])) throw bad(`${what}: "${value}" is not a valid range`);
  const clauses: string[] = [];
  const params: string[] = [];
  if (parts[0]) {
    const low = normalise(parts[0], 'low');
    if (!low) throw bad(`${what}: "${parts[0]}" is not valid`);
    clauses.push(`${column} >= ?`);
    params.push(low);
  }
  if (parts[1]) {
    const high = normalise(parts[1], 'high');
    if (!high) throw bad(`${what}: "${parts[1]}" is not valid`);
    clauses.push(`${column} <= ?`);
    params.push(high);
  }
  return { sql: clauses.join(' AND '), params };
}

function splitList(value: string): string[] {
  return value.split(/[,\\]/).map((v) => v.trim()).filter(Boolean);
}

export function compileCondition(c: Condition, fuzzy: boolean): SqlFragment | undefined {
  const { key, value } = c;
  const col = key.column;
  // An empty value is a universal match (PS3.4 C.2.2.2.3): no constraint.
  if (value === '' || value === '*') return undefined;
  switch (key.type) {
    case 'uid': {
      const uids = splitList(value);
      for (const u of uids) if (!isSafeUid(u)) throw bad(`${key.keyword}: "${u}" is not a valid UID`);
      return { sql: `${col} IN (${uids.map(() => '?').join(',')})`, params: uids };
    }
    case 'integer': {
      if (!/^[+-]?\d+$/.test(value.trim())) throw bad(`${key.keyword}: "${value}" is not an integer`);
      return { sql: `${col} = ?`, params: [Number(value)] };
    }
    case 'date':
      return rangeCondition(col, value, (v) => normaliseDate(v), key.keyword);
    case 'time':
      return rangeCondition(col, value, (v, edge) => normaliseTime(v, edge === 'low' ? '0' : '9'), key.keyword);
    case 'modalities': {
      const list = splitList(value);
      return {
        sql: `(${list.map(() => `(',' || ${col} || ',') LIKE ? ESCAPE '\\'`).join(' OR ')})`,
        params: list.map((m) => `%,${likePattern(m)},%`),
      };
    }
    case 'pn': {
      const pattern = likePattern(value);
      if (fuzzy) {
        // Any name component may match, from its start (family, given, middle...).
        return {
          sql: `(' ' || replace(replace(${col}, '^', ' '), '=', ' ')) LIKE ? ESCAPE '\\'`,
          params: [`% ${pattern}%`],
        };
      }
      return { sql: `${col} LIKE ? ESCAPE '\\'`, params: [pattern] };
    }
    case 'string': {
      if (/[*?]/.test(value)) return { sql: `${col} GLOB ?`, params: [globPattern(value)] };
      return { sql: `${col} = ?`, params: [value] };
    }
  }
}
