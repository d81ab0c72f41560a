/**
 * One test per class of hostile or careless HTTP input that used to crash, stall or inflate the
 * gateway, or make it give the wrong answer: each is answered with a clear status, bounded in
 * memory and descriptors, and QIDO keeps answering in under a second while it runs.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { deflateRawSync, gzipSync } from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { loadConfig } from '../../src/config';
import { DEFAULT_LIMITS, Limits } from '../../src/limits';
import { Tags } from '../../src/dicom/tags';
import { stringElement, uint16Element } from '../../src/dicom/values';
import { writeDataset, writePart10 } from '../../src/dicom/write';
import { Dataset } from '../../src/dicom/dataset';
import { randomUid, syntheticDataset, syntheticInstance } from '../../src/synthetic/instances';
import { SHARED_DATA, TestGateway, deidentified, multipartBody, parseMultipart, startTestGateway } from '../support/gateway';

type Json = Record<string, { Value?: any[] }>;
const CT = '1.2.840.10008.5.1.4.1.1.2';

function part10(ds: Dataset, transferSyntaxUID = '1.2.840.10008.1.2.1'): Buffer {
  const sop = Buffer.from(ds.get(Tags.SOPInstanceUID)!.value!).toString('latin1').replace(/\0/g, '');
  return Buffer.concat(writePart10(ds, { sopClassUID: CT, sopInstanceUID: sop, transferSyntaxUID }).chunks);
}

async function stow(gw: TestGateway, body: Buffer, contentType = 'application/dicom') {
  const res = await fetch(`${gw.url}/studies`, { method: 'POST', headers: { 'Content-Type': contentType }, body });
  const text = await res.text();
  let json: Json = {};
  try {
    json = JSON.parse(text) as Json;
  } catch {
    /* a plain-text error */
  }
  return { status: res.status, json, headers: res.headers };
}

const failureReason = (json: Json) => (json['00081198']?.Value?.[0] as Json | undefined)?.['00081197']?.Value?.[0] as number | undefined;

/** Descriptors this process has open on files under `dir`. */
function openFilesUnder(dir: string): number {
  let n = 0;
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      if (fs.readlinkSync(`/proc/self/fd/${fd}`).startsWith(dir)) n++;
    } catch {
      /* closed meanwhile */
    }
  }
  return n;
}

/** Run `probe` while timing QIDO every 100 ms: the slowest QIDO answer, in ms. */
async function qidoWhile<T>(gw: TestGateway, probe: () => Promise<T>): Promise<{ result: T; slowestQido: number }> {
  let slowest = 0;
  let running = true;
  const poller = (async () => {
    while (running) {
      const t0 = Date.now();
      const res = await fetch(`${gw.url}/studies?limit=1`);
      await res.arrayBuffer();
      slowest = Math.max(slowest, Date.now() - t0);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  try {
    const result = await probe();
    return { result, slowestQido: slowest };
  } finally {
    running = false;
    await poller;
  }
}

const limits = (over: Partial<Limits>): Limits => ({ ...DEFAULT_LIMITS, ...over, concurrency: { ...DEFAULT_LIMITS.concurrency, ...(over.concurrency ?? {}) } });

describe('retrieve: descriptors and aborts', () => {
  let gw: TestGateway;
  let study: string;
  let series: string;
  beforeAll(async () => {
    gw = await startTestGateway();
    const studyUID = randomUid();
    const seriesUID = randomUid();
    const parts = Array.from({ length: 300 }, (_, i) => syntheticInstance({ studyUID, seriesUID, instanceNumber: i + 1, rows: 64, columns: 64 }).bytes);
    for (let i = 0; i < parts.length; i += 100) {
      const { body, contentType } = multipartBody(parts.slice(i, i + 100));
      expect((await stow(gw, body, contentType)).status).toBe(200);
    }
    const id = deidentified(gw.dataDir);
    study = id.uid(studyUID);
    series = id.uid(seriesUID);
  });
  afterAll(() => gw.close());

  test('a zip of a 300-instance study holds a few files open at a time, whatever the study size', async () => {
    const files = path.join(gw.dataDir, 'files');
    let most = 0;
    const sampler = setInterval(() => (most = Math.max(most, openFilesUnder(files))), 5);
    const res = await fetch(`${gw.url}/studies/${study}`, { headers: { Accept: 'application/zip' } });
    const zip = Buffer.from(await res.arrayBuffer());
    clearInterval(sampler);
    expect(res.status).toBe(200);
    expect(zip.subarray(0, 2).toString()).toBe('PK');
    const zipFile = path.join(gw.dataDir, 'study.zip');
    fs.writeFileSync(zipFile, zip);
    // Python's zipfile as an independent reader of the archive.
    const entries = execFileSync('/usr/bin/python3', ['-c', 'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; print(len(z.namelist()))', zipFile]).toString();
    fs.rmSync(zipFile);
    expect(entries.trim()).toBe('300');
    expect(most).toBeLessThanOrEqual(2);
  });

  test('aborted zip and multipart downloads leave no descriptor open', async () => {
    const files = path.join(gw.dataDir, 'files');
    const before = openFilesUnder(files);
    for (const accept of ['application/zip', 'multipart/related; type="application/dicom"', 'application/zip']) {
      const controller = new AbortController();
      const res = await fetch(`${gw.url}/studies/${study}`, { headers: { Accept: accept }, signal: controller.signal });
      const reader = res.body!.getReader();
      await reader.read(); // the first bytes, then go away
      controller.abort();
      await reader.cancel().catch(() => undefined);
    }
    // The server notices the closed connection on its next write.
    for (let i = 0; i < 50 && openFilesUnder(files) > before; i++) await new Promise((r) => setTimeout(r, 50));
    expect(openFilesUnder(files)).toBe(before);
    expect((await fetch(`${gw.url}/studies?limit=1`)).status).toBe(200);
  });

  test('a zip with a stored file gone missing is a 500 before any byte, and the process stays up', async () => {
    const [inst] = await gw.gateway.index.instances({ study, series });
    const file = path.join(gw.dataDir, 'files', inst.blobKey);
    const kept = fs.readFileSync(file);
    fs.rmSync(file);
    try {
      const res = await fetch(`${gw.url}/studies/${study}/series/${series}`, { headers: { Accept: 'application/zip' } });
      expect(res.status).toBe(500);
      expect(await res.text()).toMatch(/missing/);
    } finally {
      fs.writeFileSync(file, kept);
    }
    expect((await fetch(`${gw.url}/studies/${study}/series/${series}`, { headers: { Accept: 'application/zip' } })).status).toBe(200);
  });

  test('a frame list naming frame 1 eight thousand times is one frame', async () => {
    const [inst] = await gw.gateway.index.instances({ study, series });
    const res = await fetch(`${gw.url}/studies/${study}/series/${series}/instances/${inst.sopInstanceUID}/frames/${Array(8000).fill('1').join(',')}`, {
      headers: { Accept: 'multipart/related; type="application/octet-stream"' },
    });
    expect(res.status).toBe(200);
    const parts = parseMultipart(Buffer.from(await res.arrayBuffer()), res.headers.get('content-type')!);
    expect(parts).toHaveLength(1);
    expect(parts[0].body.length).toBe(64 * 64 * 2);
    const many = await fetch(`${gw.url}/studies/${study}/series/${series}/instances/${inst.sopInstanceUID}/frames/${Array.from({ length: 3000 }, (_, i) => i + 1).join(',')}`);
    expect(many.status).toBe(400);
  });

  test('QIDO paging beyond any real page is a 400, not a 500', async () => {
    expect((await fetch(`${gw.url}/studies?offset=9223372036854775808`)).status).toBe(400);
    expect((await fetch(`${gw.url}/studies?limit=99999999999999999999`)).status).toBe(400);
    const api = gw.url.replace('/dicom-web', '/api');
    expect((await fetch(`${api}/jobs?limit=-1`)).status).toBe(400);
    expect((await fetch(`${api}/jobs?limit=abc`)).status).toBe(400);
  });
});

describe('amplification from tiny uploads', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({
      maxInstanceBytes: 1_000_000,
      deid: { ...loadConfig({}).deid, acceptBurnedIn: true },
      limits: limits({ maxNiftiBytes: 64 * 1024 * 1024, maxResponseDecodedBytes: 4 * 1024 * 1024 }),
    });
  });
  afterAll(() => gw.close());

  test('a deflated instance inflating past the instance limit is refused (0xA700), nothing stored', async () => {
    const { dataset } = syntheticDataset({ rows: 2048, columns: 2048 }); // 8 MB of pixels, compressing to a few kB
    const plain = Buffer.concat(writeDataset(dataset, { explicit: true }).chunks);
    const meta = Buffer.concat(writePart10(new Map(), { sopClassUID: CT, sopInstanceUID: randomUid(), transferSyntaxUID: '1.2.840.10008.1.2.1.99' }).chunks);
    const body = Buffer.concat([meta, deflateRawSync(plain)]);
    expect(body.length).toBeLessThan(200_000);
    const before = await gw.gateway.index.counts();
    const { status, json } = await stow(gw, body);
    expect(status).toBe(409);
    expect(failureReason(json)).toBe(0xa700);
    expect(await gw.gateway.index.counts()).toEqual(before);
  });

  test('NumberOfFrames twelve million on a 1×8 image is refused at once, QIDO never waits', async () => {
    const { dataset } = syntheticDataset({ rows: 1, columns: 8 });
    dataset.set(Tags.NumberOfFrames, stringElement(Tags.NumberOfFrames, 'IS', '12000000'));
    const { result, slowestQido } = await qidoWhile(gw, async () => {
      const t0 = Date.now();
      const r = await stow(gw, part10(dataset));
      return { ...r, ms: Date.now() - t0 };
    });
    expect(result.status).toBe(409);
    expect([0xa700, 0xc000]).toContain(failureReason(result.json));
    expect(result.ms).toBeLessThan(1000);
    expect(slowestQido).toBeLessThan(1000);
  });

  test('a 1 MB gzip NIfTI that inflates to 1 GiB is refused before it inflates', async () => {
    const { dataset } = syntheticDataset({ rows: 16, columns: 16 });
    const ingest = await stow(gw, part10(dataset));
    const ref = ingest.json['00081199'].Value![0] as Json;
    const [study, series] = String(ref['00081190'].Value![0]).match(/studies\/([\d.]+)\/series\/([\d.]+)/)!.slice(1);
    const header = Buffer.alloc(352);
    header.writeInt32LE(348, 0);
    header.write('n+1', 344, 'latin1');
    const bomb = gzipSync(Buffer.concat([header, Buffer.alloc(1024 * 1024 * 1024)]), { level: 9 });
    expect(bomb.length).toBeLessThan(2 * 1024 * 1024);
    const rss = process.memoryUsage().rss;
    const res = await fetch(`${gw.url.replace('/dicom-web', '/api')}/studies/${study}/series/${series}/nifti`, { method: 'POST', body: bomb });
    expect(res.status).toBe(413);
    expect(process.memoryUsage().rss - rss).toBeLessThan(200 * 1024 * 1024);
  });

  test('native pixels under a JPEG-LS transfer syntax are stored as what they are, readable by dcmdump', async () => {
    const { dataset, uids } = syntheticDataset({ rows: 16, columns: 16 });
    const { status, json } = await stow(gw, part10(dataset, '1.2.840.10008.1.2.4.80'));
    expect(status).toBe(202); // stored, with a coercion warning
    const url = (json['00081199'].Value![0] as Json)['00081190'].Value![0] as string;
    const res = await fetch(url, { headers: { Accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' } });
    const [part] = parseMultipart(Buffer.from(await res.arrayBuffer()), res.headers.get('content-type')!);
    expect(part.headers['content-type']).toContain('transfer-syntax=1.2.840.10008.1.2.1');
    const file = path.join(gw.dataDir, `${uids.sopInstanceUID}.dcm`);
    fs.writeFileSync(file, part.body);
    expect(execFileSync('dcmdump', ['+P', '0002,0010', file]).toString()).toMatch(/LittleEndianExplicit/);
    fs.rmSync(file);
  });
});

describe('heavy requests on huge images', () => {
  let gw: TestGateway;
  let url: string;
  beforeAll(async () => {
    gw = await startTestGateway({ limits: limits({ maxResponseDecodedBytes: 1024 * 1024 }) });
    // A 16000×16000 single-bit image: 32 MB of pixels.
    const { dataset } = syntheticDataset({ rows: 16000, columns: 16000 });
    for (const [t, v] of [[Tags.BitsAllocated, 1], [Tags.BitsStored, 1], [0x00280102, 0]] as const) dataset.set(t, uint16Element(t, [v]));
    const bits = new Uint8Array((16000 * 16000) / 8);
    for (let i = 0; i < bits.length; i += 997) bits[i] = 0xff;
    dataset.set(Tags.PixelData, { tag: Tags.PixelData, vr: 'OB', value: bits });
    for (const t of [0x00281052, 0x00281053]) dataset.delete(t);
    const { status, json } = await stow(gw, part10(dataset));
    expect(status).toBe(200);
    url = (json['00081199'].Value![0] as Json)['00081190'].Value![0] as string;
  });
  afterAll(() => gw.close());

  test('its thumbnail costs what a thumbnail shows: fast, small, and QIDO does not wait', async () => {
    const rss = process.memoryUsage().rss;
    const { result, slowestQido } = await qidoWhile(gw, async () => {
      const t0 = Date.now();
      const res = await fetch(`${url}/thumbnail`, { headers: { Accept: 'image/png' } });
      return { status: res.status, bytes: (await res.arrayBuffer()).byteLength, ms: Date.now() - t0 };
    });
    expect(result.status).toBe(200);
    expect(result.bytes).toBeGreaterThan(0);
    expect(result.ms).toBeLessThan(2000);
    expect(slowestQido).toBeLessThan(1000);
    expect(process.memoryUsage().rss - rss).toBeLessThan(300 * 1024 * 1024);
  });

  test('a full-size render over the pixel limit is refused with the reason', async () => {
    const res = await fetch(`${url}/rendered`, { headers: { Accept: 'image/jpeg' } });
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/viewport/);
  });

  test('a transcode beyond the per-response bound is refused before it starts; as stored it streams', async () => {
    // Rewriting the 32 MB instance in Implicit VR would hold it whole in memory: over the 1 MB test bound.
    const res = await fetch(url, { headers: { Accept: 'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2' } });
    expect(res.status).toBe(406);
    expect(await res.text()).toMatch(/transfer-syntax=\*/);
    const stored = await fetch(url, { headers: { Accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' } });
    expect(stored.status).toBe(200);
    expect((await stored.arrayBuffer()).byteLength).toBeGreaterThan(32_000_000);
  });
});

describe('saturation, quotas and slow clients', () => {
  test('heavy work beyond its concurrency is 503 with Retry-After, never a stall', async () => {
    const gw = await startTestGateway({ limits: limits({ concurrency: { ...DEFAULT_LIMITS.concurrency, render: 1, queueWaitMs: 1 } }) });
    try {
      const { bytes } = syntheticInstance({ rows: 512, columns: 512 });
      const { json } = await stow(gw, bytes);
      const url = (json['00081199'].Value![0] as Json)['00081190'].Value![0] as string;
      const answers = await Promise.all(Array.from({ length: 12 }, () => fetch(`${url}/rendered`, { headers: { Accept: 'image/png' } })));
      const statuses = answers.map((a) => a.status);
      expect(statuses).toContain(200);
      expect(statuses).toContain(503);
      const busy = answers.find((a) => a.status === 503)!;
      expect(Number(busy.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(statuses.every((s) => s === 200 || s === 503)).toBe(true);
    } finally {
      await gw.close();
    }
  });

  test('jobs: an oversized output is a 400 before it is queued; one client queues at most its share (429)', async () => {
    const gw = await startTestGateway({ jobConcurrency: 1, limits: limits({ maxQueuedJobsPerClient: 2 }) });
    try {
      const studyUID = randomUid();
      const seriesUID = randomUid();
      const parts = Array.from({ length: 3 }, (_, i) => syntheticInstance({ studyUID, seriesUID, instanceNumber: i + 1, rows: 32, columns: 32 }).bytes);
      const { body, contentType } = multipartBody(parts);
      expect((await stow(gw, body, contentType)).status).toBe(200);
      const id = deidentified(gw.dataDir);
      const input = { study: id.uid(studyUID), series: id.uid(seriesUID) };
      const post = (params: object) =>
        fetch(`${gw.url.replace('/dicom-web', '/api')}/jobs`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ op: 'resample', input, params }) });
      const huge = await post({ size: [4000, 4000, 6] });
      expect(huge.status).toBe(400);
      expect(await huge.text()).toMatch(/voxel/);
      const statuses = [];
      for (let i = 0; i < 4; i++) statuses.push((await post({ spacing: 2 + i })).status);
      expect(statuses.filter((s) => s === 202).length).toBeLessThanOrEqual(2);
      expect(statuses).toContain(429);
    } finally {
      await gw.close();
    }
  });

  test('a client idle mid-body is dropped after the idle timeout; connections are capped', async () => {
    const gw = await startTestGateway({ limits: limits({ httpIdleTimeoutSeconds: 1, httpMaxConnections: 4 }) });
    try {
      const port = gw.gateway.config.port;
      const socket = net.connect(port, '127.0.0.1');
      await new Promise((r) => socket.once('connect', r));
      socket.write(`POST /dicom-web/studies HTTP/1.1\r\nHost: x\r\nContent-Type: application/dicom\r\nContent-Length: 100000\r\n\r\nDICM`);
      const t0 = Date.now();
      await new Promise((r) => socket.once('close', r));
      const waited = Date.now() - t0;
      expect(waited).toBeGreaterThanOrEqual(900);
      expect(waited).toBeLessThan(5000);
      // Connections past the cap are closed at once; the gateway still answers afterwards.
      const held = await Promise.all(Array.from({ length: 4 }, () => new Promise<net.Socket>((r) => { const s = net.connect(port, '127.0.0.1', () => r(s)); })));
      const extra = net.connect(port, '127.0.0.1');
      const closedAt = await new Promise<number>((r) => extra.once('close', () => r(Date.now())));
      expect(closedAt - t0).toBeLessThan(5000);
      for (const s of held) s.destroy();
      await new Promise((r) => setTimeout(r, 100));
      expect((await fetch(`${gw.url}/studies`)).status).toBe(200);
    } finally {
      await gw.close();
    }
  });
});

describe('one client cannot hold every connection', () => {
  test('connections per client address are capped; another address is still served; an unknown path is not read', async () => {
    const gw = await startTestGateway({ limits: limits({ httpMaxConnectionsPerClient: 3, httpMaxConnections: 100 }) });
    try {
      const port = gw.gateway.config.port;
      const open = (localAddress: string) => new Promise<net.Socket>((r) => { const s = net.connect({ port, host: '127.0.0.1', localAddress }, () => r(s)); });
      const held = await Promise.all([1, 2, 3].map(() => open('127.0.0.1')));
      const extra = await open('127.0.0.1');
      await new Promise((r) => extra.once('close', r)); // the fourth is closed at once
      // Another client (127.0.0.2 is loopback too) is served while the first holds its three.
      const other = await open('127.0.0.2');
      other.write('GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      const answer = await new Promise<string>((r) => { let t = ''; other.on('data', (d) => (t += d)); other.once('close', () => r(t)); });
      expect(answer).toMatch(/^HTTP\/1\.1 200/);
      for (const s of held) s.destroy();
      // A body sent to a path that does not exist is not read: 404 and the connection closed.
      const probe = await open('127.0.0.2');
      probe.write('POST /nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: 3000000000\r\n\r\n');
      probe.write(Buffer.alloc(64 * 1024));
      const t0 = Date.now();
      const reply = await new Promise<string>((r) => { let t = ''; probe.on('data', (d) => (t += d)); probe.once('close', () => r(t)); probe.on('error', () => undefined); });
      expect(reply).toMatch(/^HTTP\/1\.1 404/);
      expect(Date.now() - t0).toBeLessThan(5000);
    } finally {
      await gw.close();
    }
  });
});

describe('wrong answers', () => {
  test('a re-sent SOP Instance UID with other content is refused (0x0111) and logged with both hashes; the first copy stays', async () => {
    const gw = await startTestGateway();
    try {
      const sopInstanceUID = randomUid();
      const first = syntheticInstance({ sopInstanceUID, seed: 1 });
      const forged = syntheticInstance({ sopInstanceUID, studyUID: first.studyUID, seriesUID: first.seriesUID, seed: 2 });
      expect((await stow(gw, first.bytes)).status).toBe(200);
      expect((await stow(gw, first.bytes)).status).toBe(200); // the very same instance again: a duplicate
      const { status, json } = await stow(gw, forged.bytes);
      expect(status).toBe(409);
      expect(failureReason(json)).toBe(0x0111);
      const line = gw.logLines.find((l) => l.includes('"event":"duplicate-conflict"'))!;
      expect(JSON.parse(line)).toMatchObject({ storedSha256: expect.stringMatching(/^[0-9a-f]{64}$/), receivedSha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
      expect((await gw.gateway.index.counts()).instances).toBe(1);
      const id = deidentified(gw.dataDir);
      const stored = await gw.gateway.index.findInstance(id.uid(sopInstanceUID));
      const bytes = fs.readFileSync(path.join(gw.dataDir, 'files', stored!.blobKey));
      expect(bytes.includes(Buffer.from(first.pixelData.subarray(0, 64)))).toBe(true);
    } finally {
      await gw.close();
    }
  });

  test('a second process on the same data directory keeps the first one’s temporary files, and clears a dead one’s', async () => {
    const gw = await startTestGateway();
    try {
      // The server's own temporary folder holds an in-flight put; an import starting beside it must keep it.
      const tmp = path.join(gw.dataDir, 'tmp');
      const [own] = fs.readdirSync(tmp);
      fs.writeFileSync(path.join(tmp, own, 'in-flight.part'), 'x');
      fs.mkdirSync(path.join(tmp, '999999999-deadbeef')); // a dead process's folder
      const { FsBlobStore } = require('../../src/store/fs-blob-store');
      const second = new FsBlobStore(gw.dataDir);
      expect(fs.existsSync(path.join(tmp, own, 'in-flight.part'))).toBe(true);
      expect(fs.existsSync(path.join(tmp, '999999999-deadbeef'))).toBe(false);
      second.close();
      fs.rmSync(path.join(tmp, own, 'in-flight.part'));
    } finally {
      await gw.close();
    }
  });

  test('GET /health says ready; GET /metrics counts ingests by outcome and source, latency by route, heavy work and the job queue', async () => {
    const gw = await startTestGateway();
    try {
      const health = await fetch(gw.url.replace('/dicom-web', '/health'));
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({ status: 'ready', live: true, checks: { index: { ok: true }, disk: { ok: true } } });
      await stow(gw, syntheticInstance().bytes);
      await stow(gw, Buffer.from('not dicom at all, not at all'));
      await fetch(`${gw.url}/studies`);
      const text = await (await fetch(gw.url.replace('/dicom-web', '/metrics'))).text();
      expect(text).toMatch(/veilgate_ingest_total\{outcome="stored",source="stow"\} 1/);
      expect(text).toMatch(/veilgate_ingest_total\{outcome="rejected",source="stow"\} 1/);
      expect(text).toMatch(/veilgate_http_request_duration_seconds_count\{method="GET",route="\/dicom-web\/studies",status="200"\} 1/);
      expect(text).toMatch(/veilgate_heavy_work\{kind="render",state="active"\} 0/);
      expect(text).toMatch(/veilgate_jobs\{state="queued"\} 0/);
      expect(text).toMatch(/nodejs_eventloop_lag_seconds/);
      expect(text).toMatch(/process_open_fds \d+/);
      expect(text).not.toMatch(/2\.25\./); // no UID in any label
    } finally {
      await gw.close();
    }
  });
});

test('shared data is there', () => expect(fs.existsSync(SHARED_DATA)).toBe(true));
