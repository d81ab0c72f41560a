/**
 * User identity negotiation (PS3.7 D.3.3.7) on top of the calling AE's grant. dcmjs-dimse reads
 * the A-ASSOCIATE-RQ's User Identity sub-item (type, positive-response-requested, primary and
 * secondary fields) into the Association, and writes a User Identity server response sub-item
 * into the A-ASSOCIATE-AC when asked to.
 *
 * Type 2 (username and passcode): the passcode is an API key, the username only informational.
 * Type 5 (JWT): the primary field is the token. Either is verified like an HTTP credential. Type
 * 1 (a username alone) proves nothing, and Kerberos (3) and SAML (4) are not supported: they
 * count as no identity, so they satisfy no `identity: 'required'` grant.
 */
import type { AeGrant } from '../auth/config';
import type { Authenticator } from '../auth/middleware';
import { ALL_PROJECTS, Principal, Role } from '../auth/principal';

export const IdentityType = { Username: 1, UsernameAndPasscode: 2, Kerberos: 3, Saml: 4, Jwt: 5 } as const;

/** The User Identity sub-item as the association request carried it. */
export interface ProposedIdentity {
  type: number;
  primary: string;
  secondary: string;
  positiveResponseRequested: boolean;
}

/** The credential a proposed identity carries, or undefined when it carries none we verify. */
export function credentialOf(identity: ProposedIdentity | undefined): string | undefined {
  if (!identity) return undefined;
  if (identity.type === IdentityType.UsernameAndPasscode) return identity.secondary || undefined;
  if (identity.type === IdentityType.Jwt) return identity.primary || undefined;
  return undefined;
}

/** The AE's own principal: its grant, under its title. */
export function aePrincipal(aeTitle: string, grant: AeGrant): Principal {
  return { id: aeTitle, via: 'ae', roles: new Set(grant.roles), projects: new Set(grant.projects) };
}

/**
 * A user's principal on an AE: the roles and projects the AE's grant also has (a grant of every
 * project narrows nothing, and a user of every project gets the grant's). What is left may be
 * nothing: then no role is left either, since a principal without a project must not store
 * (ingest would put its studies in the default project).
 */
export function narrowToGrant(user: Principal, grant: AeGrant): Principal {
  const grantProjects = new Set(grant.projects);
  const projects = grantProjects.has(ALL_PROJECTS)
    ? new Set(user.projects)
    : user.projects.has(ALL_PROJECTS)
      ? grantProjects
      : new Set([...user.projects].filter((p) => grantProjects.has(p)));
  const roles = projects.size ? new Set<Role>([...user.roles].filter((r) => grant.roles.includes(r))) : new Set<Role>();
  return { id: user.id, via: user.via, roles, projects };
}

export type IdentityOutcome =
  /** No identity to verify (none given, or a kind that carries no credential), and none required. */
  | { kind: 'none' }
  | { kind: 'verified'; principal: Principal; identityType: number }
  /** An identity was required and none usable was given. */
  | { kind: 'required' }
  | { kind: 'invalid'; identityType: number }
  /** Too many failures from this address lately: not even tried. */
  | { kind: 'limited'; identityType: number };

/**
 * Verify a proposed identity for an association from `address`. A failure is counted against
 * the address (the same limiter as HTTP's), and an address already over the limit is refused
 * without verifying, so guessing keys over DIMSE is as slow as over HTTP.
 */
export async function verifyIdentity(
  identity: ProposedIdentity | undefined,
  grant: AeGrant,
  address: string,
  authenticator: Authenticator | undefined,
): Promise<IdentityOutcome> {
  const credential = credentialOf(identity);
  if (credential === undefined) return grant.identity === 'required' ? { kind: 'required' } : { kind: 'none' };
  const identityType = identity!.type;
  // Auth on but nothing to verify with (a caller that built DimseDeps by hand): refuse, never trust.
  if (!authenticator) return { kind: 'invalid', identityType };
  if (!(await authenticator.mayTry(credential, address))) return { kind: 'limited', identityType };
  try {
    const user = await authenticator.verify(credential);
    authenticator.succeeded(user, address);
    return { kind: 'verified', principal: narrowToGrant(user, grant), identityType };
  } catch {
    // This attempt failed whatever the count says now; the limit applies to the next ones.
    await authenticator.failed(address);
    return { kind: 'invalid', identityType };
  }
}
