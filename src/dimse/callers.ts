/**
 * Who may associate, decided from the calling AE title and the peer's address alone (before any
 * user identity): with auth off, DIMSE_ALLOWED_AE; with auth on, auth.dimseCallers, whose
 * grant gives the association its roles and projects.
 */
import type { AeGrant, AuthConfig } from '../auth/config';
import { authEnabled, isLoopback } from '../auth/config';
import type { DimseConfig } from '../config';

/** The peer address as configured entries name it: "::ffff:10.0.0.5" is 10.0.0.5. */
export function peerHost(address: string | undefined): string {
  return (address ?? '').replace(/^::ffff:/, '');
}

/**
 * The allowedCallers in force with auth off. Off loopback, the default '*' would open the port
 * to the whole network without anyone having said so: unless the setting was given, no AE.
 */
export function effectiveAllowedCallers(dimse: DimseConfig, host: string): string[] {
  return dimse.allowedCallersExplicit || isLoopback(host) ? dimse.allowedCallers : [];
}

/** With auth off: whether an entry of allowedCallers ("*", "AE", "AE@host") admits the caller. */
export function callerAllowed(allowed: readonly string[], aeTitle: string, host: string): boolean {
  return allowed.some((entry) => {
    if (entry === '*') return true;
    const at = entry.indexOf('@');
    const ae = at < 0 ? entry : entry.slice(0, at);
    return ae === aeTitle && (at < 0 || entry.slice(at + 1) === host);
  });
}

/**
 * With auth on: the grant for the caller, the host-specific entry ("AE@host") before the AE's own.
 * A calling AE title that itself holds an "@" is never granted: "PACS@10.9.9.9" sent as the AE
 * title from anywhere would otherwise match the entry bound to that host.
 */
export function grantFor(callers: AuthConfig['dimseCallers'], aeTitle: string, host: string): AeGrant | undefined {
  if (aeTitle.includes('@')) return undefined;
  return Object.prototype.hasOwnProperty.call(callers, `${aeTitle}@${host}`)
    ? callers[`${aeTitle}@${host}`]
    : Object.prototype.hasOwnProperty.call(callers, aeTitle)
      ? callers[aeTitle]
      : undefined;
}

/** What the listener says once at start about who may associate, or undefined when nothing needs saying. */
export function callerPolicyWarning(dimse: DimseConfig, auth: AuthConfig, host: string): { event: string; fields: Record<string, unknown> } | undefined {
  if (authEnabled(auth)) {
    if (Object.keys(auth.dimseCallers).length === 0) {
      return { event: 'dimse-no-callers', fields: { setting: 'auth.dimseCallers', why: 'authentication is on and no calling AE is listed: every association is rejected' } };
    }
    if (dimse.allowedCallersExplicit) {
      return { event: 'dimse-allowed-ae-ignored', fields: { setting: 'DIMSE_ALLOWED_AE', why: 'authentication is on: auth.dimseCallers decides which AEs may associate' } };
    }
    return undefined;
  }
  if (effectiveAllowedCallers(dimse, host).length === 0) {
    return {
      event: 'dimse-no-callers',
      fields: {
        setting: 'DIMSE_ALLOWED_AE',
        host,
        why: 'HOST is not loopback and DIMSE_ALLOWED_AE (dimse.allowedCallers) was not set: every association is rejected; list the calling AEs (AE or AE@host), or turn authentication on and list them in auth.dimseCallers',
      },
    };
  }
  return undefined;
}
