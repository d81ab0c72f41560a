/**
 * Two gateway processes on one PostgreSQL index and one S3 bucket (both throw-away, started
 * here), as behind a load balancer: what one stores the other serves at once, byte for byte;
 * a job queued through one runs on either and can be cancelled through the other; a node killed
 * mid-job loses the job to the other; a rule fires once for a series that arrived through both;
 * C-MOVE from either node delivers to a dcmtk storescp; a node with another site secret refuses
 * to start.
 */
import { ChildProcess, execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { ensureBuilt, freePort, ServerProcess, startServer } from '../support/server-process';
import { startPostgres, TestPostgres } from '../support/postgres';
import { startS3, TestS3 } from '../support/s3';
import { SHARED_DATA, parseMultipart } from '../support/gateway';
import { filesIn } from '../support/local';

jest.setTimeout(240_000);

type Json = Record<string, { Value?: unknown[] }>;

const SERIES = path.join(SHARED_DATA, 'dcm_qa_ct/In/Philips/S21570/S2010');
const files = fs.readdirSync(SERIES).filter((n) => n !== 'DIRFILE').sort().map((n) => path.join(SERIES, n));

function run(cmd: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 60_000 }, (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, output: `${stdout}${stderr}` }));
  });
}

const stow = (node: ServerProcess, file: string) =>
  fetch(`${node.url}/studies`, { method: 'POST', headers: { 'Content-Type': 'application/dicom' }, body: fs.readFileSync(file) });

async function json(url: string, init?: RequestInit): Promise<unknown> {
  const res = await fetch(url, init);
  if (!res.ok) throw new Error(`${init?.method ?? 'GET'} ${url}: ${res.status} ${await res.text()}`);
  return res.json();
}

const api = (node: ServerProcess) => node.url.replace(/\/dicom-web$/, '/api');

interface JobView {
  id: string;
  state: string;
  node?: string;
  result?: { seriesInstanceUID: string }[];
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, ms = 90_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('two nodes on one PostgreSQL and one bucket', () => {
  let pg: TestPostgres;
  let s3: TestS3;
  let work: string;
  let storescp: ChildProcess;
  let storescpDir: string;
  const secret = randomBytes(32).toString('hex');
  const nodes: Record<'a' | 'b', ServerProcess> = {} as never;
  let env: Record<string, string>;

  const startNode = async (name: string, extra: Record<string, string> = {}) =>
    startServer({
      dataDir: fs.mkdtempSync(path.join(work, `node-${name}-`)),
      port: await freePort(),
      dimsePort: await freePort(),
      env: { ...env, NODE_ID: `node-${name}`, ...extra },
      timeoutMs: 60_000,
    });

  beforeAll(async () => {
    ensureBuilt();
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'veilgate-two-node-'));
    [pg, s3] = await Promise.all([startPostgres(), startS3()]);
    storescpDir = path.join(work, 'storescp');
    fs.mkdirSync(storescpDir);
    const storescpPort = await freePort();
    storescp = spawn('storescp', ['+xa', '-aet', 'STORESCP', '-od', storescpDir, String(storescpPort)], { stdio: 'ignore' });
    // One rule on every node: a CT series of 20 slices or more gets a body mask, once in the cluster.
    const configFile = path.join(work, 'veilgate.config.json');
    fs.writeFileSync(configFile, JSON.stringify({ jobRules: [{ modality: 'CT', minInstances: 20, jobs: [{ op: 'segment', params: { method: 'threshold', low: -500, high: 3000, structure: 'tissue' } }] }] }));
    env = {
      INDEX_URL: pg.url,
      STORE_URL: s3.url,
      AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
      AWS_REGION: 'us-east-1',
      SITE_SECRET: secret,
      CONFIG_FILE: configFile,
      JOB_RULES_QUIET_SECONDS: '2',
      JOB_LEASE_SECONDS: '3',
      DIMSE_ALLOWED_AE: 'PACS',
      DIMSE_DESTINATIONS: `STORESCP=127.0.0.1:${storescpPort}`,
    };
    [nodes.a, nodes.b] = await Promise.all([startNode('a'), startNode('b')]);
  });

  afterAll(async () => {
    storescp?.kill();
    await Promise.all(Object.values(nodes).map((n) => n?.kill('SIGTERM')));
    await Promise.all([pg?.stop(), s3?.stop()]);
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  let study: string;
  let series: string;

  test('a series stored half through each node is one series, served alike by both', async () => {
    const outcomes = await Promise.all(files.map((f, i) => stow(i % 2 ? nodes.b : nodes.a, f).then((r) => r.status)));
    expect(outcomes.every((s) => s === 200)).toBe(true);
    for (const node of [nodes.a, nodes.b]) {
      const found = (await json(`${node.url}/series?Modality=CT`)) as Json[];
      expect(found).toHaveLength(1);
      expect(found[0]['00201209'].Value).toEqual([files.length]);
      study = String(found[0]['0020000D'].Value![0]);
      series = String(found[0]['0020000E'].Value![0]);
    }
    // Every instance, whichever node stored it, is read back identically through both (the bucket holds one copy).
    const instances = (await json(`${nodes.a.url}/studies/${study}/series/${series}/instances`)) as Json[];
    expect(instances).toHaveLength(files.length);
    for (const inst of instances.slice(0, 6)) {
      const sop = String(inst['00080018'].Value![0]);
      const at = `/studies/${study}/series/${series}/instances/${sop}`;
      const [a, b] = await Promise.all(
        [nodes.a, nodes.b].map(async (n) => {
          const res = await fetch(`${n.url}${at}`, { headers: { Accept: 'multipart/related; type="application/dicom"' } });
          const parts = parseMultipart(Buffer.from(await res.arrayBuffer()), res.headers.get('content-type') ?? '');
          expect(parts).toHaveLength(1);
          return parts[0].body;
        }),
      );
      expect(a.length).toBeGreaterThan(100_000);
      expect(a.equals(b)).toBe(true);
      const [frameA, frameB] = await Promise.all(
        [nodes.a, nodes.b].map(async (n) => {
          const res = await fetch(`${n.url}${at}/frames/1`);
          return parseMultipart(Buffer.from(await res.arrayBuffer()), res.headers.get('content-type') ?? '')[0].body;
        }),
      );
      expect(frameA.length).toBe(512 * 512 * 2);
      expect(frameA.equals(frameB)).toBe(true);
    }
    // The same documents, each node's BulkDataURIs on its own base URL.
    const [metaA, metaB] = await Promise.all(
      [nodes.a, nodes.b].map(async (n) => JSON.stringify(await json(`${n.url}/studies/${study}/series/${series}/metadata`)).split(n.url).join('{base}')),
    );
    expect(JSON.parse(metaB)).toHaveLength(files.length);
    expect(metaB).toEqual(metaA);
  });

  test('the rule fires once in the cluster, though both nodes saw the series', async () => {
    const jobs = await waitFor('the rule job to finish', async () => {
      const list = (await json(`${api(nodes.b)}/jobs`)) as (JobView & { op: string })[];
      const rule = list.filter((j) => j.op === 'segment');
      return rule.length && rule.every((j) => j.state === 'done') ? rule : undefined;
    });
    await new Promise((r) => setTimeout(r, 3_000)); // past both nodes' quiet periods
    const again = ((await json(`${api(nodes.a)}/jobs`)) as (JobView & { op: string })[]).filter((j) => j.op === 'segment');
    expect(again).toHaveLength(1);
    expect(jobs[0].result).toHaveLength(1);
    // Its SEG is visible through both nodes.
    const seg = jobs[0].result![0].seriesInstanceUID;
    for (const node of [nodes.a, nodes.b]) {
      const found = (await json(`${node.url}/studies/${study}/series?SeriesInstanceUID=${seg}`)) as Json[];
      expect(found.map((s) => s['00080060'].Value![0])).toEqual(['SEG']);
    }
  });

  test('a job queued through one node can be cancelled through the other, wherever it runs', async () => {
    const submit = (node: ServerProcess) =>
      json(`${api(node)}/jobs`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ op: 'denoise', input: { study, series }, params: { method: 'median', radius: 3 } }),
      }) as Promise<JobView>;
    const job = await submit(nodes.a);
    const running = await waitFor('the job to run', async () => {
      const j = (await json(`${api(nodes.b)}/jobs/${job.id}`)) as JobView;
      return j.state === 'running' ? j : j.state === 'queued' ? undefined : j;
    });
    expect(running.state).toBe('running');
    expect(['node-a', 'node-b']).toContain(running.node);
    const other = running.node === 'node-a' ? nodes.b : nodes.a;
    const cancelled = (await json(`${api(other)}/jobs/${job.id}`, { method: 'DELETE' })) as JobView;
    expect(cancelled.state).toBe('cancelled');
    // The running node sees the cancel at its next renewal and stops: the job stays cancelled.
    await new Promise((r) => setTimeout(r, 6_000));
    expect(((await json(`${api(nodes.a)}/jobs/${job.id}`)) as JobView).state).toBe('cancelled');
    const runner = running.node === 'node-a' ? nodes.a : nodes.b;
    expect(runner.lines.some((l) => l.includes('"event":"job"') && l.includes(job.id) && l.includes('"outcome":"cancelled"'))).toBe(true);
  });

  test('a node killed mid-job loses the job to the other, which finishes it', async () => {
    const job = (await json(`${api(nodes.b)}/jobs`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ op: 'denoise', input: { study, series }, params: { method: 'median', radius: 2 } }),
    })) as JobView;
    const running = await waitFor('the job to run', async () => {
      const j = (await json(`${api(nodes.a)}/jobs/${job.id}`)) as JobView;
      return j.state === 'queued' ? undefined : j;
    });
    expect(running.state).toBe('running');
    const victim = running.node === 'node-a' ? 'a' : 'b';
    const survivor = victim === 'a' ? nodes.b : nodes.a;
    await nodes[victim].kill('SIGKILL');
    const done = await waitFor('the survivor to finish the job', async () => {
      const j = (await json(`${api(survivor)}/jobs/${job.id}`)) as JobView & { attempts?: number };
      return j.state === 'done' || j.state === 'failed' ? j : undefined;
    });
    expect(done.state).toBe('done');
    expect(done.node).toBeUndefined();
    // The other node made the result; it is there for everyone.
    const made = (await json(`${survivor.url}/studies/${study}/series?SeriesInstanceUID=${done.result![0].seriesInstanceUID}`)) as Json[];
    expect(made).toHaveLength(1);
    // The killed node comes back on the same queue.
    nodes[victim] = await startNode(`${victim}2`);
  });

  test('C-MOVE from either node delivers the series to the destination', async () => {
    for (const node of [nodes.a, nodes.b]) {
      for (const f of filesIn(storescpDir)) fs.rmSync(path.join(storescpDir, f));
      const move = await run('movescu', ['-S', '-aec', 'VEILGATE', '-aet', 'PACS', '127.0.0.1', String(node.dimsePort), '-aem', 'STORESCP', '-k', 'QueryRetrieveLevel=SERIES', '-k', `StudyInstanceUID=${study}`, '-k', `SeriesInstanceUID=${series}`]);
      expect(move.output).not.toMatch(/Failed|Refused/);
      expect(filesIn(storescpDir)).toHaveLength(files.length);
    }
  });

  test('a node whose site secret differs from the cluster refuses to start', async () => {
    await expect(startNode('c', { SITE_SECRET: randomBytes(32).toString('hex') })).rejects.toThrow(/site secret differs/);
  });
});
