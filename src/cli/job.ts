/**
 * `veilgate job <op> --study UID --series UID [--params JSON]`: run one processing operation
 * on a stored series from the command line, with a progress bar; the job is recorded in the
 * index like one queued over HTTP, and its results are published the same way.
 */
import { randomUUID } from 'node:crypto';
import { LEASE_MS } from '../processing/jobs/runner';
import { SingleBar, Presets } from 'cli-progress';
import { Config } from '../config';
import { openCore } from '../core/core';
import { setLogSink } from '../log';
import { checkOutputSize, specParams, validateOperation } from '../processing/operations';
import { loadModelConfig } from '../processing/model';
import { runJob } from '../processing/jobs/run-job';
import { JobRecord } from '../processing/jobs/job-store';
import { messageOf } from '../errors';

export interface JobArgs {
  op: string;
  study: string;
  series: string;
  params: unknown;
}

export function parseJobArgs(args: string[]): JobArgs {
  const [op, ...rest] = args;
  const opts: Record<string, string> = {};
  for (let i = 0; i < rest.length; i += 2) {
    if (!rest[i]?.startsWith('--') || rest[i + 1] === undefined) throw new Error(`expected --name value, got "${rest[i] ?? ''}"`);
    opts[rest[i].slice(2)] = rest[i + 1];
  }
  if (!op || !opts.study || !opts.series) throw new Error('usage: veilgate job <op> --study UID --series UID [--params JSON]');
  let params: unknown = {};
  if (opts.params) {
    try {
      params = JSON.parse(opts.params);
    } catch {
      throw new Error('--params must be JSON');
    }
  }
  return { op, study: opts.study, series: opts.series, params };
}

export async function runJobCommand(a: JobArgs, config: Config, options: { progress?: boolean } = {}): Promise<JobRecord> {
  const spec = validateOperation(a.op, a.params);
  const core = await openCore(config);
  setLogSink(() => undefined);
  const jobs = core.jobs;
  // This process's own name in the queue: a server beside it must not take its job back.
  const node = `cli-${process.pid}-${randomUUID().slice(0, 8)}`;
  const bar = options.progress ? new SingleBar({ format: `${a.op} [{bar}] {percentage}%`, hideCursor: true }, Presets.shades_classic) : undefined;
  try {
    if (spec.op === 'model') loadModelConfig(config.dataDir, spec.model);
    if (!(await core.index.exists('series', { study: a.study, series: a.series }))) throw new Error('no such series');
    checkOutputSize(spec, config.limits.maxJobOutputVoxels);
    const id = randomUUID();
    await jobs.create({ id, op: a.op, study: a.study, series: a.series, params: specParams(spec), client: 'cli' });
    // Take this job at once, as the runner would (a server beside may hold others queued), and
    // hold its lease while it runs.
    const job = (await jobs.claim(id, node, LEASE_MS))!;
    const lease = setInterval(() => void jobs.renew(node, [id], LEASE_MS).catch(() => undefined), LEASE_MS / 3);
    bar?.start(100, 0);
    try {
      const result = await runJob(job, { ...core, dataDir: config.dataDir }, () => undefined, (p) => {
        bar?.update(Math.round(p));
        void jobs.update(job.id, node, { progress: p });
      });
      await jobs.update(job.id, node, { state: 'done', progress: 100, result, finishedAt: new Date().toISOString() });
    } catch (e) {
      await jobs.update(job.id, node, { state: 'failed', error: messageOf(e), finishedAt: new Date().toISOString() });
    } finally {
      clearInterval(lease);
    }
    return (await jobs.get(job.id))!;
  } finally {
    bar?.stop();
    await core.close();
  }
}
