/** UID syntax (PS3.5 section 9.1). */

const STRICT = /^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))+$/;
const SAFE = /^[0-9]+(\.[0-9]+)+$/;

/** Exactly as PS3.5 9.1 requires: digits and dots, no leading zeros, at most 64 characters. */
export function isStrictUid(s: string): boolean {
  return s.length <= 64 && STRICT.test(s);
}

/**
 * Digits and dots only, at most 64 characters. Leading zeros in a component, which some
 * scanners write, are tolerated; anything that could reach a path or a query is not.
 */
export function isSafeUid(s: string): boolean {
  return s.length <= 64 && SAFE.test(s);
}
