/**
 * Which coding schemes are registered (PS3.16 Table 8-1, shipped as data): a code of a
 * registered scheme means what the scheme says, so its meaning is kept; a code of any other
 * scheme (99*, L, LOCAL, a hospital's own) is free text someone typed, and is cleaned as such.
 */
import data from './standard/coding-schemes.json';

const REGISTERED = new Set((data as { designators: string[] }).designators);

/** Designators are case-sensitive (NCIt); 99-prefixed ones are private by convention (PS3.3 8.2). */
export function isRegisteredScheme(designator: string | undefined): boolean {
  const d = (designator ?? '').trim();
  if (!d || d.startsWith('99')) return false;
  return REGISTERED.has(d);
}
