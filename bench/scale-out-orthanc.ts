/**
 * The peer of scale-out.ts: Orthanc on the benchmark's PostgreSQL server (its own database),
 * filled through POST /instances with several uploads in flight from the same synthetic archive
 * as the gateway, and at 0 and every tenth of its fill sampled the way the gateway's HTTP samples
 * are taken: one instance a request, sequentially, on new small studies.
 */
import { performance } from 'node:perf_hooks';
import { RateSample, RateSummary, SyntheticArchive, printIngestRates, sampleInstances, settle, timeSequential } from './ingest-at-scale';
import { OrthancPeer, fillOrthanc, postInstance, startOrthanc } from './orthanc-postgres';
import type { PostgresServer } from './postgres-server';
import type { Teardown } from './teardown';

export interface OrthancPlan {
  studies: number;
  total: number;
  sampleSize: number;
  /** Uploads in flight during the fill. */
  uploads: number;
  /** Instances posted untimed before the first sample, as the gateway is warmed up. */
  warmup: number;
  /** Run before each sample, as for the gateway on the same server (a checkpoint). */
  beforeSample?: () => Promise<void>;
}

export interface OrthancRun {
  samples: RateSample[];
  summary: RateSummary;
  done: number;
  /** Instances/s of the fill alone, over the whole fill. */
  fillRate: number;
  /** The whole fill, its samples included. */
  seconds: number;
  system: OrthancPeer['system'];
}

const DATABASE = 'orthanc';

export async function orthancAtScale(pg: PostgresServer, plan: OrthancPlan, teardown: Teardown): Promise<OrthancRun> {
  await pg.createDatabase(DATABASE);
  const peer = await startOrthanc({ host: pg.host, port: pg.port, user: pg.user, database: DATABASE });
  const stop = teardown.add('Orthanc', peer.stop);
  try {
    console.log(
      `orthanc ${peer.system.Version}: index ${peer.system.DatabaseBackendPlugin ?? 'built-in SQLite'} (database version ${peer.system.DatabaseVersion ?? '?'}), ` +
        `files in a temporary folder; filled with ${plan.uploads} uploads in flight`,
    );
    const archive = new SyntheticArchive(plan.studies, plan.total);
    const samples: RateSample[] = [];
    const sample = async (at: number, fillRate?: number) => {
      await settle();
      await plan.beforeSample?.();
      const rate = await timeSequential(sampleInstances(`O${samples.length}`, plan.sampleSize), (b) => postInstance(peer.url, b));
      samples.push({ at, fillRate, ingestRate: rate });
    };
    await timeSequential(sampleInstances('OW', plan.warmup), (b) => postInstance(peer.url, b));
    const t0 = performance.now();
    let done = 0;
    let fillMs = 0;
    await sample(0);
    for (let d = 1; d <= 10; d++) {
      const boundary = Math.round((d * plan.total) / 10);
      const t = performance.now();
      const n = await fillOrthanc(peer.url, archive.take, boundary - done, plan.uploads);
      const ms = performance.now() - t;
      fillMs += ms;
      done += n;
      if (n > 0) await sample(done, n / (ms / 1000));
    }
    const seconds = (performance.now() - t0) / 1000;
    const summary = printIngestRates(
      `orthanc ingest rate per tenth of its fill (POST /instances, one instance a request, ${plan.sampleSize} sequentially at 0 and after each tenth):`,
      samples,
      done,
      `${plan.uploads} uploads in flight before it`,
    );
    console.log(`  orthanc: ${done} instances filled (and ${samples.length * plan.sampleSize} sampled) in ${seconds.toFixed(0)} s`);
    return { samples, summary, done, fillRate: done / (fillMs / 1000), seconds, system: peer.system };
  } finally {
    await stop();
  }
}
