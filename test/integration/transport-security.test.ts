/**
 * The rest of the perimeter: HTTPS from TLS_CERT/TLS_KEY (checked by curl against a throw-away
 * CA made with openssl), the refusal to serve a network address without authentication, the
 * limit on failed authentications per address, the security headers, and the `veilgate keys`
 * command line as a user runs it.
 */
import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadAuthConfig } from '../../src/auth/config';
import { loadConfig } from '../../src/config';
import { startTestGateway } from '../support/gateway';

jest.setTimeout(120_000);

/** curl run asynchronously: the gateway it talks to runs in this process and must keep answering. */
function curl(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('curl', args, { encoding: 'utf8' }, (error, stdout, stderr) => resolve({ status: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
}

const CLI = path.resolve(__dirname, '../../dist/src/cli/main.js');

/** A CA and a server certificate for 127.0.0.1, made with openssl. */
function makeCertificates(dir: string): { ca: string; cert: string; key: string } {
  const run = (args: string[]) => {
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr}`);
  };
  run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=Veilgate test CA']);
  run(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1']);
  fs.writeFileSync(path.join(dir, 'san.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  run(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'san.cnf']);
  return { ca: path.join(dir, 'ca.pem'), cert: path.join(dir, 'server.pem'), key: path.join(dir, 'server.key') };
}

describe('transport and perimeter', () => {
  test('TLS_CERT/TLS_KEY serve HTTPS: curl verifies the certificate, URLs say https, HSTS is sent', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'veilgate-tls-'));
    const certs = makeCertificates(dir);
    const gw = await startTestGateway({ tls: { cert: certs.cert, key: certs.key } });
    try {
      expect(gw.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/dicom-web$/);
      const verified = await curl(['-sS', '-D', '-', '--cacert', certs.ca, `${gw.url}/studies`]);
      expect(verified.status).toBe(0);
      expect(verified.stdout).toMatch(/^HTTP\/1\.1 200/);
      expect(verified.stdout.toLowerCase()).toContain('strict-transport-security: max-age=31536000');
      // Without the CA the certificate is refused; plain HTTP on the port is not answered as HTTP.
      expect((await curl(['-sS', `${gw.url}/studies`])).status).not.toBe(0);
      const plain = await curl(['-sS', '-o', '/dev/null', '-w', '%{http_code}', gw.url.replace('https:', 'http:') + '/studies']);
      expect(plain.stdout).not.toBe('200');
    } finally {
      await gw.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a network address needs AUTH, or AUTH=off said out loud (then a warning at every start)', async () => {
    expect(() => loadConfig({ HOST: '0.0.0.0' })).toThrow(/not loopback: turn authentication on/);
    expect(() => loadConfig({ HOST: '10.1.2.3', AUTH: 'keys' })).not.toThrow();
    expect(() => loadConfig({ HOST: '0.0.0.0', AUTH: 'off' })).not.toThrow();
    expect(() => loadConfig({ HOST: '127.0.0.1' })).not.toThrow();
    expect(() => loadConfig({ AUTH: 'oidc' })).toThrow(/OIDC_ISSUER/);
    expect(() => loadConfig({ AUTH: 'password' })).toThrow(/AUTH must be/);
    const gw = await startTestGateway({ host: '0.0.0.0', auth: loadAuthConfig({ mode: 'off' }, {}, '0.0.0.0'), dimse: { ...loadConfig({}).dimse, enabled: false } });
    try {
      expect(gw.logLines.some((l) => /"auth-off"/.test(l) && /warn/.test(l))).toBe(true);
    } finally {
      await gw.close();
    }
  });

  test('failed authentications are limited per address: 429 with Retry-After, audited as failures', async () => {
    const gw = await startTestGateway({ auth: loadAuthConfig({ mode: 'keys', failuresPerMinute: 5 }, {}, '127.0.0.1') });
    try {
      const bad = 'vgk_00000000000000000000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
      const statuses: number[] = [];
      for (let i = 0; i < 8; i++) statuses.push((await fetch(`${gw.url}/studies`, { headers: { Authorization: `Bearer ${bad}` } })).status);
      expect(statuses.slice(0, 4)).toEqual([401, 401, 401, 401]);
      expect(statuses.slice(5)).toEqual([429, 429, 429]);
      const limited = await fetch(`${gw.url}/studies`, { headers: { Authorization: `Bearer ${bad}` } });
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
      // The failure log line names the address and route, never the credential.
      expect(gw.logLines.filter((l) => l.includes('auth-failed')).length).toBeGreaterThan(0);
      expect(gw.logLines.join('\n')).not.toContain(bad.slice(37));
    } finally {
      await gw.close();
    }
  });

  test('security headers fit DICOMweb: nosniff, no referrer, no framing; with auth, private and Vary', async () => {
    const gw = await startTestGateway({ auth: loadAuthConfig({ mode: 'keys' }, {}, '127.0.0.1') });
    try {
      const { key } = await gw.gateway.keys.add('reader', ['read'], ['*']);
      const res = await fetch(`${gw.url}/studies`, { headers: { Authorization: `Bearer ${key}` } });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
      expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
      expect(res.headers.get('cache-control')).toMatch(/private/);
      expect(res.headers.get('vary')).toMatch(/Authorization/);
      expect(res.headers.get('strict-transport-security')).toBeNull(); // plain HTTP: no HSTS
    } finally {
      await gw.close();
    }
  });

  test('veilgate keys add | list | revoke, as a user runs them: the key is shown once, works, and stops working', async () => {
    expect(fs.existsSync(CLI)).toBe(true); // npm test builds dist/ first
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'veilgate-keys-'));
    const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, 'keys', ...args], { env: { ...process.env, DATA_DIR: dataDir }, encoding: 'utf8' });
    try {
      const added = cli('add', 'alice', '--roles', 'read', '--projects', 'lung');
      expect(added.status).toBe(0);
      const key = added.stdout.split('\n')[0];
      expect(key).toMatch(/^vgk_[0-9a-f]{32}_[A-Za-z0-9_-]{43}$/);
      const listed = cli('list');
      expect(listed.stdout).toMatch(/alice\tread\tlung/);
      expect(listed.stdout).not.toContain(key.slice(37));
      expect(fs.readFileSync(path.join(dataDir, 'index.sqlite')).includes(Buffer.from(key.slice(37)))).toBe(false);
      expect(cli('add', 'bob', '--roles', 'superuser', '--projects', 'x').stderr).toMatch(/not a role/);

      const gw = await startTestGateway({ dataDir, auth: loadAuthConfig({ mode: 'keys' }, {}, '127.0.0.1') });
      try {
        expect((await fetch(`${gw.url}/studies`, { headers: { Authorization: `Bearer ${key}` } })).status).toBe(200);
        expect(cli('revoke', 'alice').status).toBe(0); // while the server runs
        expect((await fetch(`${gw.url}/studies`, { headers: { Authorization: `Bearer ${key}` } })).status).toBe(401);
        expect(cli('list').stdout).toMatch(/alice#revoked-[0-9a-f]{8}\tread\tlung\t\S+\t\S+/);
      } finally {
        await gw.close();
      }
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
