/**
 * What the DIMSE side tells the audit trail. Every field is safe to record: principal ids (a
 * key's name, a token's subject, an AE title), AE titles, peer addresses, attribute keywords,
 * pseudonymous UIDs and counts. Never a data set value, never a credential.
 *
 * The listener calls these synchronously and ignores what they throw (see `emit`), so a broken
 * audit sink cannot break an association.
 */
import { log } from '../log';

/** Who is on the other end of an association. */
export interface DimsePeer {
  /** This association, among all of this process (to tell the instances of one from another's). */
  association?: number;
  callingAe: string;
  /** The peer's address, IPv4-mapped prefix stripped. */
  host: string;
}

/** Why an association was rejected, as the audit trail names it (never the credential). */
export type RejectionReason =
  | 'calling-ae-not-allowed'
  | 'called-ae-not-ours'
  | 'identity-required'
  | 'identity-invalid'
  | 'identity-rate-limited'
  | 'too-many-associations'
  | 'too-many-associations-for-ae';

export interface DimseEvents {
  associationAccepted?(e: DimsePeer & { principalId: string; via: string; tls: boolean }): void;
  associationRejected?(e: DimsePeer & { reason: RejectionReason }): void;
  /** User identity negotiation (PS3.7 D.3.3.7): the identity type and, on success, whose it was. */
  userAuthenticated?(e: DimsePeer & { outcome: 'success' | 'failure'; identityType: number; principalId?: string }): void;
  /** A C-FIND: the level and the identifier's attribute keywords, never their values. */
  queried?(e: DimsePeer & { principalId: string; sopClassUid: string; level: string; keys: string[] }): void;
  /** A C-MOVE or C-GET about to send: to whom, and which (pseudonymous) studies. */
  retrieveBegun?(
    e: DimsePeer & {
      principalId: string;
      service: 'C-MOVE' | 'C-GET';
      destinationAe: string;
      studies: { studyUid: string; instances: number; sopClasses: Record<string, number> }[];
      instanceCount: number;
    },
  ): void;
  /** A C-STORE the ingest path accepted (stored, or a duplicate of what was stored). */
  instanceStored?(
    e: DimsePeer & { principalId: string; outcome: 'stored' | 'duplicate'; studyUid: string; seriesUid: string; sopInstanceUid: string; sopClassUid: string; patientId: string },
  ): void;
  /** An accepted association ended (released, aborted or dropped). */
  associationEnded?(e: DimsePeer & { principalId: string }): void;
}

/** Call one event handler; a handler that throws is logged, never allowed to reach the association. */
export function emit<K extends keyof DimseEvents>(events: DimseEvents | undefined, name: K, arg: Parameters<NonNullable<DimseEvents[K]>>[0]): void {
  const handler = events?.[name] as ((a: typeof arg) => void) | undefined;
  if (!handler) return;
  try {
    handler.call(events, arg);
  } catch (e) {
    log.error('dimse-event-failed', { event: name, error: (e as Error)?.name ?? 'error' });
  }
}
