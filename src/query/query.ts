/**
 * A search over the index, independent of the transport that asked for it (QIDO-RS or C-FIND)
 * and of the backend that answers it (each compiles the constraints: see constraints.ts).
 */
import { Level, matchKeyByName } from './attributes';
import { Constraint, parseConstraint } from './constraints';

export interface Query {
  level: Level;
  /** Path scope, e.g. the study of /studies/{study}/series. */
  scope: { study?: string; series?: string };
  /** Every constraint must hold (universal matches are left out). */
  constraints: Constraint[];
  /** Extra attributes to return, as hex tags, or 'all'. */
  includeFields: string[] | 'all';
  limit: number;
  offset: number;
  /** Only studies of these projects (set by the AccessView; undefined: every study). */
  projects?: readonly string[];
}

/** A query on one key's value at a level, with no extra attributes (rules, C-MOVE). */
export function keyQuery(level: Level, keyword: 'SeriesInstanceUID' | 'SOPInstanceUID' | 'PatientID', value: string, limit = 1, scope: Query['scope'] = {}): Query {
  const c = parseConstraint(matchKeyByName(keyword)!, value, false);
  return { level, scope, constraints: c ? [c] : [], includeFields: [], limit, offset: 0 };
}
