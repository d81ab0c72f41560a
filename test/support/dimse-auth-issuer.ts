/**
 * A minimal OIDC issuer for tests of JWT user identity: an RSA key pair made at start, its
 * public JWK served at /jwks on 127.0.0.1, and tokens signed with it (or with a key nobody
 * publishes, to be refused).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';

export interface TestIssuer {
  issuer: string;
  audience: string;
  jwksUri: string;
  /** A token for `sub` with these claims, valid for ten minutes; `forged` signs it with an unpublished key. */
  token(sub: string, claims: Record<string, unknown>, opts?: { forged?: boolean }): Promise<string>;
  close(): Promise<void>;
}

export async function startTestIssuer(audience = 'veilgate'): Promise<TestIssuer> {
  const real = await generateKeyPair('RS256');
  const other = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(real.publicKey)), kid: 'test-key', alg: 'RS256', use: 'sig' };
  const server = http.createServer((req, res) => {
    if (req.url === '/jwks') {
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ keys: [jwk] }));
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    issuer,
    audience,
    jwksUri: `${issuer}/jwks`,
    token: (sub, claims, opts = {}) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid: 'test-key' })
        .setSubject(sub)
        .setIssuer(issuer)
        .setAudience(audience)
        .setIssuedAt()
        .setExpirationTime('10m')
        .sign(opts.forged ? other.privateKey : real.privateKey),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
