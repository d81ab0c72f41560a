/**
 * OIDC bearer tokens (AUTH=oidc): JWT access tokens verified with jose against the issuer's
 * JWKS (found through its discovery document unless OIDC_JWKS_URI is given): signature,
 * issuer, audience, exp and nbf with a small clock tolerance. Roles and projects come from
 * configurable claims (dots for nesting, as Keycloak's realm_access.roles).
 */
import { createRemoteJWKSet, jwtVerify, JWTPayload } from 'jose';
import type { OidcConfig } from './config';
import { ALL_PROJECTS, Principal, ROLES, Role, validProject } from './principal';

type KeySet = ReturnType<typeof createRemoteJWKSet>;

function claim(payload: JWTPayload, path: string): unknown {
  return path.split('.').reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), payload);
}

function strings(v: unknown): string[] {
  if (typeof v === 'string') return v.split(/[\s,]+/).filter(Boolean);
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

export class OidcVerifier {
  private keys?: Promise<KeySet>;

  constructor(private readonly config: OidcConfig) {}

  private keySet(): Promise<KeySet> {
    this.keys ??= (async () => {
      let uri = this.config.jwksUri;
      if (!uri) {
        const res = await fetch(`${this.config.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(5000) });
        if (!res.ok) throw new Error(`the issuer's discovery document answered ${res.status}`);
        uri = String(((await res.json()) as { jwks_uri?: string }).jwks_uri ?? '');
        if (!/^https?:\/\//.test(uri)) throw new Error('the discovery document names no jwks_uri');
      }
      return createRemoteJWKSet(new URL(uri), { timeoutDuration: 5000, cooldownDuration: 30_000, cacheMaxAge: 600_000 });
    })().catch((e) => {
      this.keys = undefined; // try discovery again on the next token
      throw e;
    });
    return this.keys;
  }

  /** The principal of a valid token; throws when it does not verify. */
  async verify(token: string): Promise<Principal> {
    const { payload } = await jwtVerify(token, await this.keySet(), {
      issuer: this.config.issuer,
      audience: this.config.audience,
      clockTolerance: this.config.clockToleranceSeconds,
      requiredClaims: ['exp', 'sub'],
    });
    // Roles the gateway does not know (an identity provider's defaults) are ignored; so are malformed projects.
    const roles = strings(claim(payload, this.config.rolesClaim)).filter((r): r is Role => ROLES.includes(r as Role));
    // "*" (every project) is never taken from a token: an attribute a user may edit must not grant it.
    const projects = strings(claim(payload, this.config.projectsClaim)).filter((p) => p !== ALL_PROJECTS && validProject(p));
    return { id: `oidc:${payload.sub}`, via: 'oidc', roles: new Set(roles), projects: new Set(projects) };
  }
}
