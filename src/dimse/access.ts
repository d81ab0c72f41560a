/**
 * Access control at A-ASSOCIATE-RQ: the association's principal, or the A-ASSOCIATE-RJ to send.
 *
 * Auth off: DIMSE_ALLOWED_AE decides (none off loopback unless set), and the principal is the
 * local one. Auth on: the calling AE (from its host, or from anywhere) must be listed in
 * auth.dimseCallers; its grant is the principal, or, when the association carries a user
 * identity that verifies, the user's principal narrowed to the grant.
 */
import { constants } from 'dcmjs-dimse';
import type { Config } from '../config';
import { authEnabled } from '../auth/config';
import type { Authenticator } from '../auth/middleware';
import { LOCAL_PRINCIPAL, Principal } from '../auth/principal';
import { callerAllowed, effectiveAllowedCallers, grantFor } from './callers';
import { DimseEvents, DimsePeer, RejectionReason, emit } from './events';
import { ProposedIdentity, aePrincipal, verifyIdentity } from './identity';

const { RejectResult, RejectSource, RejectReason } = constants;

/** The A-ASSOCIATE-RJ fields (PS3.8 Table 9-21) for each reason. */
export const REJECTION: Record<RejectionReason, { result: number; source: number; reason: number }> = {
  'calling-ae-not-allowed': { result: RejectResult.Permanent, source: RejectSource.ServiceUser, reason: RejectReason.CallingAeNotRecognized },
  'called-ae-not-ours': { result: RejectResult.Permanent, source: RejectSource.ServiceUser, reason: RejectReason.CalledAeNotRecognized },
  // An identity problem says no more than "no reason given": not whether the key exists.
  'identity-required': { result: RejectResult.Permanent, source: RejectSource.ServiceUser, reason: RejectReason.NoReasonGiven },
  'identity-invalid': { result: RejectResult.Permanent, source: RejectSource.ServiceUser, reason: RejectReason.NoReasonGiven },
  // Transient: the same credential may be tried again once the address's failures have aged out.
  'identity-rate-limited': { result: RejectResult.Transient, source: RejectSource.ServiceUser, reason: RejectReason.NoReasonGiven },
  'too-many-associations': { result: RejectResult.Transient, source: RejectSource.ServiceProviderPresentation, reason: RejectReason.LocalLimitExceeded },
  'too-many-associations-for-ae': { result: RejectResult.Transient, source: RejectSource.ServiceProviderPresentation, reason: RejectReason.LocalLimitExceeded },
};

export interface AssociationRequest extends DimsePeer {
  calledAe: string;
  identity?: ProposedIdentity;
}

export type Admission =
  | {
      ok: true;
      principal: Principal;
      /** Set when a user identity verified and the SCU asked for a positive response. */
      identityResponse: boolean;
    }
  | { ok: false; reason: RejectionReason };

export async function admitAssociation(
  request: AssociationRequest,
  deps: { config: Config; authenticator?: Authenticator; events?: DimseEvents },
): Promise<Admission> {
  const { config } = deps;
  const peer: DimsePeer = { callingAe: request.callingAe, host: request.host };
  if (!authEnabled(config.auth)) {
    if (!callerAllowed(effectiveAllowedCallers(config.dimse, config.host), request.callingAe, request.host)) return { ok: false, reason: 'calling-ae-not-allowed' };
    if (request.calledAe !== config.dimse.aeTitle) return { ok: false, reason: 'called-ae-not-ours' };
    return { ok: true, principal: LOCAL_PRINCIPAL, identityResponse: false };
  }
  const grant = grantFor(config.auth.dimseCallers, request.callingAe, request.host);
  if (!grant) return { ok: false, reason: 'calling-ae-not-allowed' };
  if (request.calledAe !== config.dimse.aeTitle) return { ok: false, reason: 'called-ae-not-ours' };
  const outcome = await verifyIdentity(request.identity, grant, request.host, deps.authenticator);
  switch (outcome.kind) {
    case 'none':
      return { ok: true, principal: aePrincipal(request.callingAe, grant), identityResponse: false };
    case 'required':
      return { ok: false, reason: 'identity-required' };
    case 'verified':
      emit(deps.events, 'userAuthenticated', { ...peer, outcome: 'success', identityType: outcome.identityType, principalId: outcome.principal.id });
      return { ok: true, principal: outcome.principal, identityResponse: request.identity?.positiveResponseRequested === true };
    case 'invalid':
      emit(deps.events, 'userAuthenticated', { ...peer, outcome: 'failure', identityType: outcome.identityType });
      return { ok: false, reason: 'identity-invalid' };
    case 'limited':
      emit(deps.events, 'userAuthenticated', { ...peer, outcome: 'failure', identityType: outcome.identityType });
      return { ok: false, reason: 'identity-rate-limited' };
  }
}
