/** What browser viewers need around DICOMweb: CORS, ETag and gzip, proxy-aware URLs, a service description, zip. */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { startTestGateway, TestGateway } from '../support/gateway';
import { syntheticInstance, randomUid } from '../../src/synthetic/instances';
import { loadAuthConfig } from '../../src/auth/config';

type Json = Record<string, { Value?: unknown[] }>;

describe('viewer plumbing', () => {
  let gw: TestGateway;
  let seriesUrl: string;
  const studyUID = randomUid();
  const seriesUID = randomUid();

  beforeAll(async () => {
    gw = await startTestGateway({ corsOrigins: ['http://viewer.example'] });
    for (let i = 1; i <= 3; i++) {
      const inst = syntheticInstance({ studyUID, seriesUID, instanceNumber: i, rows: 16, columns: 16 });
      await fetch(`${gw.url}/studies`, { method: 'POST', headers: { 'Content-Type': 'application/dicom' }, body: inst.bytes });
    }
    const [s] = (await (await fetch(`${gw.url}/series`)).json()) as Json[];
    seriesUrl = `${gw.url}/studies/${s['0020000D'].Value![0]}/series/${s['0020000E'].Value![0]}`;
  });
  afterAll(() => gw.close());

  test('CORS for allowed origins only, with preflight', async () => {
    const allowed = await fetch(`${gw.url}/studies`, { headers: { Origin: 'http://viewer.example' } });
    expect(allowed.headers.get('access-control-allow-origin')).toBe('http://viewer.example');
    expect(allowed.headers.get('access-control-expose-headers')).toMatch(/ETag/);
    const other = await fetch(`${gw.url}/studies`, { headers: { Origin: 'http://elsewhere.example' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    const preflight = await fetch(`${seriesUrl}/metadata`, {
      method: 'OPTIONS',
      headers: { Origin: 'http://viewer.example', 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'accept' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-methods')).toMatch(/GET/);
  });

  test('metadata: ETag answered with 304, gzip when accepted', async () => {
    const first = await fetch(`${seriesUrl}/metadata`, { headers: { 'Accept-Encoding': 'identity' } });
    const etag = first.headers.get('etag')!;
    const plain = await first.text();
    expect(etag).toMatch(/^"[\w-]+"$/);
    const again = await fetch(`${seriesUrl}/metadata`, { headers: { 'If-None-Match': etag } });
    expect(again.status).toBe(304);
    // Node's fetch decodes gzip itself: ask for the raw bytes with http.get instead.
    const raw = await new Promise<{ encoding?: string; body: Buffer }>((resolve) => {
      require('node:http').get(`${seriesUrl}/metadata`, { headers: { 'Accept-Encoding': 'gzip' } }, (res: import('node:http').IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ encoding: res.headers['content-encoding'], body: Buffer.concat(chunks) }));
      });
    });
    expect(raw.encoding).toBe('gzip');
    expect(gunzipSync(raw.body).toString()).toBe(plain);
  });

  test('a client that is not a trusted proxy cannot move the URLs the gateway builds', async () => {
    const headers = { Forwarded: 'for=10.0.0.1;proto=https;host=evil.example', 'X-Forwarded-Host': 'evil.example', 'X-Forwarded-Prefix': '/x' };
    const answer = (await (await fetch(`${gw.url}/studies`, { headers })).json()) as Json[];
    expect(String(answer[0]['00081190'].Value![0]).startsWith(`${gw.url}/studies/`)).toBe(true);
    const config = await (await fetch(`${gw.url.replace(/\/dicom-web$/, '')}/viewer/app-config.js`, { headers })).text();
    expect(config).not.toContain('evil.example');
  });

  test('behind a trusted proxy (TRUST_PROXY) URLs follow it, only well-formed ones, and answers vary with it', async () => {
    const proxied = await startTestGateway({ auth: loadAuthConfig({ trustProxy: ['127.0.0.1'] }, {}, '127.0.0.1') });
    try {
      const inst = syntheticInstance({ studyUID, seriesUID, instanceNumber: 1, rows: 16, columns: 16 });
      await fetch(`${proxied.url}/studies`, { method: 'POST', headers: { 'Content-Type': 'application/dicom' }, body: inst.bytes });
      const res = await fetch(`${proxied.url}/studies`, { headers: { Forwarded: 'for=10.0.0.1;proto=https;host=pacs.example.org', 'X-Forwarded-Prefix': '/gw' } });
      expect(res.headers.get('vary')).toMatch(/X-Forwarded-Host/);
      const viaProxy = (await res.json()) as Json[];
      expect(String(viaProxy[0]['00081190'].Value![0])).toMatch(/^https:\/\/pacs\.example\.org\/gw\/dicom-web\/studies\//);
      const xf = (await (await fetch(`${proxied.url}/studies`, { headers: { 'X-Forwarded-Proto': 'https', 'X-Forwarded-Host': 'gw.example.org:8443' } })).json()) as Json[];
      expect(String(xf[0]['00081190'].Value![0])).toMatch(/^https:\/\/gw\.example\.org:8443\/dicom-web\//);
      const forged = (await (await fetch(`${proxied.url}/studies`, { headers: { 'X-Forwarded-Host': 'evil.example/"><script>' } })).json()) as Json[];
      expect(String(forged[0]['00081190'].Value![0]).startsWith(proxied.url)).toBe(true);
    } finally {
      await proxied.close();
    }
  });

  test('the service describes itself at the DICOMweb root', async () => {
    const get = (await (await fetch(gw.url)).json()) as { resources: Record<string, unknown>; root: string };
    expect(Object.keys(get.resources)).toEqual(expect.arrayContaining(['store', 'search', 'retrieve', 'metadata', 'frames', 'bulkdata']));
    expect(get.root).toBe(gw.url);
    const options = await fetch(gw.url, { method: 'OPTIONS' });
    expect(options.status).toBe(200);
    expect(options.headers.get('allow')).toMatch(/GET/);
  });

  test('a series as application/zip: one entry per instance, the stored files', async () => {
    const res = await fetch(seriesUrl, { headers: { Accept: 'application/zip' } });
    expect(res.headers.get('content-type')).toBe('application/zip');
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'veilgate-zip-')), 'series.zip');
    fs.writeFileSync(file, Buffer.from(await res.arrayBuffer()));
    const py = spawnSync('/usr/bin/python3', ['-c', `import zipfile, pydicom, io, json; z = zipfile.ZipFile(${JSON.stringify(file)}); print(json.dumps([pydicom.dcmread(io.BytesIO(z.read(n))).InstanceNumber for n in z.namelist()]))`], { encoding: 'utf8' });
    expect(py.stderr).toBe('');
    expect((JSON.parse(py.stdout) as number[]).sort()).toEqual([1, 2, 3]);
  });
});
