/**
 * What an audit message may name, checked at the door. Patients and studies are named only by
 * the pseudonymous identifiers the gateway itself issues after de-identification; anything
 * else is refused with an AuditInputError (never echoing the refused value, which may be an
 * original identifier). Participants (users, AE titles, hosts) are checked for shape.
 */
import net from 'node:net';
import { NetworkAccessPointKind } from './codes';

export class AuditInputError extends Error {
  override name = 'AuditInputError';
  constructor(message: string) {
    super(`audit: ${message}`);
  }
}

/** The gateway's pseudonymous Patient ID (src/deid/keyed.ts patientPseudonym). */
export const PSEUDONYMOUS_PATIENT_ID = /^VG-[A-Z2-7]{12}$/;
/** The gateway's UIDs: 2.25. and the decimal value of 128 bits (src/deid/keyed.ts mapUid, src/dicom/uid.ts randomUid). */
export const PSEUDONYMOUS_UID = /^2\.25\.\d{1,39}$/;
/** PS3.5 9.1 UID syntax. */
const UID = /^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))+$/;

/** A pseudonymous Patient ID, once checked. */
export type PseudonymousPatientId = string & { readonly __pseudonymousPatientId: true };
/** A pseudonymous UID, once checked. */
export type PseudonymousUid = string & { readonly __pseudonymousUid: true };

declare const ASSERTED: unique symbol;
/**
 * A UID that does not have the 2.25 form but that the caller asserts is pseudonymous
 * (made by Veilgate, never an original). Only assertPseudonymousUid makes one: a look-alike
 * object built elsewhere is refused at run time.
 */
export interface AssertedPseudonymousUid {
  readonly uid: string;
  readonly [ASSERTED]: true;
}

const assertedUids = new WeakSet<object>();

/** The caller's explicit assertion that this UID is pseudonymous. It must still be a UID. */
export function assertPseudonymousUid(uid: string): AssertedPseudonymousUid {
  if (typeof uid !== 'string' || uid.length > 64 || !UID.test(uid)) throw new AuditInputError('an asserted pseudonymous UID must be a valid UID');
  const out = Object.freeze({ uid }) as AssertedPseudonymousUid;
  assertedUids.add(out);
  return out;
}

/** A UID where a study, series or instance is named: 2.25.… or an asserted one. */
export type UidInput = string | AssertedPseudonymousUid;

export function pseudonymousUid(input: UidInput, what: string): PseudonymousUid {
  if (typeof input === 'string') {
    if (PSEUDONYMOUS_UID.test(input)) return input as PseudonymousUid;
    throw new AuditInputError(`${what} must be a pseudonymous UID (2.25.<decimal>) or asserted with assertPseudonymousUid`);
  }
  if (input !== null && typeof input === 'object' && assertedUids.has(input)) return input.uid as PseudonymousUid;
  throw new AuditInputError(`${what} must be a pseudonymous UID (2.25.<decimal>) or asserted with assertPseudonymousUid`);
}

export function pseudonymousPatientId(input: string, what = 'patient'): PseudonymousPatientId {
  if (typeof input === 'string' && PSEUDONYMOUS_PATIENT_ID.test(input)) return input as PseudonymousPatientId;
  throw new AuditInputError(`${what} must be a pseudonymous Patient ID (VG- and 12 base-32 characters)`);
}

/** A standard UID (a SOP Class, a transfer syntax): the 1.2.840.10008 root only. */
export function standardUid(input: string, what: string): string {
  if (typeof input === 'string' && input.length <= 64 && UID.test(input) && input.startsWith('1.2.840.10008.')) return input;
  throw new AuditInputError(`${what} must be a DICOM-registered UID (1.2.840.10008.…)`);
}

/** A SOP Class UID: standard ones, and private ones (which name a kind of object, never a patient). */
export function sopClassUid(input: string, what = 'SOP Class UID'): string {
  if (typeof input === 'string' && input.length <= 64 && UID.test(input)) return input;
  throw new AuditInputError(`${what} must be a valid UID`);
}

export function count(n: number, what: string): number {
  if (!Number.isSafeInteger(n) || n < 0) throw new AuditInputError(`${what} must be a non-negative integer`);
  return n;
}

/** Where a participant is on the network (NetworkAccessPointTypeCode and NetworkAccessPointID). */
export interface NetworkAccessPoint {
  kind: NetworkAccessPointKind;
  id: string;
}

/** An active participant other than the gateway itself. */
export interface Participant {
  /** A login (user@domain), an AE title, a process identity, or for media a URI (PS3.15 A.5.2.1). */
  userId: string;
  /** For a DICOM application, its AE titles as AETITLES=AE1;AE2 (A.5.2.2). */
  alternativeUserId?: string;
  /** A person's name or a process name (A.5.2.3). */
  userName?: string;
  isRequestor: boolean;
  networkAccessPoint?: NetworkAccessPoint;
}

const HOST = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62}))*\.?$/;
const EMAIL = /^[^\s@<>"]{1,64}@[^\s@<>"]{1,253}$/;
const PHONE = /^\+?[0-9 ()-]{3,32}$/;
const URI = /^[A-Za-z][A-Za-z0-9+.-]*:[^\s]{1,2040}$/;
/** PS3.5 AE: 1 to 16 characters, no backslash, no controls. */
const AE_TITLE = /^[\x20-\x5b\x5d-\x7e]{1,16}$/;

function networkAccessPointChecked(p: NetworkAccessPoint, what: string): NetworkAccessPoint {
  const id = p?.id;
  const ok =
    typeof id === 'string' &&
    ((p.kind === 'ip' && net.isIP(id) !== 0) ||
      (p.kind === 'host' && HOST.test(id)) ||
      (p.kind === 'email' && EMAIL.test(id)) ||
      (p.kind === 'phone' && PHONE.test(id)) ||
      (p.kind === 'uri' && URI.test(id)));
  if (!ok) throw new AuditInputError(`${what}: network access point is not a valid ${String(p?.kind)}`);
  return { kind: p.kind, id };
}

/** An address as a socket or a request gives it: an IP address, else a host name. */
export function networkAccessPoint(address: string): NetworkAccessPoint {
  const a = typeof address === 'string' ? address.replace(/^\[(.*)\]$/, '$1') : address;
  return networkAccessPointChecked({ kind: net.isIP(a) ? 'ip' : 'host', id: a }, 'address');
}

function text(value: string | undefined, what: string, max: number): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length === 0 || value.length > max) throw new AuditInputError(`${what} must be 1 to ${max} characters`);
  return value;
}

export function participantChecked(p: Participant, what: string): Participant {
  if (p === null || typeof p !== 'object') throw new AuditInputError(`${what} is missing`);
  if (typeof p.isRequestor !== 'boolean') throw new AuditInputError(`${what}: isRequestor must be true or false`);
  return {
    userId: text(p.userId, `${what}: userId`, 1024) as string,
    alternativeUserId: text(p.alternativeUserId, `${what}: alternativeUserId`, 1024),
    userName: text(p.userName, `${what}: userName`, 1024),
    isRequestor: p.isRequestor,
    networkAccessPoint: p.networkAccessPoint === undefined ? undefined : networkAccessPointChecked(p.networkAccessPoint, what),
  };
}

/** A DICOM peer: its AE title is the user ID and the AETITLES= alternative user ID (A.5.2.2). */
export function dimsePeer(opts: { aeTitle: string; address?: string; isRequestor: boolean }): Participant {
  if (typeof opts.aeTitle !== 'string' || !AE_TITLE.test(opts.aeTitle)) throw new AuditInputError('AE title must be 1 to 16 characters without backslash');
  const ae = opts.aeTitle.trim();
  return {
    userId: ae,
    alternativeUserId: `AETITLES=${ae}`,
    isRequestor: opts.isRequestor,
    networkAccessPoint: opts.address === undefined ? undefined : networkAccessPoint(opts.address),
  };
}

/** An HTTP client: the authenticated user when there is one, else its address. */
export function httpClient(opts: { user?: string; address: string; isRequestor?: boolean }): Participant {
  const nap = networkAccessPoint(opts.address);
  return { userId: opts.user ?? nap.id, isRequestor: opts.isRequestor ?? true, networkAccessPoint: nap };
}
