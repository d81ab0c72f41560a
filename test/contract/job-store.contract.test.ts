/**
 * The JobStore contract: every implementation (SQLite, PostgreSQL) keeps the same queue. Two
 * "nodes" share one database in each (two SqliteJobStores on one file, two pools on one
 * PostgreSQL database): a job is claimed once whoever races for it, a lease that runs out passes
 * the job to the other node, a cancel stops the holder's renewals and updates, a onceKey makes
 * one job in the cluster.
 */
import type { Index, InstanceRecord } from '../../src/index/index';
import { SqliteJobStore } from '../../src/processing/jobs/sqlite-job-store';
import type { JobStore, NewJob } from '../../src/processing/jobs/job-store';
import { ALL_PROJECTS } from '../../src/auth/principal';
import { setLogLevel } from '../../src/log';
import { twoPostgresNodes, twoSqliteNodes } from '../support/two-nodes';

jest.setTimeout(120_000);
setLogLevel('warn');

interface Cluster {
  /** The index the jobs' studies are in (for the project filter of list()). */
  index: Index;
  /** Two nodes' stores on the same database. */
  a: JobStore;
  b: JobStore;
  close(): Promise<void>;
}

async function sqliteCluster(): Promise<Cluster> {
  const nodes = twoSqliteNodes('veilgate-jobs-');
  return { index: nodes.first, a: new SqliteJobStore(nodes.first.database), b: new SqliteJobStore(nodes.second.database), close: nodes.close };
}

async function postgresCluster(): Promise<Cluster> {
  const nodes = await twoPostgresNodes(4);
  return { index: nodes.first.index, a: nodes.first.jobs, b: nodes.second.jobs, close: nodes.close };
}

const BACKENDS: [string, () => Promise<Cluster>][] = [
  ['SQLite', sqliteCluster],
  ['PostgreSQL', postgresCluster],
];

let jobCounter = 0;
function newJob(over: Partial<NewJob> = {}): NewJob {
  const n = ++jobCounter;
  return { id: `job-${n}`, op: 'resample', study: '1.2.3', series: `1.2.3.${n}`, params: { spacing: [1, 1, n] }, client: 'c1', ...over };
}

/** A study of one project, so that list() has something to filter on. */
function studyIn(project: string, uid: string): InstanceRecord {
  const nul = null;
  return {
    studyUID: uid,
    seriesUID: `${uid}.1`,
    sopInstanceUID: `${uid}.1.1`,
    sopClassUID: '1.2.840.10008.5.1.4.1.1.2',
    transferSyntaxUID: '1.2.840.10008.1.2.1',
    instanceNumber: 1,
    blobKey: `b/${uid}`,
    size: 1,
    bulk: {},
    metadataJson: '{}',
    study: { patientName: nul, patientID: nul, patientBirthDate: nul, patientSex: nul, studyDate: nul, studyTime: nul, accessionNumber: nul, studyID: nul, referringPhysicianName: nul, studyDescription: nul, attributesJson: '{}' },
    series: { modality: 'CT', seriesNumber: 1, seriesDescription: nul, performedStartDate: nul, performedStartTime: nul, scheduledStepID: nul, requestedProcedureID: nul, attributesJson: '{}' },
    instanceAttributesJson: '{}',
    projects: [project],
    joiner: ALL_PROJECTS,
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Settle the queue between tests: no job of an earlier test is left queued or running. */
async function drain(s: JobStore): Promise<void> {
  for (const j of await s.list(100_000)) if (j.state === 'queued' || j.state === 'running') await s.cancel(j.id);
}

describe.each(BACKENDS)('JobStore contract: %s', (_backend, open) => {
  let c: Cluster;

  beforeAll(async () => {
    c = await open();
  });
  afterAll(async () => c?.close());
  afterEach(async () => drain(c.a));

  test('a new job is queued, seen by both nodes, counted', async () => {
    const before = await c.a.countByState();
    const job = newJob({ client: 'counted' });
    const created = await c.a.create(job);
    expect(created).toMatchObject({ id: job.id, op: 'resample', study: job.study, series: job.series, params: job.params, client: 'counted', state: 'queued', progress: 0, attempts: 0 });
    expect(created!.node).toBeUndefined();
    expect(Number.isNaN(Date.parse(created!.createdAt))).toBe(false);
    expect(await c.b.get(job.id)).toEqual(created);
    expect(await c.b.get('job-none')).toBeUndefined();
    expect(await c.b.activeFor('counted')).toBe(1);
    expect((await c.b.countByState()).queued).toBe(before.queued + 1);
    expect((await c.b.forSeries(job.study, job.series)).map((j) => j.id)).toEqual([job.id]);
  });

  test('claimNext takes the oldest queued job under a lease for its node', async () => {
    const first = (await c.a.create(newJob()))!;
    const second = (await c.a.create(newJob()))!;
    const claimed = await c.b.claimNext('node-b', 60_000);
    expect(claimed).toMatchObject({ id: first.id, state: 'running', node: 'node-b', attempts: 1, progress: 0 });
    expect(claimed!.startedAt).toBeDefined();
    expect((await c.a.claimNext('node-a', 60_000))?.id).toBe(second.id);
    expect(await c.a.claimNext('node-a', 60_000)).toBeUndefined();
    // claim(id) takes a queued job only.
    const third = (await c.a.create(newJob()))!;
    expect(await c.a.claim(first.id, 'node-a', 60_000)).toBeUndefined();
    expect(await c.b.claim(third.id, 'node-b', 60_000)).toMatchObject({ id: third.id, state: 'running', node: 'node-b', attempts: 1 });
    expect(await c.a.claim(third.id, 'node-a', 60_000)).toBeUndefined();
  });

  test('two nodes claiming 200 jobs at once never claim one twice', async () => {
    const ids = new Set<string>();
    for (let i = 0; i < 200; i++) ids.add((await c.a.create(newJob({ client: 'race' })))!.id);
    const claims: Record<string, string[]> = { a: [], b: [] };
    const worker = async (store: JobStore, node: 'a' | 'b') => {
      for (let job = await store.claimNext(node, 60_000); job; job = await store.claimNext(node, 60_000)) claims[node].push(job.id);
    };
    await Promise.all([worker(c.a, 'a'), worker(c.b, 'b'), worker(c.a, 'a'), worker(c.b, 'b')]);
    const all = [...claims.a, ...claims.b];
    expect(all.length).toBe(200);
    expect(new Set(all).size).toBe(200);
    expect(new Set(all)).toEqual(ids);
    // Each job names the node that claimed it, tried once.
    for (const id of claims.b.slice(0, 20)) expect(await c.a.get(id)).toMatchObject({ node: 'b', attempts: 1, state: 'running' });
  });

  test('a lease that runs out is recovered by the other node', async () => {
    const job = (await c.a.create(newJob()))!;
    await c.a.claimNext('node-a', 150);
    expect(await c.b.recoverExpired(3)).toEqual({ requeued: 0, failed: 0 }); // still held
    await sleep(400);
    expect(await c.b.recoverExpired(3)).toEqual({ requeued: 1, failed: 0 });
    const requeued = await c.b.get(job.id);
    expect(requeued).toMatchObject({ state: 'queued', progress: 0, attempts: 1 });
    expect(requeued!.node).toBeUndefined();
    expect(await c.b.claimNext('node-b', 60_000)).toMatchObject({ id: job.id, node: 'node-b', attempts: 2 });
    // The first node finds it no longer holds the job, and cannot change it.
    expect(await c.a.renew('node-a', [job.id], 60_000)).toEqual([job.id]);
    expect(await c.a.update(job.id, 'node-a', { progress: 80 })).toBe(false);
    expect(await c.a.update(job.id, 'node-a', { state: 'done' })).toBe(false);
    expect(await c.b.get(job.id)).toMatchObject({ state: 'running', node: 'node-b', progress: 0 });
  });

  test('renewing keeps a lease alive', async () => {
    const job = (await c.a.create(newJob()))!;
    await c.a.claimNext('node-a', 300);
    for (let i = 0; i < 3; i++) {
      await sleep(150);
      expect(await c.a.renew('node-a', [job.id, 'job-none'], 300)).toEqual(['job-none']);
    }
    expect(await c.b.recoverExpired(3)).toEqual({ requeued: 0, failed: 0 });
    expect(await c.b.renew('node-b', [job.id], 300)).toEqual([job.id]); // not b's
    expect(await c.a.renew('node-a', [], 300)).toEqual([]);
  });

  test('a restarted node takes back its jobs at once; too many tries fail the job', async () => {
    const job = (await c.a.create(newJob()))!;
    await c.a.claimNext('node-a', 60_000);
    await c.b.claimNext('node-b', 60_000); // nothing queued: no effect
    expect(await c.a.recoverExpired(2, 'node-b')).toEqual({ requeued: 0, failed: 0 });
    expect(await c.a.recoverExpired(2, 'node-a')).toEqual({ requeued: 1, failed: 0 });
    expect(await c.a.claimNext('node-a', 60_000)).toMatchObject({ id: job.id, attempts: 2 });
    expect(await c.a.recoverExpired(2, 'node-a')).toEqual({ requeued: 0, failed: 1 });
    const failed = await c.b.get(job.id);
    expect(failed).toMatchObject({ state: 'failed', attempts: 2 });
    expect(failed!.error).toMatch(/interrupted/);
    expect(failed!.finishedAt).toBeDefined();
    expect(failed!.node).toBeUndefined();
  });

  test('a cancel stops the holder: its renewal gives the id back and its updates are refused', async () => {
    const job = (await c.a.create(newJob({ client: 'cancels' })))!;
    await c.a.claimNext('node-a', 60_000);
    const cancelled = await c.b.cancel(job.id);
    expect(cancelled).toMatchObject({ id: job.id, state: 'cancelled' });
    expect(cancelled!.finishedAt).toBeDefined();
    expect(cancelled!.node).toBeUndefined();
    expect(await c.a.renew('node-a', [job.id], 60_000)).toEqual([job.id]);
    expect(await c.a.update(job.id, 'node-a', { progress: 50 })).toBe(false);
    expect(await c.a.update(job.id, 'node-a', { state: 'done', finishedAt: new Date().toISOString() })).toBe(false);
    expect(await c.a.get(job.id)).toMatchObject({ state: 'cancelled', progress: 0 });
    expect(await c.a.activeFor('cancels')).toBe(0);
    // A queued job is cancelled too; a finished one stays as it is; none is undefined.
    const queued = (await c.a.create(newJob()))!;
    expect(await c.b.cancel(queued.id)).toMatchObject({ state: 'cancelled' });
    expect(await c.a.claim(queued.id, 'node-a', 60_000)).toBeUndefined();
    const done = (await c.a.create(newJob()))!;
    await c.a.claim(done.id, 'node-a', 60_000);
    await c.a.update(done.id, 'node-a', { state: 'done' });
    expect(await c.b.cancel(done.id)).toMatchObject({ state: 'done' });
    expect(await c.b.cancel('job-none')).toBeUndefined();
  });

  test('the holder records progress and the outcome, then holds the job no more', async () => {
    const job = (await c.a.create(newJob()))!;
    await c.a.claimNext('node-a', 60_000);
    expect(await c.a.update(job.id, 'node-b', { progress: 10 })).toBe(false);
    expect(await c.a.update(job.id, 'node-a', { progress: 42.4 })).toBe(true);
    expect(await c.b.get(job.id)).toMatchObject({ progress: 42 });
    expect(await c.a.update(job.id, 'node-a', {})).toBe(true);
    const result = { series: [{ seriesInstanceUID: '1.2.9', kind: 'image' as const, instances: 3 }] };
    const finishedAt = new Date().toISOString();
    expect(await c.a.update(job.id, 'node-a', { state: 'done', progress: 100, result, finishedAt })).toBe(true);
    const done = await c.b.get(job.id);
    expect(done).toMatchObject({ state: 'done', progress: 100, result });
    expect(Date.parse(done!.finishedAt!)).toBe(Date.parse(finishedAt));
    expect(done!.node).toBeUndefined();
    expect(await c.a.update(job.id, 'node-a', { progress: 1 })).toBe(false);
    expect(await c.a.renew('node-a', [job.id], 60_000)).toEqual([job.id]);
    // A failure keeps its reason.
    const failing = (await c.a.create(newJob()))!;
    await c.a.claimNext('node-a', 60_000);
    expect(await c.a.update(failing.id, 'node-a', { state: 'failed', error: 'no pixels' })).toBe(true);
    expect(await c.b.get(failing.id)).toMatchObject({ state: 'failed', error: 'no pixels' });
  });

  test('a onceKey makes one job across both nodes', async () => {
    const once = 'rule:seg:1.2.3.44';
    const first = await c.a.create(newJob({ onceKey: once }));
    expect(first).toBeDefined();
    expect(await c.b.create(newJob({ onceKey: once }))).toBeUndefined();
    expect(await c.a.create(newJob({ onceKey: once }))).toBeUndefined();
    // Racing: ten creates with one new key from both nodes at once make exactly one job.
    const raced = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? c.a : c.b).create(newJob({ onceKey: 'rule:race' }))));
    expect(raced.filter(Boolean).length).toBe(1);
    // The key holds after the job is done.
    await drain(c.a);
    expect(await c.b.create(newJob({ onceKey: once }))).toBeUndefined();
    // Jobs without a key are never held back by one another.
    expect(await c.b.create(newJob())).toBeDefined();
    expect(await c.b.create(newJob())).toBeDefined();
  });

  test('list: newest first, limited, and only jobs on studies of the given projects', async () => {
    await c.index.insert(studyIn('p1', '1.2.826.7.1'));
    await c.index.insert(studyIn('p2', '1.2.826.7.2'));
    const p1a = (await c.a.create(newJob({ study: '1.2.826.7.1' })))!;
    const p2 = (await c.b.create(newJob({ study: '1.2.826.7.2' })))!;
    const p1b = (await c.a.create(newJob({ study: '1.2.826.7.1' })))!;
    expect((await c.b.list(3)).map((j) => j.id)).toEqual([p1b.id, p2.id, p1a.id]);
    expect((await c.b.list(2)).map((j) => j.id)).toEqual([p1b.id, p2.id]);
    expect((await c.b.list(10, ['p1'])).map((j) => j.id)).toEqual([p1b.id, p1a.id]);
    expect((await c.b.list(1, ['p1'])).map((j) => j.id)).toEqual([p1b.id]);
    expect((await c.b.list(10, ['p2', 'p1'])).map((j) => j.id)).toEqual([p1b.id, p2.id, p1a.id]);
    expect(await c.b.list(10, [])).toEqual([]);
    expect(await c.b.list(10, ['p9'])).toEqual([]);
  });
});
