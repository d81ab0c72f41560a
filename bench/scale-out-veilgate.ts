/**
 * One backend of scale-out.ts: an in-process gateway (startGateway, as core.ts starts it) on the
 * index a URL names, filled from empty to the total with ScaleFill (the ingest rate per tenth on
 * the real path), sampled besides over HTTP (STOW-RS, one instance a request) at the sizes the
 * peer is compared at, and optionally searched (QIDO-RS) once full.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadConfig } from '../src/config';
import { loadBackendsConfig } from '../src/core/backends-config';
import { setLogSink } from '../src/log';
import { startGateway } from '../src/server';
import { logKey } from './gateway-node';
import { RateSample, RateSummary, ScaleFill, printIngestRates, sampleIngest, sampleInstances, settle, timeSequential } from './ingest-at-scale';
import { instanceQueries, timeQueries } from './qido-queries';
import type { Teardown } from './teardown';
import { multipartBody } from './util';

export interface BackendPlan {
  /** For the output: "postgresql", "sqlite". */
  name: string;
  /** INDEX_URL; unset: the embedded SQLite under the data directory. */
  indexUrl?: string;
  studies: number;
  total: number;
  sampleSize: number;
  /** Instances ingested untimed on each path before the first sample: a fresh process's first ones pay for its warm-up (JIT, pool connections, prepared statements). */
  warmup: number;
  /** Fill sizes at which to sample over HTTP too (the peer's). */
  httpStops: number[];
  qido?: { goalMs: number; requests: number };
  /** The index's size on disk once full, in bytes. */
  indexBytes(dataDir: string): Promise<number>;
  /** Run before each ingest sample, at 0 and at each tenth. */
  beforeSample?: () => Promise<void>;
  /** Run before the searches, to bring the index to a server's steady state; says what it did. */
  beforeQido?: () => Promise<string>;
  /** Told when the fill is done and when the searches are, e.g. to report the database's statements. */
  onPhase?: (phase: 'filled' | 'searched') => Promise<void>;
}

export interface BackendRun {
  name: string;
  deciles: RateSample[];
  /** STOW-RS, one instance a request, sequentially, at the httpStops. */
  httpSamples: RateSample[];
  summary: RateSummary;
  done: number;
  counts: { studies: number; series: number; instances: number };
  /** The whole fill, its samples included. */
  seconds: number;
  indexBytes: number;
  qido?: { met: boolean; worstP95: number; p95s: number[]; paths: string[] };
  /** Warnings and errors the gateway logged, by event. */
  logged: Map<string, number>;
}

/** One STOW-RS request per instance, sequentially, the bodies built first: instances/s. */
async function stowSample(url: string, tag: string, size: number): Promise<number> {
  const bodies = sampleInstances(tag, size).map((b) => multipartBody([b]));
  return timeSequential(bodies, async ({ body, contentType }) => {
    const res = await fetch(`${url}/studies`, { method: 'POST', headers: { 'Content-Type': contentType, Accept: 'application/dicom+json' }, body });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`STOW sample: HTTP ${res.status} ${text.slice(0, 300)}`);
  });
}

export async function veilgateAtScale(plan: BackendPlan, teardown: Teardown): Promise<BackendRun> {
  const logged = new Map<string, number>();
  // The gateway's per-instance lines stay off the console; warnings and errors are counted for the report.
  setLogSink((line) => {
    if (!line.includes('"level":"warn"') && !line.includes('"level":"error"')) return;
    const key = logKey(line);
    logged.set(key, (logged.get(key) ?? 0) + 1);
  });
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `veilgate-bench-scale-${plan.name}-`));
  const base = loadConfig({});
  const gateway = await startGateway(
    loadConfig({}, { host: '127.0.0.1', port: 0, dataDir, dimse: { ...base.dimse, enabled: false, port: 0 }, backends: { ...loadBackendsConfig(undefined, {}), indexUrl: plan.indexUrl } }),
  );
  const stop = teardown.add(`the gateway on ${plan.name}`, async () => {
    await gateway.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });
  try {
    const url = `${gateway.config.publicUrl}/dicom-web`;
    const httpSamples: RateSample[] = [];
    const scale = new ScaleFill({
      index: gateway.index,
      deps: gateway.ingestDeps,
      studies: plan.studies,
      total: plan.total,
      sampleSize: plan.sampleSize,
      beforeSample: plan.beforeSample,
      extraStops: plan.httpStops,
      atStop: async (at) => {
        await settle();
        await plan.beforeSample?.();
        httpSamples.push({ at, ingestRate: await stowSample(url, `H${httpSamples.length}`, plan.sampleSize) });
      },
    });
    await sampleIngest(gateway.ingestDeps, 'W', plan.warmup);
    await stowSample(url, 'WH', plan.warmup);
    const t0 = performance.now();
    await scale.begin();
    await scale.grow(plan.total);
    const seconds = (performance.now() - t0) / 1000;
    const counts = await gateway.index.counts();
    const summary = printIngestRates(
      `ingest rate per tenth on ${plan.name} (real path: files, one transaction each; ${plan.sampleSize} instances sequentially at 0 and after each tenth):`,
      scale.deciles,
      scale.done,
    );
    const indexBytes = await plan.indexBytes(dataDir);
    console.log(
      `  index: ${counts.studies} studies, ${counts.series} series, ${counts.instances} instances (samples included); ` +
        `${(indexBytes / 2 ** 20).toFixed(0)} MB on disk, ${(indexBytes / counts.instances).toFixed(0)} bytes an instance; fill and samples took ${seconds.toFixed(0)} s`,
    );
    await plan.onPhase?.('filled');
    let qido: BackendRun['qido'];
    if (plan.qido) {
      if (plan.beforeQido) console.log(`  ${await plan.beforeQido()}`);
      console.log(`qido-rs on ${plan.name} at ${counts.instances} instances, over HTTP, the core.ts set (goal p95 < ${plan.qido.goalMs} ms):`);
      const paths = instanceQueries(scale.stored, plan.studies);
      qido = { ...(await timeQueries(url, paths, plan.qido.goalMs, plan.qido.requests)), paths };
      console.log(`  goal at ${counts.instances} instances: ${qido.met ? 'met' : 'NOT met'} (worst p95 ${qido.worstP95.toFixed(2)} ms)`);
      await plan.onPhase?.('searched');
    }
    return { name: plan.name, deciles: scale.deciles, httpSamples, summary, done: scale.done, counts, seconds, indexBytes, qido, logged };
  } finally {
    await stop();
  }
}
