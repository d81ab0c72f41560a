/** UID syntax (PS3.5 section 9.1), and new UIDs. */
import { randomBytes } from 'node:crypto';

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

/** A new UID under the 2.25 root (PS3.5 B.2): a random 128-bit UUID as a decimal integer. */
export function randomUid(): string {
  return '2.25.' + BigInt('0x' + randomBytes(16).toString('hex')).toString(10);
}
