/**
 * Authentication as one middleware over a typed request context: every request leaves it with
 * a principal (or none), and every route then states the role it needs (`requireRole`). A
 * credential is an `Authorization: Bearer` API key or OIDC access token; for reads from the
 * built-in viewer, the same token in an HttpOnly cookie the viewer's entry page set. Failed
 * attempts are limited per client address.
 */
import { createHash } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import { RETRY_AFTER_SECONDS, VeilgateError } from '../errors';
import { log } from '../log';
import type { AuthConfig } from './config';
import { authEnabled } from './config';
import { KeyStore, looksLikeKey } from './keys';
import { OidcVerifier } from './oidc';
import { LOCAL_PRINCIPAL, Principal, Role } from './principal';
import { ProxyTrust } from './proxy';
import { GatewayAudit, httpCaller, routeTemplate } from '../audit/gateway-audit';

declare module 'express-serve-static-core' {
  interface Request {
    /** Who is asking; set by the authentication middleware, undefined without a credential. */
    principal?: Principal;
  }
}

/** The viewer's credential, for the reads its page makes without an Authorization header. */
export const TOKEN_COOKIE = 'veilgate_token';

export interface AuthEvents {
  /** A credential was accepted (once per principal and client an hour) or refused. */
  authenticated?(outcome: 'success' | 'failure', principalId: string | undefined, address: string): void;
}

export class Authenticator {
  private readonly oidc?: OidcVerifier;
  private readonly failures: RateLimiterMemory;
  private readonly recent = new Map<string, number>();
  /** Hashes of credentials that verified lately: they still pass while their address is limited. */
  private readonly known = new Map<string, number>();
  private readonly proxies: ProxyTrust;

  constructor(
    readonly config: AuthConfig,
    private readonly keys: KeyStore,
    private readonly events: AuthEvents = {},
  ) {
    if (config.oidc) this.oidc = new OidcVerifier(config.oidc);
    this.proxies = new ProxyTrust(config.trustProxy);
    this.failures = new RateLimiterMemory({ points: config.failuresPerMinute, duration: 60 });
  }

  get enabled(): boolean {
    return authEnabled(this.config);
  }

  /** The principal a token stands for; throws `unauthenticated` when it does not verify. */
  async verify(token: string): Promise<Principal> {
    if (this.config.keys && looksLikeKey(token)) {
      const p = await this.keys.verify(token);
      if (p) {
        this.remember(token);
        return p;
      }
    } else if (this.oidc && token.split('.').length === 3) {
      try {
        const p = await this.oidc.verify(token);
        this.remember(token);
        return p;
      } catch {
        /* refused below, the same way as a bad key */
      }
    }
    throw new VeilgateError('unauthenticated', 'the credential is not valid');
  }

  /** A credential that failed: counted against the client's address; true when the address is now limited. */
  async failed(address: string): Promise<boolean> {
    this.events.authenticated?.('failure', undefined, address);
    try {
      await this.failures.consume(address);
      return false;
    } catch {
      return true;
    }
  }

  async limited(address: string): Promise<boolean> {
    const state = await this.failures.get(address);
    return !!state && state.consumedPoints >= this.config.failuresPerMinute;
  }

  /**
   * Whether a credential may be tried from this address now: always, unless the address made too
   * many failures this minute; then only a credential that verified in the last hour. So a
   * guesser is stopped, and a NAT or proxy neighbour of the guesser who was already working is not.
   */
  async mayTry(token: string, address: string): Promise<boolean> {
    if (!(await this.limited(address))) return true;
    const until = this.known.get(fingerprintOf(token));
    return until !== undefined && until > Date.now();
  }

  /** A credential that just verified (for mayTry). */
  private remember(token: string): void {
    if (this.known.size > 10_000) this.known.clear();
    this.known.set(fingerprintOf(token), Date.now() + 3_600_000);
  }

  succeeded(p: Principal, address: string): void {
    const key = `${p.id}|${address}`;
    const last = this.recent.get(key) ?? 0;
    if (Date.now() - last < 3_600_000) return;
    if (this.recent.size > 10_000) this.recent.clear();
    this.recent.set(key, Date.now());
    this.events.authenticated?.('success', p.id, address);
  }

  /** The client's address, for counting its failures (behind a trusted proxy, the proxy's client). */
  clientAddress(req: Request): string {
    return this.proxies.clientAddress(req);
  }

  /**
   * A token presented by a request: its principal, or undefined when it does not verify (counted
   * against the client's address) or the address is limited.
   */
  async verifyFrom(token: string, req: Request): Promise<Principal | undefined> {
    const address = this.clientAddress(req);
    if (!(await this.mayTry(token, address))) return undefined;
    try {
      const principal = await this.verify(token);
      this.succeeded(principal, address);
      return principal;
    } catch {
      await this.failed(address);
      log.warn('auth-failed', { address, route: req.originalUrl.split('?')[0].split('/').slice(0, 3).join('/') });
      return undefined;
    }
  }

  middleware() {
    return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
      if (!this.enabled) {
        req.principal = LOCAL_PRINCIPAL;
        return next();
      }
      const token = credentialOf(req);
      if (token === undefined) return next();
      if (!(await this.mayTry(token, this.clientAddress(req)))) return tooMany(res);
      const principal = token ? await this.verifyFrom(token, req) : undefined;
      if (principal) {
        req.principal = principal;
        return next();
      }
      if (!token) await this.failed(this.clientAddress(req)); // a malformed Authorization header
      if (await this.limited(this.clientAddress(req))) return tooMany(res);
      res.setHeader('WWW-Authenticate', 'Bearer error="invalid_token"');
      res.status(401).type('text/plain').send('the credential is not valid\n');
    };
  }
}

/** The client's address as the authenticator counts it (behind a trusted proxy, the proxy's client). */
function clientAddressOf(req: Request): string {
  const auth = req.app.locals.authenticator as Authenticator | undefined;
  return auth ? auth.clientAddress(req) : (req.socket.remoteAddress ?? '');
}

/** A credential as the known-credential cache holds it: never the credential itself. */
function fingerprintOf(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

function tooMany(res: Response): void {
  res.setHeader('Retry-After', String(RETRY_AFTER_SECONDS * 12));
  res.status(429).type('text/plain').send('too many failed authentications from this address: try again later\n');
}

/** The bearer token, or for a read, the viewer's cookie. */
function credentialOf(req: Request): string | undefined {
  const header = req.headers.authorization;
  if (header) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    return m ? m[1] : '';
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') return undefined; // a cookie never authorises a write
  const cookie = String(req.headers.cookie ?? '')
    .split(';')
    .map((c) => c.trim())
    .find((c) => c.startsWith(`${TOKEN_COOKIE}=`));
  if (!cookie) return undefined;
  try {
    return decodeURIComponent(cookie.slice(TOKEN_COOKIE.length + 1));
  } catch {
    return ''; // malformed: a credential that does not verify, counted like any other
  }
}

/** A guard's mark, read by the route-crawler test: the roles it admits, or why the route is public. */
export interface GuardMark {
  requiredRoles?: readonly Role[];
  publicBecause?: string;
}

/** The guard every route states: 401 without a credential, 403 without one of the roles. */
export function requireRole(...roles: Role[]) {
  const guard: ((req: Request, res: Response, next: NextFunction) => void) & GuardMark = (req, res, next) => {
    const p = req.principal;
    if (p && roles.some((r) => p.roles.has(r))) return next();
    if (!p) {
      auditRefused(req);
      res.setHeader('WWW-Authenticate', 'Bearer');
      return next(new VeilgateError('unauthenticated', 'a credential is needed: Authorization: Bearer <API key or access token>'));
    }
    next(refusal(req, `this needs the ${roles.join(' or ')} role`));
  };
  // Marked, so the route-crawler test can tell a guarded route from one added without a guard.
  guard.requiredRoles = roles;
  return guard;
}

/** Refused: a Security Alert names the route's template, never the path the client typed. */
function auditRefused(req: Request): void {
  (req.app.locals.audit as GatewayAudit | undefined)?.refused(httpCaller(req, clientAddressOf(req)), routeTemplate(req));
}

/**
 * A caller refused what it asked for (403), audited as requireRole's refusals are: for the checks
 * a route makes after its guard, once it knows what the request is about (requireOwnerOrAdmin).
 */
export function refusal(req: Request, message: string): VeilgateError {
  auditRefused(req);
  return new VeilgateError('forbidden', message);
}

/** A route open to anyone, saying why (health probes, the viewer's sign-in page). */
export function publicRoute(because: string) {
  const guard = (_req: Request, _res: Response, next: NextFunction): void => next();
  (guard as GuardMark).publicBecause = because;
  return guard;
}
