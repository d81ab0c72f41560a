/**
 * The job runner: takes queued jobs in order from the shared queue (the job store), runs up to
 * `concurrency` at once on this node, records progress and outcome, and cancels on request.
 *
 * It holds each running job under a lease it renews every RENEW_MS; a job whose lease runs out
 * (this node died) is queued again by whichever node recovers next, and this node's own jobs are
 * queued again at once when it restarts. A cancel may arrive through any node: it is a state in
 * the store, which the renewal reads, and the job's thread is stopped here.
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
/** A node that has not renewed for this long is taken for dead (the default of jobLeaseSeconds). */
export const LEASE_MS = 30_000;
/** Leases are renewed (and cancels through other nodes seen) this often. */
const RENEW_MS = 2_000;
/** Queued jobs are looked for this often (another node may have queued them). */
const POLL_MS = 1_000;

export interface SubmitOptions {
  /** The index as the submitter may see it (the series must be there). */
  visible?: ReadIndex;
  /** Create the job only if no job holds this key (a rule's job). */
  onceKey?: string;
}

export class JobRunner {
  private readonly running = new Map<string, Worker | undefined>();
  private readonly cancelled = new Set<string>();
  private stopped = false;
  private timer?: NodeJS.Timeout;
  private pumping = false;
  private pumpAgain = false;

  constructor(
    private readonly deps: JobDeps,
    private readonly store: JobStore,
    private readonly node: string,
    private readonly concurrency: number,
    private readonly limits: Pick<Limits, 'maxJobOutputVoxels' | 'maxQueuedJobsPerClient'>,
    private readonly leaseMs = LEASE_MS,
  ) {}

  start(): void {
    void this.store.recoverExpired(MAX_ATTEMPTS, this.node).then(
      (recovered) => {
        if (recovered.requeued || recovered.failed) log.info('jobs-recovered', recovered);
        this.pump();
      },
      (e) => log.error('jobs-recover-failed', { error: messageOf(e) }),
    );
    let ticks = 0;
    this.timer = setInterval(() => {
      if (++ticks % Math.max(1, Math.round(Math.min(RENEW_MS, this.leaseMs / 3) / POLL_MS)) === 0) void this.renew();
      // Another node's jobs whose node died: taken back here as well as anywhere.
      if (ticks % Math.max(1, Math.round(this.leaseMs / POLL_MS / 3)) === 0) void this.store.recoverExpired(MAX_ATTEMPTS).catch(() => undefined);
      this.pump();
    }, POLL_MS);
    this.timer.unref();
  }

  /** Queue a job; undefined when its onceKey is taken. */
  async submit(op: string, study: string, series: string, rawParams: unknown, client: string, options: SubmitOptions = {}): Promise<JobRecord | undefined> {
    const visible = options.visible ?? this.deps.index;
    const spec = validateOperation(op, rawParams);
    checkOutputSize(spec, this.limits.maxJobOutputVoxels);
    if ((await this.store.activeFor(client)) >= this.limits.maxQueuedJobsPerClient) {
      throw new VeilgateError('too-many-requests', `at most ${this.limits.maxQueuedJobsPerClient} jobs of one client may be queued or running at once`);
    }
    if (!(await visible.exists('series', { study, series }))) throw new VeilgateError('not-found', 'no such series');
    if (spec.op === 'model') loadModelConfig(this.deps.dataDir, spec.model); // 404 or 400 now, not when it runs
    if (spec.op === 'resample' && spec.reference && !(await visible.exists('series', spec.reference))) throw new VeilgateError('not-found', 'no such reference series');
    if (spec.op === 'register') {
      if (!(await visible.exists('series', spec.fixed))) throw new VeilgateError('not-found', 'no such fixed series');
      // The result is published in the fixed series' study: the moving series' pixels may go only
      // where its own projects reach (refused as if the fixed series were unknown).
      const [moving, fixed] = await Promise.all([this.deps.index.studyProjects(study), this.deps.index.studyProjects(spec.fixed.study)]);
      if (!moving.some((p) => fixed.includes(p))) throw new VeilgateError('not-found', 'no such fixed series');
    }
    const job = await this.store.create({ id: randomUUID(), op, study, series, params: specParams(spec), client, onceKey: options.onceKey });
    this.pump();
    return job;
  }

  async cancel(id: string): Promise<JobRecord | undefined> {
    const job = await this.store.cancel(id);
    if (job?.state === 'cancelled') this.stopLocal(id);
    return job;
  }

  private stopLocal(id: string): void {
    if (!this.running.has(id)) return;
    this.cancelled.add(id);
    void this.running.get(id)?.terminate();
  }

  /** Renew this node's leases; stop jobs it no longer holds (cancelled through another node). */
  private async renew(): Promise<void> {
    const ids = [...this.running.keys()].filter((id) => !this.cancelled.has(id));
    if (!ids.length) return;
    try {
      for (const id of await this.store.renew(this.node, ids, this.leaseMs)) this.stopLocal(id);
    } catch (e) {
      log.warn('job-lease-renew-failed', { error: messageOf(e) });
    }
  }

  /** Stop taking jobs and stop running ones; they run again at the next start. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await Promise.all([...this.running.values()].map((w) => w?.terminate()));
    // Nothing touches the index after stop() returns (the caller closes it next).
    await Promise.allSettled([...this.executions]);
    while (this.pumping) await new Promise((r) => setTimeout(r, 5));
  }

  private readonly executions = new Set<Promise<void>>();

  /** Claim jobs while there is room; one claim loop at a time (claims are asynchronous). */
  private pump(): void {
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    void (async () => {
      try {
        do {
          this.pumpAgain = false;
          while (!this.stopped && this.running.size < this.concurrency) {
            const job = await this.store.claimNext(this.node, this.leaseMs);
            if (!job) break;
            if (this.stopped) break; // claimed as we stopped: its lease is ours, recovered at our restart
            this.running.set(job.id, undefined);
            const execution = this.execute(job);
            this.executions.add(execution);
            void execution.finally(() => this.executions.delete(execution));
          }
        } while (this.pumpAgain && !this.stopped);
      } catch (e) {
        log.warn('job-claim-failed', { error: messageOf(e) });
      } finally {
        this.pumping = false;
      }
    })();
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
        (progress) => {
          if (this.stopped || this.cancelled.has(job.id)) return;
          void this.store.update(job.id, this.node, { progress }).then((held) => held || this.stopLocal(job.id), () => undefined);
        },
      );
      // Recorded only if this node still holds it: a job cancelled meanwhile stays cancelled.
      if (!this.cancelled.has(job.id)) await this.store.update(job.id, this.node, { state: 'done', progress: 100, result, finishedAt: new Date().toISOString() });
      log.info('job', { id: job.id, op: job.op, outcome: 'done', seconds: (Date.now() - started) / 1000 });
    } catch (e) {
      if (this.stopped) return; // interrupted: recovered at the next start
      if (!this.cancelled.has(job.id)) await this.store.update(job.id, this.node, { state: 'failed', error: messageOf(e), finishedAt: new Date().toISOString() }).catch(() => undefined);
      log.info('job', { id: job.id, op: job.op, outcome: this.cancelled.has(job.id) ? 'cancelled' : 'failed' });
    } finally {
      this.running.delete(job.id);
      this.cancelled.delete(job.id);
      if (!this.stopped) this.pump();
    }
  }
}
