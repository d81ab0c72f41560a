/**
 * Series and study metadata served from the gzipped cache (src/dicomweb/metadata-response.ts):
 * the same JSON and ETag as before in either encoding, Accept-Encoding honoured (q-values), Vary,
 * 304s, a new version after every stored instance, and never across access scopes.
 */
import http from 'node:http';
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { startTestGateway, multipartBody, TestGateway } from '../support/gateway';
import { startAuthWorld, AuthWorld } from '../support/auth-world';
import { syntheticInstance, randomUid } from '../../src/synthetic/instances';
import { acceptsGzip } from '../../src/dicomweb/metadata-response';

interface Raw {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** A GET with exactly these headers (fetch would add Accept-Encoding and decompress on its own). */
function get(url: string, headers: Record<string, string>): Promise<Raw> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      })
      .on('error', reject);
  });
}

const etagOf = (json: string) => `"${createHash('sha1').update(json).digest('base64url')}"`;
const JSON_TYPE = 'application/dicom+json';

describe('metadata from the cache', () => {
  let gw: TestGateway;
  const original = { study: randomUid(), series: randomUid() };
  let seriesUrl = '';
  let studyUrl = '';

  const stow = async (instanceNumbers: number[], series = original.series) => {
    const parts = instanceNumbers.map((n) => syntheticInstance({ studyUID: original.study, seriesUID: series, instanceNumber: n, rows: 16, columns: 16 }).bytes);
    const { body, contentType } = multipartBody(parts);
    const res = await fetch(`${gw.url}/studies`, { method: 'POST', headers: { 'Content-Type': contentType, Accept: JSON_TYPE }, body });
    expect(res.status).toBe(200);
    return (await res.json()) as Record<string, { Value: Record<string, { Value: string[] }>[] }>;
  };

  beforeAll(async () => {
    gw = await startTestGateway();
    const answer = await stow([1, 2, 3]);
    const retrieve = answer['00081199'].Value[0]['00081190'].Value[0];
    seriesUrl = retrieve.replace(/\/instances\/[^/]+$/, '');
    studyUrl = seriesUrl.replace(/\/series\/[^/]+$/, '');
  });

  afterAll(async () => {
    await gw?.close();
  });

  test('gzip when accepted, identity otherwise: the same JSON, the same ETag, Vary: Accept-Encoding', async () => {
    const zipped = await get(`${seriesUrl}/metadata`, { Accept: JSON_TYPE, 'Accept-Encoding': 'gzip, deflate, br' });
    expect(zipped.status).toBe(200);
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(zipped.headers['content-type']).toMatch(/^application\/dicom\+json/);
    expect(zipped.headers.vary).toMatch(/Accept-Encoding/i);
    const json = gunzipSync(zipped.body).toString();
    const docs = JSON.parse(json) as Record<string, { Value?: unknown[]; BulkDataURI?: string }>[];
    expect(docs.map((d) => d['00200013'].Value![0])).toEqual([1, 2, 3]);
    // BulkDataURIs resolved against this request's base URL.
    expect(docs[0]['7FE00010'].BulkDataURI).toMatch(new RegExp(`^${gw.url}/studies/`));
    expect(zipped.headers.etag).toBe(etagOf(json));

    for (const encoding of [undefined, 'identity', 'gzip;q=0', 'br', 'gzip;q=0, *;q=1']) {
      const plain = await get(`${seriesUrl}/metadata`, { Accept: JSON_TYPE, ...(encoding === undefined ? {} : { 'Accept-Encoding': encoding }) });
      expect({ encoding, status: plain.status, coding: plain.headers['content-encoding'] }).toEqual({ encoding, status: 200, coding: undefined });
      expect(plain.body.toString()).toBe(json);
      expect(plain.headers.etag).toBe(zipped.headers.etag);
      expect(plain.headers.vary).toMatch(/Accept-Encoding/i);
    }
    for (const encoding of ['*', 'x-gzip', 'GZIP;q=0.5', 'identity;q=0.1, gzip']) {
      const z = await get(`${seriesUrl}/metadata`, { Accept: JSON_TYPE, 'Accept-Encoding': encoding });
      expect({ encoding, coding: z.headers['content-encoding'] }).toEqual({ encoding, coding: 'gzip' });
    }
  });

  test('If-None-Match with the ETag is a 304 in either encoding', async () => {
    const first = await get(`${seriesUrl}/metadata`, { Accept: JSON_TYPE, 'Accept-Encoding': 'gzip' });
    for (const encoding of ['gzip', 'identity']) {
      const again = await get(`${seriesUrl}/metadata`, { Accept: JSON_TYPE, 'Accept-Encoding': encoding, 'If-None-Match': String(first.headers.etag) });
      expect(again.status).toBe(304);
      expect(again.body.length).toBe(0);
      expect(again.headers.vary).toMatch(/Accept-Encoding/i);
    }
  });

  test('a stored instance makes a new version of its series and study; a new series leaves the first series alone', async () => {
    const before = await get(`${seriesUrl}/metadata`, { Accept: JSON_TYPE, 'Accept-Encoding': 'gzip' });
    const studyBefore = await get(`${studyUrl}/metadata`, { Accept: JSON_TYPE, 'Accept-Encoding': 'gzip' });
    expect(JSON.parse(gunzipSync(studyBefore.body).toString())).toHaveLength(3);
    await stow([4]);
    const after = await get(`${seriesUrl}/metadata`, { Accept: JSON_TYPE, 'Accept-Encoding': 'gzip' });
    const docs = JSON.parse(gunzipSync(after.body).toString()) as Record<string, { Value: unknown[] }>[];
    expect(docs.map((d) => d['00200013'].Value[0])).toEqual([1, 2, 3, 4]);
    expect(after.headers.etag).not.toBe(before.headers.etag);
    const studyAfter = await get(`${studyUrl}/metadata`, { Accept: JSON_TYPE });
    expect(JSON.parse(studyAfter.body.toString())).toHaveLength(4);

    await stow([1], randomUid());
    const untouched = await get(`${seriesUrl}/metadata`, { Accept: JSON_TYPE, 'Accept-Encoding': 'gzip' });
    expect(untouched.headers.etag).toBe(after.headers.etag);
    expect(JSON.parse((await get(`${studyUrl}/metadata`, { Accept: JSON_TYPE })).body.toString())).toHaveLength(5);
  });

  test('instances, unknown scopes and other media types answer as before', async () => {
    const one = await get(`${seriesUrl}/instances/${'1.2.3'}/metadata`, { Accept: JSON_TYPE });
    expect(one.status).toBe(404);
    expect((await get(`${studyUrl}/series/1.2.3/metadata`, { Accept: JSON_TYPE })).status).toBe(404);
    expect((await get(`${gw.url}/studies/1.2.3/metadata`, { Accept: JSON_TYPE })).status).toBe(404);
    expect((await get(`${seriesUrl}/metadata`, { Accept: 'application/dicom' })).status).toBe(406);
    const listed = JSON.parse((await get(`${seriesUrl}/metadata`, { Accept: JSON_TYPE })).body.toString()) as Record<string, { Value: string[] }>[];
    const instance = listed[0]['00080018'].Value[0];
    const single = await get(`${seriesUrl}/instances/${instance}/metadata`, { Accept: JSON_TYPE });
    expect(single.status).toBe(200);
    expect(JSON.parse(single.body.toString())).toEqual([listed[0]]);
  });
});

describe('metadata cache and access scopes', () => {
  let w: AuthWorld;

  beforeAll(async () => {
    w = await startAuthWorld({}, 6);
  });

  afterAll(async () => {
    await w?.close();
  });

  test('a document cached for one project is never served to a reader of another', async () => {
    for (const path of [`/dicom-web/studies/${w.A.study}/series/${w.A.series}/metadata`, `/dicom-web/studies/${w.A.study}/metadata`]) {
      const seen = await w.request(w.keys.readA, path, { headers: { Accept: JSON_TYPE, 'Accept-Encoding': 'gzip' } });
      expect(seen.status).toBe(200);
      expect(await seen.json()).toHaveLength(6);
      const etag = seen.headers.get('etag')!;
      for (const key of [w.keys.readB, w.keys.ingestA, undefined]) {
        const other = await w.request(key, path, { headers: { Accept: JSON_TYPE, 'Accept-Encoding': 'gzip', 'If-None-Match': etag } });
        expect(other.status).not.toBe(200);
        expect(other.status).not.toBe(304);
        expect(other.headers.get('etag')).not.toBe(etag);
      }
      // The same scope as absent to B as a study that does not exist.
      const absent = await w.request(w.keys.readB, path.replace(w.A.study, '1.2.3'), { headers: { Accept: JSON_TYPE } });
      const hidden = await w.request(w.keys.readB, path, { headers: { Accept: JSON_TYPE } });
      expect(hidden.status).toBe(absent.status);
      expect(await hidden.text()).toBe((await absent.text()).replace('1.2.3', w.A.study));
    }
  });
});

describe('Accept-Encoding', () => {
  test('gzip is accepted when named with q > 0, or by * when not named', () => {
    expect(acceptsGzip(undefined)).toBe(false);
    expect(acceptsGzip('')).toBe(false);
    expect(acceptsGzip('gzip')).toBe(true);
    expect(acceptsGzip('deflate, gzip;q=0.8')).toBe(true);
    expect(acceptsGzip('gzip;q=0')).toBe(false);
    expect(acceptsGzip('gzip; q=0.000')).toBe(false);
    expect(acceptsGzip('*')).toBe(true);
    expect(acceptsGzip('*;q=0')).toBe(false);
    expect(acceptsGzip('gzip;q=0, *')).toBe(false);
    expect(acceptsGzip('br, identity')).toBe(false);
    expect(acceptsGzip('X-GZIP')).toBe(true);
    expect(acceptsGzip(['br', 'gzip'])).toBe(true);
  });
});
