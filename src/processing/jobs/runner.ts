/**
 * The job runner: takes queued jobs in order, runs up to `concurrency` at once, records
 * progress and outcome, and cancels on request. After a restart, jobs that were running are
 * queued again (or failed, once they have been interrupted too often).
 */
import { randomUUID } from 'node:crypto';
import type { Worker } from 'node:worker_threads';
import { VeilgateError, messageOf } from '../../errors';
import { log } from '../../log';
import { checkOutputSize, specParams, validateOperation } from '../operations';
import type { Limits } from '../../limits';
import { loadModelConfig } from '../model';
import { JobRecord, JobStore } from './job-store';
import { JobDeps, runJob } from './run-job';
import type { ReadIndex } from '../../index/index';

const MAX_ATTEMPTS = 2;

export class JobRunner {
  private readonly running = new Map<string, Worker | undefined>();
  private readonly cancelled = new Set<string>();
  private stopped = false;

  constructor(
    private readonly deps: JobDeps,
    private readonly store: JobStore,
    private readonly concurrency: number,
    private readonly limits: Pick<Limits, 'maxJobOutputVoxels' | 'maxQueuedJobsPerClient'>,
  ) {}

  start(): void {
    const recovered = this.store.recoverInterrupted(MAX_ATTEMPTS);
    if (recovered.requeued || recovered.failed) log.info('jobs-recovered', recovered);
    this.pump();
  }

  /** Queue a job; `visible` is the index as the submitter may see it (its series must be there). */
  async submit(op: string, study: string, series: string, rawParams: unknown, client: string, visible: ReadIndex = this.deps.index): Promise<JobRecord> {
    const spec = validateOperation(op, rawParams);
    checkOutputSize(spec, this.limits.maxJobOutputVoxels);
    if (this.store.activeFor(client) >= this.limits.maxQueuedJobsPerClient) {
      throw new VeilgateError('too-many-requests', `at most ${this.limits.maxQueuedJobsPerClient} jobs of one client may be queued or running at once`);
    }
    if (!(await visible.exists('series', { study, series }))) throw new VeilgateError('not-found', 'no such series');
    if (spec.op === 'model') loadModelConfig(this.deps.dataDir, spec.model); // 404 or 400 now, not when it runs
    if (spec.op === 'resample' && spec.reference && !(await visible.exists('series', spec.reference))) throw new VeilgateError('not-found', 'no such reference series');
    const job = this.store.create({ id: randomUUID(), op, study, series, params: specParams(spec), client });
    this.pump();
    return job;
  }

  cancel(id: string): JobRecord | undefined {
    const job = this.store.get(id);
    if (!job) return undefined;
    if (job.state === 'queued' || job.state === 'running') {
      this.cancelled.add(id);
      this.store.update(id, { state: 'cancelled', finishedAt: new Date().toISOString() });
      void this.running.get(id)?.terminate();
    }
    return this.store.get(id);
  }

  /** Stop taking jobs and stop running ones; they run again at the next start. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all([...this.running.values()].map((w) => w?.terminate()));
    // Nothing touches the index after stop() returns (the caller closes it next).
    await Promise.allSettled([...this.executions]);
  }

  private readonly executions = new Set<Promise<void>>();

  private pump(): void {
    while (!this.stopped && this.running.size < this.concurrency) {
      const job = this.store.claimNext();
      if (!job) return;
      this.running.set(job.id, undefined);
      const execution = this.execute(job);
      this.executions.add(execution);
      void execution.finally(() => this.executions.delete(execution));
    }
  }

  private async execute(job: JobRecord): Promise<void> {
    const started = Date.now();
    try {
      const result = await runJob(
        job,
        this.deps,
        (worker) => {
          this.running.set(job.id, worker);
          if (this.cancelled.has(job.id)) void worker.terminate(); // cancelled while the volume was loading
        },
        (progress) => this.stopped || this.cancelled.has(job.id) || this.store.update(job.id, { progress }),
      );
      if (!this.cancelled.has(job.id)) {
        this.store.update(job.id, { state: 'done', progress: 100, result, finishedAt: new Date().toISOString() });
      }
      log.info('job', { id: job.id, op: job.op, outcome: 'done', seconds: (Date.now() - started) / 1000 });
    } catch (e) {
      if (this.stopped) return; // interrupted: recovered at the next start
      if (!this.cancelled.has(job.id)) {
        this.store.update(job.id, { state: 'failed', error: messageOf(e), finishedAt: new Date().toISOString() });
      }
      log.info('job', { id: job.id, op: job.op, outcome: this.cancelled.has(job.id) ? 'cancelled' : 'failed' });
    } finally {
      this.running.delete(job.id);
      this.cancelled.delete(job.id);
      if (!this.stopped) this.pump();
    }
  }
}
