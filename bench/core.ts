/**
 * Core benchmark: STOW-RS throughput, series and study metadata latency (gzip, as browsers ask),
 * WADO-RS retrieve throughput, and QIDO-RS latency at scale with the ingest rate from an empty
 * index to a full one. Prints figures only.
 * Run with `npm run bench` (builds first), or `node dist/bench/core.js`.
 *
 * Scale (environment):
 *   BENCH_STUDIES    studies for the first QIDO measurement, one instance each (default 100000)
 *   BENCH_INSTANCES  instances in all for the second, the studies filled up to it (default 10 per
 *                    study: 1,000,000); 0 or no more than BENCH_STUDIES skips it
 *   BENCH_QIDO_REQUESTS requests per query (default 200); BENCH_INGEST_SAMPLE instances per ingest
 *                    sample (default 500)
 * The index is filled with rows of ingest's own making at the speed of the index alone
 * (bench/ingest-at-scale.ts: one study through ingest(), the others' rows made from its rows by
 * record-templates.ts, inserted BULK_BATCH to a transaction, no files). At every tenth of the way
 * the fill stops and the real path (files, one transaction per instance) ingests a sample,
 * sequentially: its rate from 0 to the end is the "ingest rate per decile".
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { gunzipSync } from 'node:zlib';
import { loadConfig } from '../src/config';
import { startGateway } from '../src/server';
import { setLogSink } from '../src/log';
import { ingest, IngestDeps } from '../src/ingest/ingest';
import type { Index } from '../src/index/index';
import type { Level } from '../src/query/attributes';
import { parseQido } from '../src/dicomweb/qido-params';
import { metadataCache } from '../src/dicomweb/metadata-response';
import { randomUid, syntheticInstance } from '../src/synthetic/instances';
import { mb, ms, percentile, multipartBody, runIfMain } from './util';
import { envInt } from './env';
import { getOk, JSON_GZIP, p50p95, timeGets } from './http-timing';
import { FILL_DESCRIPTION, printIngestRates, ScaleFill } from './ingest-at-scale';
import { instanceQueries, pseudonymPrefix, studyQueries, timeQueries } from './qido-queries';

const STOW_INSTANCES = 500;
const STOW_BATCH = 50;
const METADATA_REQUESTS = 40;
const RETRIEVE_REPEATS = 5;

const QIDO_STUDIES = envInt('BENCH_STUDIES', 100_000);
const QIDO_INSTANCES = envInt('BENCH_INSTANCES', 10 * QIDO_STUDIES);
const QIDO_REQUESTS = envInt('BENCH_QIDO_REQUESTS', 200);
const INGEST_SAMPLE = envInt('BENCH_INGEST_SAMPLE', 500);
const QIDO_GOAL_MS = { studies: 10, instances: 20 };

/**
 * Time `n` sequential GETs to the last byte as the server sends it (node:http: no decompression,
 * which fetch does in this same process; a browser does it natively in its own). Returns durations
 * and the bytes of the last answer.
 */
async function timeWire(url: string, headers: Record<string, string>, n: number, decode = false): Promise<{ times: number[]; bytes: number }> {
  const times: number[] = [];
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const body = await new Promise<Buffer>((resolve, reject) => {
      http
        .get(url, { headers }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => (res.statusCode === 200 ? resolve(Buffer.concat(chunks)) : reject(new Error(`GET ${url}: ${res.statusCode}`))));
        })
        .on('error', reject);
    });
    // Decoded whole, as a browser's native decoder does (fetch here inflates through web streams, 16 KB at a time).
    if (decode) gunzipSync(body).toString();
    times.push(performance.now() - t0);
    bytes = body.length;
  }
  return { times, bytes };
}

const JSON_IDENTITY = { Accept: 'application/dicom+json', 'Accept-Encoding': 'identity' };

interface QidoShape {
  path: string;
  level: Level;
  params: Record<string, string>;
}

function shape(pathAndQuery: string): QidoShape {
  const [p, qs = ''] = pathAndQuery.split('?');
  const level: Level = p.endsWith('/instances') ? 'instance' : p.endsWith('/series') ? 'series' : 'study';
  return { path: pathAndQuery, level, params: Object.fromEntries(new URLSearchParams(qs)) };
}

/** The same searches in-process through the index with a project filter (as an AccessView of one project makes them). */
async function timeProjectSearches(index: Index, paths: string[], projects: string[], goalMs: number): Promise<boolean> {
  let met = true;
  for (const p of paths) {
    const s = shape(p);
    const { query } = parseQido(s.level, {}, s.params, { defaultLimit: 1000, maxLimit: 10000 });
    const times: number[] = [];
    let n = 0;
    for (let i = 0; i < QIDO_REQUESTS; i++) {
      const t0 = performance.now();
      n = (await index.search({ ...query, projects })).rows.length;
      times.push(performance.now() - t0);
    }
    const p95 = percentile(times, 0.95);
    met &&= p95 < goalMs;
    console.log(`  index.search ${p} (projects ${projects.join(',')}): ${p50p95(times)}, ${n} results${p95 < goalMs ? '' : `  [over the ${goalMs} ms goal]`}`);
  }
  return met;
}

export async function main(): Promise<void> {
  // Keep the gateway's per-instance log lines off the console, but count errors to report them.
  let errorLines = 0;
  setLogSink((line) => {
    if (line.includes('"level":"error"')) errorLines++;
  });
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'veilgate-bench-'));
  // Any free ports (DIMSE included), so the bench runs beside a gateway or another bench.
  const gateway = await startGateway(loadConfig({}, { host: '127.0.0.1', port: 0, dataDir, dimse: { ...loadConfig({}).dimse, port: 0 } }));
  const url = `${gateway.config.publicUrl}/dicom-web`;
  try {
    // --- STOW-RS: bodies are built before timing so only upload + ingest is measured.
    const studyUID = randomUid();
    const seriesUID = randomUid();
    let instanceBytes = 0;
    const bodies: { body: Buffer; contentType: string }[] = [];
    for (let start = 1; start <= STOW_INSTANCES; start += STOW_BATCH) {
      const parts: Uint8Array[] = [];
      for (let i = start; i < start + STOW_BATCH && i <= STOW_INSTANCES; i++) {
        const { bytes } = syntheticInstance({ studyUID, seriesUID, instanceNumber: i, rows: 512, columns: 512 });
        instanceBytes += bytes.length;
        parts.push(bytes);
      }
      bodies.push(multipartBody(parts));
    }
    let retrieveURL = '';
    const t0 = performance.now();
    for (const { body, contentType } of bodies) {
      const res = await fetch(`${url}/studies`, { method: 'POST', headers: { 'Content-Type': contentType, Accept: 'application/dicom+json' }, body });
      const text = await res.text();
      if (res.status !== 200) throw new Error(`STOW: ${res.status} ${text.slice(0, 500)}`);
      retrieveURL ||= JSON.parse(text)['00081199'].Value[0]['00081190'].Value[0];
    }
    const stowSeconds = (performance.now() - t0) / 1000;
    bodies.length = 0;
    console.log(
      `stow: ${STOW_INSTANCES} instances, ${mb(instanceBytes)} MB in ${stowSeconds.toFixed(2)} s -> ` +
        `${(STOW_INSTANCES / stowSeconds).toFixed(1)} instances/s, ${mb(instanceBytes / stowSeconds)} MB/s`,
    );

    // The stored UIDs come from the STOW response, since ingest may de-identify (remap) them.
    const seriesURL = retrieveURL.replace(/\/instances\/[^/]+$/, '');
    const studyURL = seriesURL.replace(/\/series\/[^/]+$/, '');

    // --- Metadata: precomputed per instance at ingest, the series and study documents gzipped once per version.
    // After a pause: the 250 MB of STOW bodies just freed, and the gateway's work after the STOW, are not the metadata's.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const cold = await timeGets(`${seriesURL}/metadata`, JSON_GZIP, 1);
    const meta = await timeGets(`${seriesURL}/metadata`, JSON_GZIP, METADATA_REQUESTS);
    const instancesInSeries = JSON.parse(meta.body).length;
    console.log(
      `metadata (series of ${instancesInSeries}, Accept-Encoding: gzip, fetch decompressing and decoding the text): ${METADATA_REQUESTS} requests, ${p50p95(meta.times)} ` +
        `(the issue's measure; goal p95 < 20 ms: ${percentile(meta.times, 0.95) < 20 ? 'met' : 'NOT met'}); first request ${ms(cold.times[0])} ms; ` +
        `${(Buffer.byteLength(meta.body) / 1024).toFixed(0)} KB JSON, ${(Number(meta.headers.get('content-length') ?? 0) / 1024).toFixed(0)} KB ${meta.headers.get('content-encoding') ?? 'identity'} on the wire`,
    );
    const wire = await timeWire(`${seriesURL}/metadata`, JSON_GZIP, METADATA_REQUESTS);
    console.log(`metadata (series, gzip) to the last byte on the wire, not decompressed: ${p50p95(wire.times)}, ${(wire.bytes / 1024).toFixed(0)} KB`);
    const browser = await timeWire(`${seriesURL}/metadata`, JSON_GZIP, METADATA_REQUESTS, true);
    console.log(`metadata (series, gzip) received and inflated whole to text, as a browser does: ${p50p95(browser.times)} (goal p95 < 20 ms: ${percentile(browser.times, 0.95) < 20 ? 'met' : 'NOT met'})`);
    const identity = await timeGets(`${seriesURL}/metadata`, JSON_IDENTITY, METADATA_REQUESTS);
    console.log(`metadata (series, Accept-Encoding: identity): ${p50p95(identity.times)}, ${identity.headers.get('content-encoding') ?? 'identity'}`);
    const studyCold = await timeGets(`${studyURL}/metadata`, JSON_GZIP, 1);
    const studyMeta = await timeGets(`${studyURL}/metadata`, JSON_GZIP, METADATA_REQUESTS);
    console.log(`metadata (study of ${JSON.parse(studyMeta.body).length}, gzip): ${p50p95(studyMeta.times)}; first request ${ms(studyCold.times[0])} ms`);
    // A new instance in the series: a new version, built once again.
    const added = await ingest({ kind: 'part10', bytes: syntheticInstance({ studyUID, seriesUID, instanceNumber: STOW_INSTANCES + 1, rows: 512, columns: 512 }).bytes }, { origin: { kind: 'import', address: 'bench' } }, gateway.ingestDeps);
    if (!added.ok) throw new Error(`ingest: ${added.error.message}`);
    const rebuilt = await timeGets(`${seriesURL}/metadata`, JSON_GZIP, 1);
    const after = await timeGets(`${seriesURL}/metadata`, JSON_GZIP, METADATA_REQUESTS);
    console.log(
      `metadata after one more instance: first request ${ms(rebuilt.times[0])} ms (${JSON.parse(rebuilt.body).length} instances), then ${p50p95(after.times)}; ` +
        `cache ${JSON.stringify(metadataCache(gateway.index).size)}`,
    );

    // --- WADO-RS retrieve: the body is read as a stream and only counted, never held whole.
    let retrieved = 0;
    const t1 = performance.now();
    for (let i = 0; i < RETRIEVE_REPEATS; i++) {
      const res = await getOk(seriesURL, { Accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' });
      const reader = res.body!.getReader();
      for (let r = await reader.read(); !r.done; r = await reader.read()) retrieved += r.value.length;
    }
    const retrieveSeconds = (performance.now() - t1) / 1000;
    console.log(
      `retrieve (series): ${RETRIEVE_REPEATS} x ${mb(retrieved / RETRIEVE_REPEATS)} MB in ${retrieveSeconds.toFixed(2)} s -> ${mb(retrieved / retrieveSeconds)} MB/s`,
    );

    await qidoAtScale(gateway.index, gateway.ingestDeps, url);

    console.log(`peak RSS: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`); // maxRSS is in KiB
    if (errorLines) console.log(`gateway logged ${errorLines} error line(s)`);
  } finally {
    await gateway.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

/** QIDO-RS at BENCH_STUDIES studies, then at BENCH_INSTANCES instances, and the ingest rate on the way. */
async function qidoAtScale(index: Index, deps: IngestDeps, url: string): Promise<void> {
  const total = Math.max(QIDO_INSTANCES, QIDO_STUDIES);
  const scale = new ScaleFill({ index, deps, studies: QIDO_STUDIES, total, sampleSize: INGEST_SAMPLE });
  console.log(
    `qido at scale: ${QIDO_STUDIES} studies, then ${total} instances; filled with ${FILL_DESCRIPTION}; ` +
      `at each tenth the real path ingests ${INGEST_SAMPLE} instances sequentially`,
  );
  await scale.begin(); // at 0
  await scale.grow(QIDO_STUDIES);
  const counts = await index.counts();
  console.log(`index: ${counts.studies} studies, ${counts.series} series, ${counts.instances} instances`);

  const queries = studyQueries(scale.stored, QIDO_STUDIES);
  console.log(`qido at ${counts.studies} studies (goal p95 < ${QIDO_GOAL_MS.studies} ms):`);
  let met = (await timeQueries(url, queries, QIDO_GOAL_MS.studies, QIDO_REQUESTS)).met;
  met = (await timeProjectSearches(index, queries.slice(2, 6), ['default'], QIDO_GOAL_MS.studies)) && met;
  console.log(`  goal at ${counts.studies} studies: ${met ? 'met' : 'NOT met'}`);

  if (total > QIDO_STUDIES) {
    await scale.grow(total);
    const c = await index.counts();
    console.log(`index: ${c.studies} studies, ${c.series} series, ${c.instances} instances`);
    const prefix = pseudonymPrefix(scale.stored);
    console.log(`qido at ${c.instances} instances (goal p95 < ${QIDO_GOAL_MS.instances} ms):`);
    let metLarge = (await timeQueries(url, instanceQueries(scale.stored, QIDO_STUDIES), QIDO_GOAL_MS.instances, QIDO_REQUESTS)).met;
    metLarge = (await timeProjectSearches(index, [`/instances?PatientName=${prefix}*&limit=25`, '/series?StudyDate=20220101-20220131&limit=100', '/instances?limit=25'], ['default'], QIDO_GOAL_MS.instances)) && metLarge;
    console.log(`  goal at ${c.instances} instances: ${metLarge ? 'met' : 'NOT met'}`);
  }

  printIngestRates(`ingest rate per decile (real path: files, one transaction each; ${INGEST_SAMPLE} instances sequentially at 0 and after each tenth):`, scale.deciles, scale.done);
}

runIfMain(module, main);
