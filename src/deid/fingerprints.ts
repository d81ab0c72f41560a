/**
 * Keyed fingerprints of the identifier words a study's instances carried at ingest: 64 bits of
 * HMAC-SHA256 with the site secret, never the words themselves. They let the gateway clean
 * text a client types into a derived object of that study (a NIfTI description naming the
 * patient) without keeping anything identifying: without the secret a fingerprint reveals
 * nothing, and whoever holds the secret can already map an MRN to its pseudonym.
 */
import { createHmac } from 'node:crypto';

export function fingerprint(secret: Buffer, word: string): string {
  return createHmac('sha256', secret).update('identifier-word\0').update(word.toLowerCase()).digest('hex').slice(0, 16);
}

export function fingerprints(secret: Buffer, words: Iterable<string>): string[] {
  return [...new Set([...words].map((w) => fingerprint(secret, w)))];
}

/** A word test for the cleaner: is this word one of the study's identifiers? */
export function fingerprintTest(secret: Buffer, known: ReadonlySet<string>): (word: string) => boolean {
  return (word) => known.size > 0 && known.has(fingerprint(secret, word));
}
