/**
 * Authentication and authorisation settings: the mode (`AUTH`: off, keys, oidc, or keys,oidc),
 * the OIDC issuer, the roles and projects of DIMSE callers, the rules that put studies into
 * projects at ingest, and the proxies whose Forwarded headers are believed.
 */
import { FieldTest, validateSignature } from '../dicom/field-match';
import { Role, parseProjects, parseRoles } from './principal';

export interface OidcConfig {
  issuer: string;
  audience: string;
  /** Where the signing keys are; by default from the issuer's discovery document. */
  jwksUri?: string;
  /** Claim paths (dots for nesting) holding the roles and projects. */
  rolesClaim: string;
  projectsClaim: string;
  clockToleranceSeconds: number;
  /** The public client the built-in viewer signs in with (Authorization Code flow with PKCE). */
  clientId?: string;
}

/** What a calling AE title (optionally from one host) may do. */
export interface AeGrant {
  roles: Role[];
  projects: string[];
  /** 'required': the association must also carry a user identity (an API key or a JWT) that verifies. */
  identity?: 'required';
}

/** Studies whose first instance matches `match` also belong to `projects`. */
export interface ProjectRule {
  match: Record<string, FieldTest>;
  projects: string[];
}

export interface AuthConfig {
  keys: boolean;
  oidc?: OidcConfig;
  /** AUTH=off was given explicitly (required off loopback). */
  offExplicit: boolean;
  /** "AE" or "AE@host" → grant. With auth on, an AE not listed is rejected at association. */
  dimseCallers: Record<string, AeGrant>;
  projectRules: ProjectRule[];
  /** Addresses (exact, or IPv4 CIDR) of reverse proxies whose Forwarded / X-Forwarded-* headers count. */
  trustProxy: string[];
  /** Failed authentications one client address may make per minute before it gets 429. */
  failuresPerMinute: number;
}

export function authEnabled(a: AuthConfig): boolean {
  return a.keys || !!a.oidc;
}

function fail(message: string): never {
  throw new Error(`configuration: ${message}`);
}

interface AuthFile {
  mode?: string;
  oidc?: Partial<OidcConfig>;
  dimseCallers?: Record<string, unknown>;
  projectRules?: unknown[];
  trustProxy?: string[] | string;
  failuresPerMinute?: number;
}

function oidcConfig(file: Partial<OidcConfig> | undefined, env: NodeJS.ProcessEnv): OidcConfig {
  const o = { rolesClaim: 'roles', projectsClaim: 'projects', clockToleranceSeconds: 30, ...(file ?? {}) } as OidcConfig;
  if (env.OIDC_ISSUER) o.issuer = env.OIDC_ISSUER;
  if (env.OIDC_AUDIENCE) o.audience = env.OIDC_AUDIENCE;
  if (env.OIDC_JWKS_URI) o.jwksUri = env.OIDC_JWKS_URI;
  if (env.OIDC_ROLES_CLAIM) o.rolesClaim = env.OIDC_ROLES_CLAIM;
  if (env.OIDC_PROJECTS_CLAIM) o.projectsClaim = env.OIDC_PROJECTS_CLAIM;
  if (env.OIDC_CLIENT_ID) o.clientId = env.OIDC_CLIENT_ID;
  if (typeof o.issuer !== 'string' || !/^https?:\/\//.test(o.issuer)) fail('AUTH=oidc needs OIDC_ISSUER, an http(s) URL');
  if (typeof o.audience !== 'string' || !o.audience) fail('AUTH=oidc needs OIDC_AUDIENCE');
  if (!Number.isInteger(o.clockToleranceSeconds) || o.clockToleranceSeconds < 0 || o.clockToleranceSeconds > 300) fail('oidc.clockToleranceSeconds must be 0 to 300');
  return o;
}

const AE = /^[\x20-\x5b\x5d-\x7e]{1,16}$/;

function dimseCallers(raw: Record<string, unknown> | undefined): Record<string, AeGrant> {
  const out: Record<string, AeGrant> = {};
  for (const [key, grant] of Object.entries(raw ?? {})) {
    const [ae] = key.split('@');
    if (!AE.test(ae)) fail(`auth.dimseCallers: "${key}" is not an AE title (optionally AE@host)`);
    const g = grant as Record<string, unknown>;
    out[key] = { roles: parseRoles(g?.roles, `configuration: auth.dimseCallers.${key}`), projects: parseProjects(g?.projects, `configuration: auth.dimseCallers.${key}`) };
    if (g?.identity !== undefined) {
      if (g.identity !== 'required') fail(`auth.dimseCallers.${key}.identity must be "required" when given`);
      out[key].identity = 'required';
    }
  }
  return out;
}

function projectRules(raw: unknown[] | undefined): ProjectRule[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) fail('auth.projectRules must be a list');
  return raw.map((r, i) => {
    const rule = r as Record<string, unknown>;
    return { match: validateSignature(rule?.match, `auth.projectRules[${i}].match`), projects: parseProjects(rule?.projects, `configuration: auth.projectRules[${i}]`) };
  });
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost', '::ffff:127.0.0.1']);

export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || /^127\./.test(host);
}

export function loadAuthConfig(file: AuthFile | undefined, env: NodeJS.ProcessEnv, host: string): AuthConfig {
  const modeText = (env.AUTH ?? file?.mode ?? '').trim().toLowerCase();
  const modes = new Set(modeText.split(',').map((s) => s.trim()).filter(Boolean));
  for (const m of modes) if (!['off', 'keys', 'oidc'].includes(m)) fail(`AUTH must be off, keys, oidc or keys,oidc (got "${m}")`);
  if (modes.has('off') && modes.size > 1) fail('AUTH=off cannot be combined with another mode');
  const keys = modes.has('keys');
  const oidc = modes.has('oidc') ? oidcConfig(file?.oidc, env) : undefined;
  const offExplicit = modes.has('off');
  if (!keys && !oidc && !offExplicit && !isLoopback(host)) {
    fail(`HOST ${host} is not loopback: turn authentication on (AUTH=keys or AUTH=oidc), or set AUTH=off to serve everyone on the network without it`);
  }
  const trust = env.TRUST_PROXY ?? file?.trustProxy ?? [];
  const trustProxy = (Array.isArray(trust) ? trust : trust.split(',')).map((s) => s.trim()).filter(Boolean);
  for (const t of trustProxy) if (!/^[0-9a-fA-F.:]+(\/\d{1,3})?$/.test(t)) fail(`TRUST_PROXY: "${t}" is not an address or an address/prefix`);
  const failuresPerMinute = file?.failuresPerMinute ?? 10;
  if (!Number.isInteger(failuresPerMinute) || failuresPerMinute < 1) fail('auth.failuresPerMinute must be a positive integer');
  return { keys, oidc, offExplicit, dimseCallers: dimseCallers(file?.dimseCallers), projectRules: projectRules(file?.projectRules), trustProxy, failuresPerMinute };
}
