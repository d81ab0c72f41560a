/**
 * A typed constraint (src/query/constraints.ts) as parameterised SQLite SQL over one column: the
 * reference form of its matching. sqlite-search.ts checks with exactly this SQL every constraint
 * that does not drive a search, and writes the driving ones so that an index serves them with the
 * same matches.
 */
import type { Constraint } from '../query/constraints';
import { likePattern } from '../query/patterns';

export interface SqlFragment {
  sql: string;
  params: (string | number)[];
}

/** GLOB pattern for a DICOM wildcard value: * and ? keep their meaning, [ is literal. */
export function globPattern(value: string): string {
  return value.replace(/\[/g, '[[]');
}


export function compileConstraint(c: Constraint, col: string): SqlFragment {
  switch (c.kind) {
    case 'uids':
      return { sql: `${col} IN (${c.uids.map(() => '?').join(',')})`, params: c.uids };
    case 'equal':
      return { sql: `${col} = ?`, params: [c.value] };
    case 'range': {
      if (c.low !== undefined && c.low === c.high) return { sql: `${col} = ?`, params: [c.low] };
      if (c.low !== undefined && c.high !== undefined) return { sql: `${col} BETWEEN ? AND ?`, params: [c.low, c.high] };
      return c.low !== undefined ? { sql: `${col} >= ?`, params: [c.low] } : { sql: `${col} <= ?`, params: [c.high!] };
    }
    case 'wildcard':
      return { sql: `${col} GLOB ?`, params: [globPattern(c.pattern)] };
    case 'any-modality':
      return {
        sql: `(${c.values.map(() => `(',' || ${col} || ',') LIKE ? ESCAPE '\\'`).join(' OR ')})`,
        params: c.values.map((m) => `%,${likePattern(m)},%`),
      };
    case 'person-name': {
      const pattern = likePattern(c.pattern);
      if (c.wordStart) {
        // Any name component may match, from its start (family, given, middle...).
        return { sql: `(' ' || replace(replace(${col}, '^', ' '), '=', ' ')) LIKE ? ESCAPE '\\'`, params: [`% ${pattern}%`] };
      }
      return { sql: `${col} LIKE ? ESCAPE '\\'`, params: [pattern] };
    }
  }
}
