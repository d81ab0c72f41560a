/**
 * A search's conditions as typed constraints, with no SQL in them: each index backend compiles
 * them (src/index/sqlite-search.ts, src/index/postgres/search.ts), as Orthanc's
 * DatabaseConstraint is compiled by each of its database plugins.
 *
 * Parsing a client's value is done here, once, for QIDO-RS and C-FIND alike: PS3.4 C.2.2.2 matching
 * as PS3.18 10.6.1.3 applies it (single value, UID list, wildcards, ranges, person names). A value
 * that cannot be matched is a 400 here, before any backend sees it.
 */
import { VeilgateError } from '../errors';
import { isSafeUid } from '../dicom/uid';
import type { MatchKey } from './attributes';
import { normaliseDate, normaliseTime } from './normalise';

export type Constraint =
  /** The value is one of these UIDs. */
  | { kind: 'uids'; key: MatchKey; uids: string[] }
  /** Exactly this value: a string (case-sensitive) or an integer. */
  | { kind: 'equal'; key: MatchKey; value: string | number }
  /**
   * Between low and high inclusive (either may be absent), as normalised strings: dates
   * YYYYMMDD, times HHMMSSFFFFFF (see normalise.ts; the index holds the same forms).
   */
  | { kind: 'range'; key: MatchKey; low?: string; high?: string }
  /** DICOM wildcards (* any run, ? one character), case-sensitive; `[` and every other character literal. */
  | { kind: 'wildcard'; key: MatchKey; pattern: string }
  /**
   * A person name, ignoring (ASCII) case, DICOM wildcards in `pattern` (a plain value is an exact
   * match). `wordStart`: the value may match from the start of any name component or word
   * (fuzzy matching), not only from the start of the name; the rest of the name may follow.
   */
  | { kind: 'person-name'; key: MatchKey; pattern: string; wordStart: boolean }
  /**
   * ModalitiesInStudy: one of these values matches one of the study's modalities, ASCII case
   * ignored. A plain value or a literal prefix ("C*") is decided per series; any other wildcard is
   * matched against the study's comma-joined list, so "C??" also matches a study of C and X: the
   * SQLite reference's behaviour, which every backend keeps alike (test/contract).
   */
  | { kind: 'any-modality'; key: MatchKey; values: string[] };

const bad = (msg: string) => new VeilgateError('bad-request', msg);

export function hasWildcard(value: string): boolean {
  return /[*?]/.test(value);
}

/** The literal start of a wildcard value (before its first * or ?). */
export function literalStart(value: string): string {
  const m = /[*?]/.exec(value);
  return m ? value.slice(0, m.index) : value;
}

function splitList(value: string): string[] {
  return value.split(/[,\\]/).map((v) => v.trim()).filter(Boolean);
}

function range(key: MatchKey, value: string, normalise: (v: string, edge: 'low' | 'high') => string | undefined): Constraint {
  const parts = value.split('-');
  if (parts.length === 1) {
    const low = normalise(value, 'low');
    const high = normalise(value, 'high');
    if (!low || !high) throw bad(`${key.keyword}: "${value}" is not a valid value`);
    return { kind: 'range', key, low, high };
  }
  if (parts.length !== 2 || (!parts[0] && !parts[1])) throw bad(`${key.keyword}: "${value}" is not a valid range`);
  const out: Constraint = { kind: 'range', key };
  if (parts[0]) {
    out.low = normalise(parts[0], 'low');
    if (!out.low) throw bad(`${key.keyword}: "${parts[0]}" is not valid`);
  }
  if (parts[1]) {
    out.high = normalise(parts[1], 'high');
    if (!out.high) throw bad(`${key.keyword}: "${parts[1]}" is not valid`);
  }
  return out;
}

/**
 * The constraint a client's value for a match key stands for; undefined for a universal match
 * (an empty value or "*", PS3.4 C.2.2.2.3). `fuzzy`: person names match from any word start.
 */
export function parseConstraint(key: MatchKey, value: string, fuzzy: boolean): Constraint | undefined {
  if (value === '' || value === '*') return undefined;
  switch (key.type) {
    case 'uid': {
      const uids = splitList(value);
      for (const u of uids) if (!isSafeUid(u)) throw bad(`${key.keyword}: "${u}" is not a valid UID`);
      if (!uids.length) throw bad(`${key.keyword}: "${value}" names no UID`);
      return { kind: 'uids', key, uids };
    }
    case 'integer':
      if (!/^[+-]?\d+$/.test(value.trim()) || !Number.isSafeInteger(Number(value))) throw bad(`${key.keyword}: "${value}" is not an integer`);
      return { kind: 'equal', key, value: Number(value) };
    case 'date':
      return range(key, value, (v) => normaliseDate(v));
    case 'time':
      return range(key, value, (v, edge) => normaliseTime(v, edge === 'low' ? '0' : '9'));
    case 'modalities': {
      const values = splitList(value);
      if (!values.length) return undefined;
      return { kind: 'any-modality', key, values };
    }
    case 'pn':
      return { kind: 'person-name', key, pattern: value, wordStart: fuzzy };
    case 'string':
      return hasWildcard(value) ? { kind: 'wildcard', key, pattern: value } : { kind: 'equal', key, value };
  }
}
