/**
 * Core benchmark: STOW-RS throughput, series metadata latency, WADO-RS retrieve
 * throughput and QIDO-RS latency over a 10,000-study index. Prints figures only.
 * Run with `npm run bench` (builds first), or `node dist/bench/core.js`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadConfig } from '../src/config';
import { startGateway } from '../src/server';
import { setLogSink } from '../src/log';
import { ingest } from '../src/ingest/ingest';
import { randomUid, syntheticInstance } from '../src/synthetic/instances';
import { mb, ms, percentile, multipartBody, runIfMain } from './util';

const STOW_INSTANCES = 500;
const STOW_BATCH = 50;
const METADATA_REQUESTS = 30;
const RETRIEVE_REPEATS = 5;
const QIDO_STUDIES = 10_000;
const QIDO_REQUESTS = 200;

async function getOk(url: string, accept: string): Promise<Response> {
  const res = await fetch(url, { headers: { Accept: accept } });
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`);
  return res;
}

/** Time `n` sequential GETs that read the whole body; returns durations and the last body. */
async function timeGets(url: string, accept: string, n: number): Promise<{ times: number[]; body: string }> {
  const times: number[] = [];
  let body = '';
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    body = await (await getOk(url, accept)).text();
    times.push(performance.now() - t0);
  }
  return { times, body };
}

/** YYYYMMDD for a day offset from 2020-01-01, so dates spread over 2020-2024. */
function studyDate(i: number): string {
  const days = i % 1827; // 2020-01-01 .. 2024-12-31
  return new Date(Date.UTC(2020, 0, 1 + days)).toISOString().slice(0, 10).replace(/-/g, '');
}

export async function main(): Promise<void> {
  // Keep the gateway's per-instance log lines off the console, but count errors to report them.
  let errorLines = 0;
  setLogSink((line) => {
    if (line.includes('"level":"error"')) errorLines++;
  });
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'veilgate-bench-'));
  const gateway = await startGateway(loadConfig({}, { host: '127.0.0.1', port: 0, dataDir }));
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

    // --- Series metadata: one JSON document per instance, precomputed at ingest.
    const meta = await timeGets(`${seriesURL}/metadata`, 'application/dicom+json', METADATA_REQUESTS);
    console.log(
      `metadata (series of ${STOW_INSTANCES}): ${METADATA_REQUESTS} requests, p50 ${ms(percentile(meta.times, 0.5))} ms, ` +
        `p95 ${ms(percentile(meta.times, 0.95))} ms, ${(Buffer.byteLength(meta.body) / 1024).toFixed(0)} KB each, ${JSON.parse(meta.body).length} instances`,
    );

    // --- WADO-RS retrieve: the body is read as a stream and only counted, never held whole.
    let retrieved = 0;
    const t1 = performance.now();
    for (let i = 0; i < RETRIEVE_REPEATS; i++) {
      const res = await getOk(seriesURL, 'multipart/related; type="application/dicom"; transfer-syntax=*');
      const reader = res.body!.getReader();
      for (let r = await reader.read(); !r.done; r = await reader.read()) retrieved += r.value.length;
    }
    const retrieveSeconds = (performance.now() - t1) / 1000;
    console.log(
      `retrieve (series): ${RETRIEVE_REPEATS} x ${mb(retrieved / RETRIEVE_REPEATS)} MB in ${retrieveSeconds.toFixed(2)} s -> ${mb(retrieved / retrieveSeconds)} MB/s`,
    );

    // --- QIDO-RS over 10,000 studies. Filled through ingest() directly, skipping HTTP, for speed.
    const small: Buffer[] = [];
    for (let i = 0; i < QIDO_STUDIES; i++) {
      small.push(
        syntheticInstance({ rows: 8, columns: 8, patientName: `Name${i}^Given`, patientID: `PID${i}`, studyDate: studyDate(i), accessionNumber: `ACC${i}` })
          .bytes,
      );
    }
    const t2 = performance.now();
    let rejected = 0;
    for (const bytes of small) {
      const result = await ingest({ kind: 'part10', bytes }, { source: 'bench' }, gateway.ingestDeps);
      if (!result.ok) rejected++;
    }
    const ingestSeconds = (performance.now() - t2) / 1000;
    console.log(
      `ingest (direct, sequential): ${QIDO_STUDIES} small instances in ${ingestSeconds.toFixed(2)} s -> ` +
        `${(QIDO_STUDIES / ingestSeconds).toFixed(1)} instances/s${rejected ? `, ${rejected} REJECTED` : ''}`,
    );

    const queries = ['/studies?limit=25', '/studies?PatientID=PID5000', '/studies?PatientName=name5*&limit=25', '/studies?StudyDate=20220101-20220131&limit=100'];
    for (const q of queries) {
      const { times, body } = await timeGets(url + q, 'application/dicom+json', QIDO_REQUESTS);
      console.log(
        `qido ${q}: ${QIDO_REQUESTS} requests, p50 ${ms(percentile(times, 0.5))} ms, p95 ${ms(percentile(times, 0.95))} ms, ${JSON.parse(body).length} results`,
      );
    }

    console.log(`peak RSS: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`); // maxRSS is in KiB
    if (errorLines) console.log(`gateway logged ${errorLines} error line(s)`);
  } finally {
    await gateway.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

runIfMain(module, main);
