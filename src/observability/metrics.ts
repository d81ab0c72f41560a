/**
 * Prometheus metrics (prom-client), one registry per gateway: ingest outcomes by source,
 * request latency per route, heavy work running and waiting, the worker pool's threads and the
 * tasks they finished, the job queue, event-loop lag
 * and the process's own figures (open descriptors, memory) from prom-client's defaults.
 */
import type { WorkerPool } from '../workers/pool';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Request, Response, NextFunction } from 'express';
import type { Admission, HeavyWork } from '../admission';
import type { JobStore } from '../processing/jobs/job-store';

const HEAVY: HeavyWork[] = ['render', 'transcode', 'decode', 'zip', 'nifti'];

export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly ingests: Counter<'outcome' | 'source'>;
  private readonly requests: Histogram<'method' | 'route' | 'status'>;

  constructor(admission: Admission, jobs: JobStore, workers?: WorkerPool) {
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 10 });
    this.ingests = new Counter({ name: 'veilgate_ingest_total', help: 'Instances through the ingest path, by outcome and source', labelNames: ['outcome', 'source'], registers: [this.registry] });
    this.requests = new Histogram({
      name: 'veilgate_http_request_duration_seconds',
      help: 'HTTP request latency by route',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [this.registry],
    });
    new Gauge({
      name: 'veilgate_heavy_work',
      help: 'Heavy requests running and waiting for a slot, by kind',
      labelNames: ['kind', 'state'],
      registers: [this.registry],
      collect() {
        for (const kind of HEAVY) {
          const load = admission.load(kind);
          this.set({ kind, state: 'active' }, load.active);
          this.set({ kind, state: 'waiting' }, load.waiting);
        }
      },
    });
    new Gauge({
      name: 'veilgate_worker_threads',
      help: 'Worker threads of the request pool: busy, idle, and tasks queued for one',
      labelNames: ['state'],
      registers: [this.registry],
      collect() {
        const load = workers?.load() ?? { threads: 0, busy: 0, queued: 0 };
        this.set({ state: 'busy' }, load.busy);
        this.set({ state: 'idle' }, load.threads - load.busy);
        this.set({ state: 'queued' }, load.queued);
      },
    });
    // The pool counts; the counter catches up with it when scraped.
    const counted = new Map<string, number>();
    new Counter({
      name: 'veilgate_worker_tasks_total',
      help: 'Tasks the request pool\'s worker threads finished, by task',
      labelNames: ['task'],
      registers: [this.registry],
      collect() {
        for (const [task, n] of workers?.completedByTask ?? []) {
          const more = n - (counted.get(task) ?? 0);
          if (more > 0) this.inc({ task }, more);
          counted.set(task, n);
        }
      },
    });
    new Gauge({
      name: 'veilgate_jobs',
      help: 'Processing jobs by state',
      labelNames: ['state'],
      registers: [this.registry],
      // prom-client awaits an async collect: the counts come from the (possibly shared) job store.
      async collect() {
        for (const [state, n] of Object.entries(await jobs.countByState())) this.set({ state }, n);
      },
    });
  }

  /** One instance through ingest; `source` is the kind of its origin (stow, dimse, import, job, nifti-post), never an address. */
  ingested(outcome: string, source: string): void {
    this.ingests.inc({ outcome, source });
  }

  /** Express middleware timing every request by its route pattern (never its values: no UIDs in labels). */
  middleware() {
    return (req: Request, res: Response, next: NextFunction) => {
      const end = this.requests.startTimer();
      res.once('finish', () => {
        const route = req.route?.path ? `${req.baseUrl}${req.route.path}` : 'unmatched';
        end({ method: req.method, route, status: String(res.statusCode) });
      });
      next();
    };
  }
}
