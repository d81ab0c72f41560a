/** PS3.15 Table E.3.10-1, the private attributes the standard lists as safe, by creator, group and offset. */
import data from './standard/safe-private.json';

interface SafeRow {
  creator: string;
  group: string;
  offset: string;
}

const safe = new Set((data as unknown as { attributes: SafeRow[] }).attributes.map((r) => `${r.creator}|${r.group}|${r.offset}`.toUpperCase()));

export function isSafePrivate(creator: string, group: number, offset: number): boolean {
  const key = `${creator.trim()}|${group.toString(16).padStart(4, '0')}|${offset.toString(16).padStart(2, '0')}`.toUpperCase();
  return safe.has(key);
}
