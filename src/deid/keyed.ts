/**
 * Keyed, table-free mappings: the same input gives the same output across restarts and
 * sources, and without the site secret nobody can rebuild them (never an unkeyed hash).
 */
import { createHmac } from 'node:crypto';

function hmac(secret: Buffer, purpose: string, ...parts: string[]): Buffer {
  const h = createHmac('sha256', secret);
  h.update(purpose);
  for (const p of parts) h.update('\0' + p);
  return h.digest();
}

/**
 * The key of one project's pseudonym space. The default project keeps the site secret itself,
 * so studies stored before projects existed keep their pseudonyms.
 */
export function projectSecret(secret: Buffer, project: string, defaultProject: string): Buffer {
  return project === defaultProject ? secret : hmac(secret, 'project', project);
}

/** 2.25. followed by the decimal value of 128 bits of HMAC-SHA256(secret, uid) (PS3.5 B.2). */
export function mapUid(secret: Buffer, uid: string): string {
  const digest = createHmac('sha256', secret).update(uid).digest();
  return '2.25.' + BigInt('0x' + digest.subarray(0, 16).toString('hex')).toString(10);
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** Pseudonymous Patient ID, the same for every study of one patient (issuer + ID). */
export function patientPseudonym(secret: Buffer, issuer: string, patientID: string): string {
  const d = hmac(secret, 'patient', issuer, patientID);
  let out = '';
  for (let i = 0; i < 12; i++) out += BASE32[d[i] & 31];
  return `VG-${out}`;
}

/** Days every date of one patient moves back: between 1 and 3650, from the keyed hash. */
export function dateOffsetDays(secret: Buffer, issuer: string, patientID: string): number {
  return -(1 + (hmac(secret, 'date-offset', issuer, patientID).readUInt32BE(0) % 3650));
}
