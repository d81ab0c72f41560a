/**
 * PS3.15 Table E.3.10-1, the private attributes the standard lists as safe, by creator, group
 * and offset, plus Veilgate's few additions (numeric geometry that reconstruction needs).
 */
import data from './standard/safe-private.json';
import additions from './standard/safe-private-additions.json';

interface SafeRow {
  creator: string;
  group: string;
  offset: string;
  vr: string;
}

const rows = [...(data as unknown as { attributes: SafeRow[] }).attributes, ...(additions as { attributes: SafeRow[] }).attributes];
const safe = new Map(rows.map((r) => [`${r.creator}|${r.group}|${r.offset}`.toUpperCase(), r]));

/** The listed safe attribute (with its VR) for a creator, group and offset within the block, if any. */
export function safePrivate(creator: string, group: number, offset: number): { vr: string } | undefined {
  const key = `${creator.trim()}|${group.toString(16).padStart(4, '0')}|${offset.toString(16).padStart(2, '0')}`.toUpperCase();
  return safe.get(key);
}
