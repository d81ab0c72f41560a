/**
 * kill -9 in the middle of ingest, again and again, on one data directory.
 *
 * The gateway runs as its own process (node dist/src/main.js). Several STOW-RS clients post
 * multipart batches and several storescu runs C-STORE folders of synthetic CT instances, all
 * at once; at a random moment the process is SIGKILLed and started again on the same
 * DATA_DIR. After every restart:
 *   - every instance the gateway acknowledged before any kill (a ReferencedSOPSequence item of
 *     a completed STOW-RS answer, a Success that storescu printed) is retrieved by WADO-RS and
 *     is intact: dcmdump reads it, its SOP Instance UID is the keyed mapping of the one sent,
 *     its pixel data is what was sent, its bytes are what they were the first time;
 *   - no index row is without its file, no file under files/ is without its row (the start-up
 *     sweep moved such files to orphans/), files once in orphans/ are still there and are
 *     never served, and tmp/ holds no file.
 *
 *   CRASH_SEED=<n>    other kill moments and batch sizes (default 1201)
 *   CRASH_ROUNDS=<n>  number of kills (default 8)
 */
import { ChildProcess, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import dicomParser from 'dicom-parser';
import { multipartBody, parseMultipart } from '../support/gateway';
import { ensureBuilt, freePort, startServer, ServerProcess, mappedUid, filesUnder } from '../support/server-process';
import { Rng } from '../support/mutations';
import { syntheticInstance, randomUid } from '../../src/synthetic/instances';

jest.setTimeout(180_000);

const SEED = Number(process.env.CRASH_SEED ?? 1201) >>> 0;
const ROUNDS = Number(process.env.CRASH_ROUNDS ?? 8);
const STOW_CLIENTS = 3;
const STORESCU_CLIENTS = 2;

type Json = Record<string, { Value?: unknown[] }>;

interface Acked {
  sop: string;
  study: string;
  series: string;
  /** SHA-256 of the pixel data that was sent. */
  pixels: string;
  via: 'STOW-RS' | 'C-STORE';
  round: number;
  /** SHA-256 of the stored file, once it was first retrieved. */
  file?: string;
}

/** A GET that survives one stale keep-alive connection to the process that was killed. */
async function get(url: string, headers: Record<string, string> = {}): Promise<Response> {
  try {
    return await fetch(url, { headers });
  } catch {
    await sleep(100);
    return fetch(url, { headers });
  }
}

const sha256 = (b: Uint8Array) => crypto.createHash('sha256').update(b).digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** dcmdump over many files at once; its errors name the file they are about. */
function dcmdump(files: string[]): Promise<{ code: number; errors: string[] }> {
  return new Promise((resolve) => {
    const p = spawn('dcmdump', files, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => resolve({ code: code ?? 1, errors: stderr.split('\n').filter((l) => l.startsWith('E:')) }));
  });
}

async function pool<T>(items: T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) await fn(items[next++]);
  }));
}

describe('kill -9 during ingest, restart on the same data directory', () => {
  let dataDir: string;
  let work: string;
  let server: ServerProcess | undefined;
  const scus = new Set<ChildProcess>();
  let build = '';

  beforeAll(() => {
    build = ensureBuilt();
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'veilgate-crash-'));
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'veilgate-crash-work-'));
  });

  afterAll(async () => {
    for (const p of scus) p.kill('SIGKILL');
    await server?.kill('SIGKILL');
    fs.rmSync(work, { recursive: true, force: true });
    if (!process.env.CRASH_KEEP) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  test(`seed ${SEED}: ${ROUNDS} kills under concurrent STOW-RS and C-STORE`, async () => {
    const started = Date.now();
    const rng = new Rng(SEED);
    /** Kill moments from their own sequence, so they do not depend on how the load went. */
    const killRng = new Rng(SEED ^ 0x6b696c6c);
    const port = await freePort();
    const dimsePort = await freePort();
    const acked = new Map<string, Acked>();
    const problems: string[] = [];
    const orphansSeen = new Set<string>();
    const rounds: string[] = [];
    let secretMapped: (uid: string) => string = () => '';

    /** Everything the brief promises about the data directory, checked with the gateway up and idle. */
    const check = async (when: string) => {
      const s = server!;
      // Index and files, read directly.
      const db = new Database(path.join(dataDir, 'index.sqlite'), { readonly: true, fileMustExist: true });
      const rows = db.prepare('SELECT sop_instance_uid AS sop, study_uid AS study, series_uid AS series, blob_key AS blobKey FROM instances').all() as {
        sop: string;
        study: string;
        series: string;
        blobKey: string;
      }[];
      db.close();
      const files = new Set(filesUnder(path.join(dataDir, 'files')));
      const keys = new Set(rows.map((r) => r.blobKey));
      for (const r of rows) if (!files.has(r.blobKey)) problems.push(`${when}: index row ${r.sop} has no file (${r.blobKey})`);
      for (const f of files) if (!keys.has(f)) problems.push(`${when}: file ${f} has no index row and was not moved to orphans/`);
      const orphans = new Set(filesUnder(path.join(dataDir, 'orphans')));
      for (const o of orphansSeen) if (!orphans.has(o)) problems.push(`${when}: orphan ${o} is gone from orphans/ (orphans are never deleted)`);
      for (const o of orphans) {
        if (!orphansSeen.has(o)) {
          // Written whole before its rename: a quarantined file is a complete instance, only unindexed.
          const d = await dcmdump([path.join(dataDir, 'orphans', o)]);
          if (d.code !== 0 || d.errors.length) problems.push(`${when}: orphan ${o} is not a whole instance: ${d.errors.slice(0, 2).join(' | ')}`);
        }
        orphansSeen.add(o);
        if (keys.has(o)) problems.push(`${when}: orphan ${o} is still referred to by an index row`);
        const [study, series, name] = o.split('/');
        const sop = name.replace(/\.[0-9a-f]+\.dcm$/, '');
        if (!rows.some((r) => r.sop === sop)) {
          const res = await get(`${s.url}/studies/${study}/series/${series}/instances/${sop}`, { Accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' });
          await res.arrayBuffer();
          if (res.status !== 404) problems.push(`${when}: orphan ${o} is served (HTTP ${res.status})`);
        }
      }
      const tmp = filesUnder(path.join(dataDir, 'tmp'));
      if (tmp.length) problems.push(`${when}: tmp/ holds ${tmp.length} file(s) after start-up: ${tmp.slice(0, 3).join(', ')}`);

      // Every acknowledged instance, retrieved series by series.
      const bySeries = new Map<string, Acked[]>();
      for (const a of acked.values()) bySeries.set(`${a.study}/${a.series}`, [...(bySeries.get(`${a.study}/${a.series}`) ?? []), a]);
      const fresh: { a: Acked; body: Buffer }[] = [];
      await pool([...bySeries.entries()], 4, async ([key, list]) => {
        const [study, series] = key.split('/');
        const res = await get(`${s.url}/studies/${study}/series/${series}`, { Accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' });
        const body = Buffer.from(await res.arrayBuffer());
        if (res.status !== 200) {
          for (const a of list) problems.push(`${when}: ${a.via} acknowledged ${a.sop} (round ${a.round}); its series answers HTTP ${res.status}`);
          return;
        }
        const got = new Map<string, Buffer>();
        for (const part of parseMultipart(body, res.headers.get('content-type') ?? '')) {
          try {
            const ds = dicomParser.parseDicom(new Uint8Array(part.body));
            got.set(ds.string('x00080018') ?? '', part.body);
          } catch (e) {
            problems.push(`${when}: a part of series ${series} does not parse: ${(e as Error).message ?? e}`);
          }
        }
        for (const a of list) {
          const file = got.get(a.sop);
          if (!file) {
            problems.push(`${when}: ${a.via} acknowledged ${a.sop} (round ${a.round}) but WADO-RS does not return it`);
            continue;
          }
          const ds = dicomParser.parseDicom(new Uint8Array(file));
          const el = ds.elements.x7fe00010;
          const pixels = el ? sha256(file.subarray(el.dataOffset, el.dataOffset + el.length)) : 'none';
          if (pixels !== a.pixels) problems.push(`${when}: ${a.sop} (round ${a.round}) comes back with other pixel data`);
          if (a.file && a.file !== sha256(file)) problems.push(`${when}: ${a.sop} (round ${a.round}) changed since it was first retrieved`);
          if (!a.file) fresh.push({ a, body: file });
        }
      });
      // dcmdump reads each instance once (a stored file is never rewritten: the hash above says so).
      const batches: (typeof fresh)[] = [];
      for (let i = 0; i < fresh.length; i += 200) batches.push(fresh.slice(i, i + 200));
      await pool(batches, 2, async (batch) => {
        const names = batch.map(({ a, body }) => {
          const f = path.join(work, `${a.sop}.dcm`);
          fs.writeFileSync(f, body);
          return f;
        });
        const d = await dcmdump(names);
        for (const f of names) fs.rmSync(f);
        if (d.code !== 0 || d.errors.length) problems.push(`${when}: dcmdump cannot read every instance: ${d.errors.slice(0, 3).join(' | ')}`);
        for (const { a, body } of batch) a.file = sha256(body);
      });
      return { rows: rows.length, files: files.size, orphans: orphans.size };
    };

    // ---- load: STOW-RS clients and storescu runs, until the kill
    let stop = false;
    const stowClient = async (k: number, round: number, s: ServerProcess) => {
      const study = randomUid();
      const series = randomUid();
      let n = 0;
      const stats = { requests: 0, acked: 0 };
      while (!stop) {
        const batch = Array.from({ length: 1 + ((k + n) % 5) }, () => syntheticInstance({ studyUID: study, seriesUID: series, instanceNumber: ++n, rows: 48, columns: 48, seed: n * 31 + k }));
        const { body, contentType } = multipartBody(batch.map((b) => b.bytes), `crash-${round}-${k}-${n}`);
        let json: Json;
        let status: number;
        try {
          const res = await fetch(`${s.url}/studies`, { method: 'POST', headers: { 'Content-Type': contentType, Accept: 'application/dicom+json' }, body });
          status = res.status;
          json = (await res.json()) as Json;
        } catch {
          break; // killed: no answer, nothing acknowledged
        }
        stats.requests++;
        if (status !== 200) problems.push(`round ${round}: STOW-RS of ${batch.length} synthetic CT answered HTTP ${status} while the gateway was up: ${JSON.stringify(json).slice(0, 300)}`);
        for (const item of (json['00081199']?.Value ?? []) as Json[]) {
          const sop = String(item['00081155']?.Value?.[0]);
          const url = String(item['00081190']?.Value?.[0]);
          const sent = batch.find((b) => secretMapped(b.sopInstanceUID) === sop);
          if (!sent) {
            problems.push(`round ${round}: STOW-RS acknowledged ${sop}, which is the keyed mapping of nothing that was sent`);
            continue;
          }
          const mappedStudy = secretMapped(study);
          const mappedSeries = secretMapped(series);
          if (!url.endsWith(`/studies/${mappedStudy}/series/${mappedSeries}/instances/${sop}`)) problems.push(`round ${round}: RetrieveURL ${url} does not name ${sop}`);
          acked.set(sop, { sop, study: mappedStudy, series: mappedSeries, pixels: sha256(sent.pixelData), via: 'STOW-RS', round });
          stats.acked++;
        }
      }
      return stats;
    };
    const storescuClient = async (k: number, round: number, s: ServerProcess) => {
      const stats = { requests: 0, acked: 0 };
      let folder = 0;
      while (!stop) {
        const dir = path.join(work, `scu-${round}-${k}-${folder++}`);
        fs.mkdirSync(dir);
        const study = randomUid();
        const series = randomUid();
        const sent = new Map<string, ReturnType<typeof syntheticInstance>>();
        for (let i = 0; i < 12 + rng.int(20); i++) {
          const inst = syntheticInstance({ studyUID: study, seriesUID: series, instanceNumber: i + 1, rows: 48, columns: 48, seed: i * 17 + k + folder });
          const file = path.join(dir, `${String(i).padStart(3, '0')}.dcm`);
          fs.writeFileSync(file, inst.bytes);
          sent.set(file, inst);
        }
        const output = await new Promise<string>((resolve) => {
          const p = spawn('storescu', ['-v', '-aec', 'VEILGATE', '-aet', `CRASH${k}`, '127.0.0.1', String(s.dimsePort), ...[...sent.keys()].sort()], { stdio: ['ignore', 'pipe', 'pipe'] });
          scus.add(p);
          let out = '';
          p.stdout.on('data', (d) => (out += d));
          p.stderr.on('data', (d) => (out += d));
          p.on('close', () => {
            scus.delete(p);
            resolve(out);
          });
        });
        stats.requests++;
        // "Sending file: X" … "Received Store Response (Success)": that file is acknowledged.
        let current: string | undefined;
        for (const line of output.split('\n')) {
          const sending = /Sending file: (.+)$/.exec(line);
          if (sending) current = sending[1].trim();
          const response = /Received Store Response \(([^)]*)\)/.exec(line);
          if (response && current) {
            const inst = sent.get(current);
            if (response[1] === 'Success' && inst) {
              const sop = secretMapped(inst.sopInstanceUID);
              acked.set(sop, { sop, study: secretMapped(study), series: secretMapped(series), pixels: sha256(inst.pixelData), via: 'C-STORE', round });
              stats.acked++;
            } else if (!stop) problems.push(`round ${round}: C-STORE of a synthetic CT answered ${response[1]} while the gateway was up`);
            current = undefined;
          }
        }
        fs.rmSync(dir, { recursive: true, force: true });
      }
      return stats;
    };

    for (let round = 1; round <= ROUNDS + 1; round++) {
      const up = Date.now();
      server = await startServer({ dataDir, port, dimsePort });
      const startMs = Date.now() - up;
      if (round === 1) secretMapped = (uid) => mappedUid(dataDir, uid);
      const before = acked.size;
      const checkStart = Date.now();
      const state = await check(round === 1 ? 'first start' : `restart ${round - 1}`);
      const checkMs = Date.now() - checkStart;
      const quarantined = server.lines.filter((l) => l.includes('"orphans-quarantined"'));
      if (round > ROUNDS) {
        rounds.push(`final restart: ready in ${startMs} ms; ${acked.size} acknowledged instances all checked in ${checkMs} ms; ${state.rows} rows, ${state.orphans} orphans`);
        break;
      }
      stop = false;
      const s = server;
      const loads = [
        ...Array.from({ length: STOW_CLIENTS }, (_, k) => stowClient(k, round, s)),
        ...Array.from({ length: STORESCU_CLIENTS }, (_, k) => storescuClient(k, round, s)),
      ];
      const killAfter = 400 + killRng.int(2400);
      await sleep(killAfter);
      const killed = await server.kill('SIGKILL');
      stop = true;
      const stats = await Promise.all(loads);
      const requests = stats.reduce((n, x) => n + x.requests, 0);
      rounds.push(
        `round ${round}: ready in ${startMs} ms${quarantined.length ? ` (${quarantined.map((l) => JSON.parse(l).quarantined).join('+')} quarantined)` : ''}, checked in ${checkMs} ms, ` +
          `${requests} requests, ${acked.size - before} acknowledged, SIGKILL after ${killAfter} ms (${killed.signal}); ${state.rows} rows, ${state.orphans} orphans before the load`,
      );
    }
    await server!.kill('SIGTERM');
    server = undefined;

    const via = (v: Acked['via']) => [...acked.values()].filter((a) => a.via === v).length;
    process.stdout.write(
      [
        `crash-recovery: seed ${SEED}, ${ROUNDS} SIGKILLs, ${acked.size} acknowledged instances (${via('STOW-RS')} by STOW-RS, ${via('C-STORE')} by C-STORE), ${orphansSeen.size} orphans quarantined, ${problems.length} problems, ${((Date.now() - started) / 1000).toFixed(1)} s (${build})`,
        ...rounds.map((r) => `  ${r}`),
      ].join('\n') + '\n',
    );
    expect(problems.slice(0, 30)).toEqual([]);
    expect(via('STOW-RS')).toBeGreaterThan(0);
    expect(via('C-STORE')).toBeGreaterThan(0);
  });
});
