/**
 * Scale-out benchmark, in one run on one throw-away PostgreSQL server (durable, as a real one):
 *   1. the ingest rate per tenth from 0 to BENCH_SCALE_INSTANCES instances on PostgreSQL, through
 *      the gateway's real ingest path, flat within ±20% (bench/ingest-at-scale.ts fills the index
 *      between samples with rows of ingest's making, as core.ts does);
 *   2. the same on SQLite;
 *   3. Orthanc 1.10 with its PostgreSQL index on the same server (its own database), filled through
 *      its REST API to BENCH_SCALE_ORTHANC_INSTANCES and sampled at each tenth of its fill, against
 *      the gateway sampled the same way (over HTTP, one instance a request) at the same sizes;
 *   4. QIDO-RS p95 at BENCH_SCALE_INSTANCES instances on PostgreSQL, the core.ts set, over HTTP;
 *   5. STOW-RS throughput of one gateway node against two (child processes) on one PostgreSQL.
 * Prints figures only, and what the PostgreSQL server logged (slow statements, errors).
 * Run with `npm run bench:scale-out` (builds first), or `node dist/bench/scale-out.js`.
 *
 * Scale (environment):
 *   BENCH_SCALE_INSTANCES          instances on each gateway backend (default 1,000,000; ten a study)
 *   BENCH_SCALE_ORTHANC_INSTANCES  instances in Orthanc (default 100,000: it ingests a few hundred a second)
 *   BENCH_INGEST_SAMPLE            instances per ingest sample (default 1000)
 *   BENCH_QIDO_REQUESTS            requests per search (default 200)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import { envInt } from './env';
import { FILL_DESCRIPTION } from './ingest-at-scale';
import { orthancMissing } from './orthanc-postgres';
import { LOG_LINE_PREFIX, summarisePostgresLog } from './postgres-log';
import { STATEMENT_SETTINGS, enableStatements, printStatements, resetStatements, topStatements } from './postgres-statements';
import { startPostgresServer } from './postgres-server';
import { BackendRun, veilgateAtScale } from './scale-out-veilgate';
import { OrthancRun, orthancAtScale } from './scale-out-orthanc';
import { StowRun, stowOneNodeAgainstTwo } from './scale-out-stow';
import { Teardown } from './teardown';
import { mb, runIfMain } from './util';

const INSTANCES = envInt('BENCH_SCALE_INSTANCES', 1_000_000);
const ORTHANC_INSTANCES = envInt('BENCH_SCALE_ORTHANC_INSTANCES', 100_000);
const INGEST_SAMPLE = envInt('BENCH_INGEST_SAMPLE', 1000);
const QIDO_REQUESTS = envInt('BENCH_QIDO_REQUESTS', 200);
const INSTANCES_PER_STUDY = 10;
const QIDO_GOAL_MS = 20;
const ORTHANC_UPLOADS = 4;
/** Instances each server ingests untimed on each path before its first sample (they come on top of the sizes, like the samples). */
const WARMUP = 50;
const STOW_CLIENTS_PER_NODE = 2;
/** One study, and one study per client of the two-node run. */
const STOW = { instances: 500, size: 512, clientsPerNode: STOW_CLIENTS_PER_NODE, perRequest: 25, rounds: 2, layouts: [1, 2 * STOW_CLIENTS_PER_NODE] };
/** Statements slower than this are in the server's log, and reported. */
const SLOW_STATEMENT_MS = 50;
/** Durable (PostgreSQL's defaults) with room for a million instances, and a log of what was slow. */
const POSTGRES_SETTINGS = ['shared_buffers = 512MB', 'max_wal_size = 4GB', `log_min_duration_statement = ${SLOW_STATEMENT_MS}`, 'log_lock_waits = on', LOG_LINE_PREFIX, ...STATEMENT_SETTINGS];
/** Statements shown per phase. */
const TOP_STATEMENTS = 8;
const SCALE_DATABASE = 'veilgate_scale';

const tenthsOf = (total: number) => Array.from({ length: 11 }, (_, d) => Math.round((d * total) / 10));
const ratio = (a: number, b: number) => (a / b).toFixed(2);
const section = (title: string) => console.log(`\n== ${title} ==`);
/** Seconds as a person reads them. */
const duration = (seconds: number) => (seconds < 120 ? `${seconds.toFixed(0)} s` : seconds < 7200 ? `${(seconds / 60).toFixed(0)} min` : `${(seconds / 3600).toFixed(1)} h`);

async function query<T>(url: string, sql: string): Promise<T[]> {
  const client = new Client({ connectionString: url, application_name: 'veilgate-bench' });
  await client.connect();
  try {
    return (await client.query(sql)).rows as T[];
  } finally {
    await client.end();
  }
}

const databaseBytes = async (url: string) => Number((await query<{ n: string }>(url, 'SELECT pg_database_size(current_database()) AS n'))[0].n);

/** The SQLite index and its WAL and shared-memory files. */
async function sqliteBytes(dataDir: string): Promise<number> {
  return fs
    .readdirSync(dataDir)
    .filter((f) => f.startsWith('index.sqlite'))
    .reduce((a, f) => a + fs.statSync(path.join(dataDir, f)).size, 0);
}

function printBackendRatio(pg: BackendRun, sqlite: BackendRun): void {
  const pairs = pg.deciles.map((d, k) => `${d.at}: ${ratio(d.ingestRate, sqlite.deciles[k]?.ingestRate ?? NaN)}`);
  console.log(`postgresql / sqlite, the real path's rate at each tenth: ${pairs.join(', ')}; mean ${pg.summary.mean.toFixed(1)} / ${sqlite.summary.mean.toFixed(1)} = ${ratio(pg.summary.mean, sqlite.summary.mean)}`);
}

/** Each search's p95 on one backend against the other's (the same kinds of search; the UIDs and pseudonyms differ). */
function printQidoRatio(a: BackendRun, b: BackendRun): void {
  if (!a.qido || !b.qido) return;
  const pairs = a.qido.paths.map((p, k) => `${p.replace(/\/[\d.]{20,}/g, '/{uid}')} ${ratio(a.qido!.p95s[k], b.qido!.p95s[k])}`);
  console.log(`qido-rs p95 ${a.name} / ${b.name}, search by search: ${pairs.join('; ')}; worst ${a.qido.worstP95.toFixed(2)} / ${b.qido.worstP95.toFixed(2)} ms = ${ratio(a.qido.worstP95, b.qido.worstP95)}`);
}

/** Orthanc's samples beside the gateway's HTTP samples at the same sizes; the mean ratio per backend. */
function printPeerComparison(backends: BackendRun[], orthanc: OrthancRun): Map<string, number> {
  console.log(
    `orthanc against the gateway at equal index sizes (all over HTTP, one instance a request, ${INGEST_SAMPLE} sequentially on new small studies; ` +
      'sizes count the filled instances, the samples come on top):',
  );
  const ratios = new Map<string, number[]>(backends.map((b) => [b.name, []]));
  for (const o of orthanc.samples) {
    const ours = backends.map((b) => ({ name: b.name, rate: b.httpSamples.find((s) => s.at === o.at)?.ingestRate }));
    if (ours.some((x) => x.rate === undefined)) continue;
    for (const x of ours) ratios.get(x.name)!.push(x.rate! / o.ingestRate);
    console.log(
      `  at ${String(o.at).padStart(8)} instances: ${ours.map((x) => `veilgate ${x.name} ${x.rate!.toFixed(1)}/s`).join(', ')}, orthanc ${o.ingestRate.toFixed(1)}/s; ` +
        ours.map((x) => `${x.name} / orthanc ${ratio(x.rate!, o.ingestRate)}`).join(', '),
    );
  }
  const means = new Map<string, number>();
  for (const [name, rs] of ratios) if (rs.length) means.set(name, rs.reduce((a, b) => a + b, 0) / rs.length);
  console.log(`  mean ratio over ${ratios.values().next().value?.length ?? 0} sizes: ${[...means].map(([n, r]) => `${n} / orthanc ${r.toFixed(2)}`).join(', ')}`);
  if (orthanc.done < INSTANCES) {
    console.log(
      `  orthanc was filled to ${orthanc.done} instances, not ${INSTANCES} (BENCH_SCALE_ORTHANC_INSTANCES): its fill ran at ${orthanc.fillRate.toFixed(0)} instances/s, ` +
        `so ${INSTANCES} would take about ${duration(INSTANCES / orthanc.fillRate)}; the gateway's tenths above ${orthanc.done} have no peer figure`,
    );
  } else if (orthanc.done > INSTANCES) {
    console.log(`  orthanc's sizes above ${INSTANCES} (BENCH_SCALE_INSTANCES) have no gateway figure`);
  }
  return means;
}

function printStow(stow: StowRun): Map<number, number> {
  const cores = os.cpus().length;
  console.log(
    `stow-rs, one gateway node against two on one PostgreSQL: ${STOW.instances} CT ${STOW.size}x${STOW.size} instances, ${STOW.clientsPerNode} clients per node, ` +
      `${STOW.perRequest} instances a request, de-identification on, best of ${STOW.rounds} rounds; store file: (one folder shared by the nodes; ` +
      `an S3 store is not used here: the test S3 server, s3rver, runs only under jest); the nodes, PostgreSQL and the clients share ${cores} cores`,
  );
  const best = new Map<number, number>();
  for (const l of stow.layouts) {
    const one = Math.max(...l.one);
    const two = Math.max(...l.two);
    best.set(l.studies, two / one);
    const rounds = (xs: number[]) => xs.map((r) => r.toFixed(1)).join(' / ');
    console.log(
      `  ${l.studies === 1 ? '1 study' : `${l.studies} studies (whole ones per client)`}: one node ${rounds(l.one)} instances/s (${mb((l.bytes / STOW.instances) * one)} MB/s), ` +
        `two nodes ${rounds(l.two)} instances/s (${mb((l.bytes / STOW.instances) * two)} MB/s); two / one ${ratio(two, one)}`,
    );
  }
  return best;
}

function printServerLog(file: string): void {
  const { slow, errors } = summarisePostgresLog(file);
  const count = (gs: { count: number }[]) => gs.reduce((a, g) => a + g.count, 0);
  console.log(`postgresql server log: ${count(slow)} statements over ${SLOW_STATEMENT_MS} ms (log_min_duration_statement), ${count(errors)} errors`);
  for (const g of slow.slice(0, 12)) console.log(`  slow: ${g.count} x ${g.who} ${g.what} (longest ${g.maxMs!.toFixed(0)} ms, ${(g.totalMs! / 1000).toFixed(1)} s in all)`);
  for (const g of errors.slice(0, 12)) console.log(`  error: ${g.count} x ${g.who} ${g.what}`);
}

function printGatewayLogs(sources: { name: string; logged: Map<string, number> }[]): void {
  for (const { name, logged } of sources) {
    const entries = [...logged].sort((a, b) => b[1] - a[1]);
    console.log(`gateway log (${name}): ${entries.length ? entries.map(([k, n]) => `${n} x ${k}`).join(', ') : 'no warnings or errors'}`);
  }
}

export async function main(): Promise<void> {
  if (INSTANCES < 100) throw new Error('BENCH_SCALE_INSTANCES must be at least 100');
  const teardown = new Teardown();
  const t0 = performance.now();
  const elapsed: [string, number][] = [];
  const timed = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    const t = performance.now();
    try {
      return await fn();
    } finally {
      elapsed.push([what, (performance.now() - t) / 1000]);
    }
  };
  try {
    const pg = await startPostgresServer({ database: SCALE_DATABASE, durable: true, settings: POSTGRES_SETTINGS });
    teardown.add('PostgreSQL', pg.stop);
    const [facts] = await query<Record<string, string>>(
      pg.url,
      "SELECT current_setting('server_version') AS version, current_setting('fsync') AS fsync, current_setting('synchronous_commit') AS sync, current_setting('shared_buffers') AS buffers",
    );
    await enableStatements(pg.url);
    /** The phase's statements in PostgreSQL, then a clean slate for the next phase. */
    const statements = async (title: string, by: 'total' | 'mean', acrossDatabases = false) => {
      printStatements(title, await topStatements(pg.url, by, TOP_STATEMENTS, acrossDatabases));
      await resetStatements(pg.url);
    };
    await resetStatements(pg.url);
    const checkpoint = async () => void (await query(pg.url, 'CHECKPOINT'));
    const missing = orthancMissing();
    const studies = Math.round(INSTANCES / INSTANCES_PER_STUDY);
    console.log(
      `scale-out: ${INSTANCES} instances (${studies} studies of ${INSTANCES_PER_STUDY}, 8x8 CT) on each gateway backend, ${missing ? 'no' : ORTHANC_INSTANCES} in Orthanc; ` +
        `PostgreSQL ${facts.version} (throw-away, fsync ${facts.fsync}, synchronous_commit ${facts.sync}, shared_buffers ${facts.buffers}); ${os.cpus().length} cores, Node ${process.version}`,
    );
    console.log(
      `the gateway is filled with ${FILL_DESCRIPTION}; PostgreSQL takes a CHECKPOINT before each sample (Orthanc's too), SQLite a pause for its checkpointer; at 0 and each tenth the real path ` +
        `(files, one transaction an instance) ingests ${INGEST_SAMPLE} instances in-process, and at Orthanc's tenths ${INGEST_SAMPLE} more arrive over STOW-RS, one a request; ` +
        `every server first ingests ${WARMUP} untimed on each path (a fresh process's first instances pay for its warm-up)`,
    );
    const httpStops = missing ? [] : tenthsOf(ORTHANC_INSTANCES).filter((s) => s <= INSTANCES);
    const plan = { studies, total: INSTANCES, sampleSize: INGEST_SAMPLE, warmup: WARMUP, httpStops };

    section(`ingest on PostgreSQL, 0 to ${INSTANCES} instances; QIDO-RS at ${INSTANCES}`);
    const onPg = await timed('postgresql fill and qido', () =>
      veilgateAtScale(
        {
          ...plan,
          name: 'postgresql',
          indexUrl: pg.url,
          qido: { goalMs: QIDO_GOAL_MS, requests: QIDO_REQUESTS },
          indexBytes: () => databaseBytes(pg.url),
          // A checkpoint flushing gigabytes of the fill during a short sample made samples of one
          // run differ by 40% (one run: trend +14%, the next -32%, with no decline between).
          beforeSample: checkpoint,
          beforeQido: async () => {
            const t = performance.now();
            await query(pg.url, 'VACUUM (ANALYZE)');
            return (
              `VACUUM (ANALYZE) before the searches (${((performance.now() - t) / 1000).toFixed(0)} s): the steady state autovacuum keeps on a live server; ` +
              "the fill's million rows came faster than its cycle, and until the visibility map is set an offset page scans the heap"
            );
          },
          onPhase: (phase) =>
            phase === 'filled'
              ? statements('postgresql statements of the fill and its samples, the costliest in all first (pg_stat_statements):', 'total')
              : statements('postgresql statements of the searches, the slowest on average first:', 'mean'),
        },
        teardown,
      ),
    );
    section(`ingest on SQLite, 0 to ${INSTANCES} instances`);
    const onSqlite = await timed('sqlite fill and qido', () =>
      veilgateAtScale({ ...plan, name: 'sqlite', qido: { goalMs: QIDO_GOAL_MS, requests: QIDO_REQUESTS }, indexBytes: sqliteBytes }, teardown),
    );
    printBackendRatio(onPg, onSqlite);
    printQidoRatio(onPg, onSqlite);

    let orthanc: OrthancRun | undefined;
    let peerRatios = new Map<string, number>();
    section(`Orthanc on the same PostgreSQL, 0 to ${ORTHANC_INSTANCES} instances`);
    if (missing) console.log(`orthanc: skipped (${missing})`);
    else {
      const total = ORTHANC_INSTANCES;
      orthanc = await timed('orthanc fill', () =>
        orthancAtScale(pg, { studies: Math.max(1, Math.round(total / INSTANCES_PER_STUDY)), total, sampleSize: INGEST_SAMPLE, uploads: ORTHANC_UPLOADS, warmup: WARMUP, beforeSample: checkpoint }, teardown),
      );
      await statements("orthanc's statements during its fill and samples, the costliest in all first:", 'total');
      peerRatios = printPeerComparison([onPg, onSqlite], orthanc);
    }

    section('STOW-RS, one node against two');
    const stow = await timed('stow one node against two', () => stowOneNodeAgainstTwo(pg, STOW, teardown));
    const stowRatios = printStow(stow);
    await statements('postgresql statements of the STOW-RS runs (a database each, summed), the costliest in all first:', 'total', true);

    section('what the servers logged');
    printServerLog(pg.logFile);
    printGatewayLogs([
      { name: 'postgresql, in-process', logged: onPg.logged },
      { name: 'sqlite, in-process', logged: onSqlite.logged },
      { name: 'stow nodes', logged: stow.logged },
    ]);

    section('summary');
    for (const b of [onPg, onSqlite]) {
      const s = b.summary;
      console.log(
        `ingest on ${b.name}, 0 to ${b.done}: mean ${s.mean.toFixed(1)} instances/s, trend ${s.trend >= 0 ? '+' : ''}${(s.trend * 100).toFixed(0)}% ` +
          `(flat within 20%: ${Math.abs(s.trend) <= 0.2 ? 'met' : 'NOT met'}), largest deviation ${(s.spread * 100).toFixed(0)}%`,
      );
    }
    if (orthanc) {
      console.log(
        `orthanc, 0 to ${orthanc.done}: mean ${orthanc.summary.mean.toFixed(1)} instances/s, trend ${orthanc.summary.trend >= 0 ? '+' : ''}${(orthanc.summary.trend * 100).toFixed(0)}%; ` +
          `at equal sizes ${[...peerRatios].map(([n, r]) => `veilgate ${n} / orthanc ${r.toFixed(2)}`).join(', ')}`,
      );
    }
    if (onPg.qido && onSqlite.qido) {
      console.log(
        `qido-rs p95 at ${onPg.counts.instances} instances on postgresql: worst ${onPg.qido.worstP95.toFixed(2)} ms (goal < ${QIDO_GOAL_MS} ms: ${onPg.qido.met ? 'met' : 'NOT met'}); ` +
          `on sqlite worst ${onSqlite.qido.worstP95.toFixed(2)} ms`,
      );
    }
    console.log(`stow-rs two nodes / one node: ${[...stowRatios].map(([s, r]) => `${r.toFixed(2)} (${s} ${s === 1 ? 'study' : 'studies'})`).join(', ')}`);
    elapsed.push(['in all', (performance.now() - t0) / 1000]);
    console.log(`elapsed: ${elapsed.map(([w, s]) => `${w} ${duration(s)}`).join(', ')}`);
  } finally {
    await teardown.run();
  }
}

runIfMain(module, main);
