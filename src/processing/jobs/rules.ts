/**
 * Rules that queue jobs when a series arrives (off by default), for example every CT series
 * with at least 20 slices gets a body mask. A series is judged once it has been quiet (no new
 * instance) for a while, so a job never runs on half a series; derived objects never trigger
 * rules, so a rule's own results cannot set it off again. Each rule's job on a series is made at
 * most once, in the whole cluster (the job store's onceKey).
 */
import { createHash } from 'node:crypto';
import { log } from '../../log';
import { Index } from '../../index/index';
import { keyQuery } from '../../query/query';
import type { JobRunner } from './runner';
import type { JobStore } from './job-store';
import { specParams, validateOperation } from '../operations';

export interface JobRule {
  modality?: string;
  minInstances?: number;
  jobs: { op: string; params?: Record<string, unknown> }[];
}

/** Check rules at start-up, so a mistake is a configuration error and not a silent no-op. */
export function validateRules(rules: unknown): JobRule[] {
  if (!Array.isArray(rules)) throw new Error('configuration: jobRules must be a list');
  for (const r of rules as JobRule[]) {
    if (!Array.isArray(r?.jobs) || r.jobs.length === 0) throw new Error('configuration: each job rule needs jobs: [{ op, params }]');
    for (const j of r.jobs) validateOperation(j.op, j.params);
  }
  return rules as JobRule[];
}

export class IngestRules {
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly rules: JobRule[],
    private readonly index: Index,
    private readonly jobs: JobStore,
    private readonly runner: JobRunner,
    private readonly quietMs: number,
  ) {}

  /** Called for every instance an external source stored. */
  seriesGrew(study: string, series: string): void {
    if (!this.rules.length) return;
    const key = `${study}/${series}`;
    clearTimeout(this.timers.get(key));
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.apply(study, series).catch((e) => log.warn('job-rule-failed', { error: (e as Error).message }));
    }, this.quietMs);
    timer.unref();
    this.timers.set(key, timer);
  }

  stop(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  private async apply(study: string, series: string): Promise<void> {
    const found = await this.index.search(keyQuery('series', 'SeriesInstanceUID', series, 1, { study }));
    const info = found.rows[0]?.json;
    if (!info) return;
    const modality = String(info['00080060']?.Value?.[0] ?? '');
    const count = Number(info['00201209']?.Value?.[0] ?? 0);
    const existing = await this.jobs.forSeries(study, series);
    for (const rule of this.rules) {
      if (rule.modality && rule.modality !== modality) continue;
      if (rule.minInstances && count < rule.minInstances) continue;
      for (const j of rule.jobs) {
        const params = specParams(validateOperation(j.op, j.params));
        if (existing.some((e) => e.op === j.op && JSON.stringify(e.params) === JSON.stringify(params))) continue;
        // The key makes the job once in a cluster: every node that saw part of the series judges it.
        const onceKey = `rule ${createHash('sha256').update(JSON.stringify([study, series, j.op, params])).digest('hex')}`;
        const job = await this.runner.submit(j.op, study, series, j.params, 'rule', { onceKey });
        if (job) log.info('job-rule', { id: job.id, op: j.op, series });
      }
    }
  }
}
