/**
 * AUTH=oidc against a real issuer on loopback: a discovery document and a JWKS served over HTTP,
 * tokens signed with jose. The gateway verifies signature, issuer, audience, exp and nbf (with
 * its clock skew), reads roles and projects from configurable (nested) claims, and hands the
 * viewer OHIF's oidc block. AUTH=keys,oidc takes both.
 */
import http from 'node:http';
import { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair, JWK } from 'jose';
import { loadAuthConfig } from '../../src/auth/config';
import { startTestGateway, TestGateway } from '../support/gateway';
import { syntheticInstance } from '../../src/synthetic/instances';

jest.setTimeout(60_000);

interface Issuer {
  url: string;
  sign(claims: Record<string, unknown>, options?: { expiresIn?: string | number; notBefore?: string | number; issuer?: string; audience?: string; key?: 'own' | 'stranger' }): Promise<string>;
  close(): Promise<void>;
}

async function startIssuer(): Promise<Issuer> {
  const own = await generateKeyPair('RS256');
  const stranger = await generateKeyPair('RS256');
  const jwk: JWK = { ...(await exportJWK(own.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  const server = http.createServer((req, res) => {
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    if (req.url === '/.well-known/openid-configuration') {
      res.setHeader('Content-Type', 'application/json');
      return res.end(JSON.stringify({ issuer: base, jwks_uri: `${base}/jwks`, authorization_endpoint: `${base}/auth`, token_endpoint: `${base}/token` }));
    }
    if (req.url === '/jwks') {
      res.setHeader('Content-Type', 'application/json');
      return res.end(JSON.stringify({ keys: [jwk] }));
    }
    res.statusCode = 404;
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    sign: (claims, o = {}) => {
      let jwt = new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
        .setIssuer(o.issuer ?? url)
        .setAudience(o.audience ?? 'veilgate')
        .setSubject('user-7f3a')
        .setIssuedAt()
        .setExpirationTime(o.expiresIn ?? '5m');
      if (o.notBefore !== undefined) jwt = jwt.setNotBefore(o.notBefore);
      return jwt.sign(o.key === 'stranger' ? stranger.privateKey : own.privateKey);
    },
    close: () => new Promise((r) => server.close(() => r())),
  };
}

describe('AUTH=oidc', () => {
  let issuer: Issuer;
  let gw: TestGateway;
  let origin: string;

  beforeAll(async () => {
    issuer = await startIssuer();
    const env = { OIDC_ISSUER: issuer.url, OIDC_AUDIENCE: 'veilgate', OIDC_ROLES_CLAIM: 'realm_access.roles', OIDC_CLIENT_ID: 'veilgate-viewer' };
    gw = await startTestGateway({ auth: loadAuthConfig({ mode: 'keys,oidc', failuresPerMinute: 1000 }, env, '127.0.0.1') });
    origin = gw.url.replace(/\/dicom-web$/, '');
    const { key } = await gw.gateway.keys.add('sender', ['ingest'], ['lung']);
    const inst = syntheticInstance({ rows: 8, columns: 8 });
    const stow = await fetch(`${gw.url}/studies`, { method: 'POST', headers: { 'Content-Type': 'application/dicom', Authorization: `Bearer ${key}` }, body: inst.bytes });
    expect(stow.status).toBe(200);
  });
  afterAll(async () => {
    await gw?.close();
    await issuer?.close();
  });

  const studies = (token: string) => fetch(`${gw.url}/studies`, { headers: { Authorization: `Bearer ${token}` } });

  test('a valid token reads its projects; roles come from a nested claim', async () => {
    const lung = await studies(await issuer.sign({ realm_access: { roles: ['read', 'offline_access'] }, projects: ['lung'] }));
    expect(lung.status).toBe(200);
    expect((await lung.json()) as unknown[]).toHaveLength(1);
    const other = await studies(await issuer.sign({ realm_access: { roles: ['read'] }, projects: ['cardio'] }));
    expect(other.status).toBe(200);
    expect(await other.json()).toEqual([]);
    // A token without the role is refused (403), and the role in the wrong claim does not count.
    expect((await studies(await issuer.sign({ realm_access: { roles: ['ingest'] }, projects: ['lung'] }))).status).toBe(403);
    expect((await studies(await issuer.sign({ roles: ['read'], projects: ['lung'] }))).status).toBe(403);
    // "*" in a token's projects grants nothing: every project comes only from a key or the config.
    const star = await studies(await issuer.sign({ realm_access: { roles: ['read'] }, projects: ['*'] }));
    expect(await star.json()).toEqual([]);
  });

  test('signature, issuer, audience, exp and nbf are all checked (nbf and exp with the clock skew)', async () => {
    const claims = { realm_access: { roles: ['read'] }, projects: ['lung'] };
    const now = Math.floor(Date.now() / 1000);
    const cases: [string, Promise<string>, number][] = [
      ['signed by another key', issuer.sign(claims, { key: 'stranger' }), 401],
      ['another issuer', issuer.sign(claims, { issuer: 'http://evil.example' }), 401],
      ['another audience', issuer.sign(claims, { audience: 'someone-else' }), 401],
      ['expired a minute ago', issuer.sign(claims, { expiresIn: now - 60 }), 401],
      ['expired within the skew', issuer.sign(claims, { expiresIn: now - 5 }), 200],
      ['not valid for another minute', issuer.sign(claims, { notBefore: now + 60 }), 401],
      ['valid within the skew', issuer.sign(claims, { notBefore: now + 5 }), 200],
    ];
    for (const [what, token, status] of cases) expect([what, (await studies(await token)).status]).toEqual([what, status]);
    // Not a JWT at all, and a tampered payload.
    expect((await studies('not.a.jwt')).status).toBe(401);
    const good = await issuer.sign(claims);
    const [h, , sig] = good.split('.');
    const forged = Buffer.from(JSON.stringify({ ...claims, realm_access: { roles: ['read', 'admin'] }, iss: issuer.url, aud: 'veilgate', sub: 'x', exp: now + 600 })).toString('base64url');
    expect((await studies(`${h}.${forged}.${sig}`)).status).toBe(401);
  });

  test('API keys work beside tokens (AUTH=keys,oidc)', async () => {
    const { key } = await gw.gateway.keys.add('reader', ['read'], ['lung']);
    expect((await studies(key)).status).toBe(200);
    expect((await studies(`${key.slice(0, -2)}xx`)).status).toBe(401);
  });

  test('the viewer is configured to sign in at the issuer with the Authorization Code flow (PKCE)', async () => {
    const page = await fetch(`${origin}/viewer/`);
    expect(page.status).toBe(200); // the sign-in starts here
    const script = await (await fetch(`${origin}/viewer/app-config.js`)).text();
    const config = new Function('window', `${script}; return window.config;`)({}) as { oidc: Record<string, unknown>[] };
    expect(config.oidc).toHaveLength(1);
    expect(config.oidc[0]).toMatchObject({ authority: issuer.url, client_id: 'veilgate-viewer', response_type: 'code', redirect_uri: '/callback' });
    // The data it then reads is guarded like any client's.
    expect((await fetch(`${gw.url}/studies`)).status).toBe(401);
  });
});
