/** A search over the index, independent of the transport that asked for it (QIDO-RS or C-FIND). */
import { Level, MatchKey } from './attributes';

export interface Condition {
  key: MatchKey;
  /** The value as the client gave it: may hold wildcards, a range or a UID list. */
  value: string;
}

export interface Query {
  level: Level;
  /** Path scope, e.g. the study of /studies/{study}/series. */
  scope: { study?: string; series?: string };
  conditions: Condition[];
  /** Extra attributes to return, as hex tags, or 'all'. */
  includeFields: string[] | 'all';
  limit: number;
  offset: number;
  /** Person names match any name component, from its start, ignoring case. */
  fuzzy: boolean;
  /** Only studies of these projects (set by the AccessView; undefined: every study). */
  projects?: readonly string[];
}
