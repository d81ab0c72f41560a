/**
 * The service classes this SCP implements, the role each needs, and how a presentation context
 * is judged against a principal's roles at association time.
 *
 * Roles: Storage (the peer sends instances) needs `ingest`; Query/Retrieve FIND, MOVE and GET
 * need `read`; Verification is open to any accepted association. A storage context a C-GET SCU
 * proposes to receive its instances on (SCP role only, PS3.7 D.3.3.4) is a read, not an ingest.
 */
import type { Principal, Role } from '../auth/principal';

export type Service = 'verification' | 'storage' | 'find' | 'move' | 'get';

export const VERIFICATION = '1.2.840.10008.1.1';

const QUERY_RETRIEVE: Record<string, Service> = {
  '1.2.840.10008.5.1.4.1.2.1.1': 'find', // Patient Root
  '1.2.840.10008.5.1.4.1.2.1.2': 'move',
  '1.2.840.10008.5.1.4.1.2.1.3': 'get',
  '1.2.840.10008.5.1.4.1.2.2.1': 'find', // Study Root
  '1.2.840.10008.5.1.4.1.2.2.2': 'move',
  '1.2.840.10008.5.1.4.1.2.2.3': 'get',
};

/** Storage SOP classes: every standard one (1.2.840.10008.5.1.4.1.1.*) and any private class. */
function isStorageClass(uid: string): boolean {
  return uid.startsWith('1.2.840.10008.5.1.4.1.1.') || !uid.startsWith('1.2.840.10008.');
}

/** The service an abstract syntax belongs to, or undefined when this SCP does not offer it. */
export function serviceOf(abstractSyntaxUid: string): Service | undefined {
  if (abstractSyntaxUid === VERIFICATION) return 'verification';
  return QUERY_RETRIEVE[abstractSyntaxUid] ?? (isStorageClass(abstractSyntaxUid) ? 'storage' : undefined);
}

/** The role a request of the service needs; undefined: any accepted association may use it. */
export const ROLE_FOR: Record<Service, Role | undefined> = {
  verification: undefined,
  storage: 'ingest',
  find: 'read',
  move: 'read',
  get: 'read',
};

export function mayUse(principal: Principal, service: Service): boolean {
  const role = ROLE_FOR[service];
  return role === undefined || principal.roles.has(role);
}

/**
 * A context's SCU/SCP role selection as proposed (PS3.7 D.3.3.4): undefined when the peer sent
 * none, which means the default (the requestor is the SCU).
 */
export interface ProposedRoles {
  userRole?: boolean;
  providerRole?: boolean;
}

/**
 * How a proposed context is answered for a principal: refused, or accepted with the roles to
 * put in the A-ASSOCIATE-AC's role selection (only for a storage context that proposed one).
 *
 * On a storage context the peer may send (SCU role: needs `ingest`) or receive (SCP role, for
 * C-GET: needs `read`). A role the principal lacks is answered 0 ("not accepted") when the
 * other one stays, so a read-only C-GET SCU that proposed both roles still receives but can
 * never C-STORE on that context.
 */
export function judgeContext(
  principal: Principal,
  service: Service,
  proposed: ProposedRoles,
): { accept: false } | { accept: true; roles?: { userRole: boolean; providerRole: boolean } } {
  if (service !== 'storage') return { accept: mayUse(principal, service) };
  const selected = proposed.userRole !== undefined || proposed.providerRole !== undefined;
  const peerSends = selected ? proposed.userRole === true : true;
  const peerReceives = selected && proposed.providerRole === true;
  const sends = peerSends && principal.roles.has('ingest');
  const receives = peerReceives && principal.roles.has('read');
  if (!sends && !receives) return { accept: false };
  return selected ? { accept: true, roles: { userRole: sends, providerRole: receives } } : { accept: true };
}

/**
 * The status of a request refused in its handler for want of a role (defence in depth: the
 * context was already refused at association, so a well-behaved SCU never gets here).
 *
 * PS3.7 lists 0124H "Refused: Not Authorized" (Annex C) among the general statuses of C-STORE
 * (9.1.1), so C-STORE gets 0124H, as ingest's 'forbidden' does. The general statuses of C-FIND,
 * C-GET and C-MOVE (9.1.2 to 9.1.4) are only Success, Refused: SOP Class Not Supported (0122H)
 * and Cancel, and the Query/Retrieve statuses of PS3.4 (C.4.1 to C.4.3: A700, A701, A702, A801,
 * A900, B000, C000-CFFF) have no "not authorized" either: a cause of the SCP's own goes in
 * "Failed: Unable to process", C000-CFFF as assigned by the implementation. C124H is that
 * range's code for it, named after 0124H, with the error comment saying it.
 */
export const NOT_AUTHORIZED = {
  store: { status: 0x0124, comment: 'not authorized' },
  query: { status: 0xc124, comment: 'not authorized' },
} as const;
