/**
 * Routing rules (egress.routes): a series that arrived from outside is judged once it has been
 * quiet (no new instance) for quietSeconds — the same notice job rules take
 * (ingestDeps.onExternalStored) — and a series a processing job made is judged as soon as the
 * job has stored it. When a route's conditions hold, the series (its instances of the route's
 * SOP classes) is queued to each of the route's destinations.
 *
 * A route's transfer of one series to one destination is made once in the cluster (the store's
 * onceKey), whichever nodes judged it; instances that arrive after it was made join that same
 * transfer, so a late slice is forwarded too and nothing is queued twice.
 */
import { createHash, randomUUID } from 'node:crypto';
import { log } from '../log';
import { messageOf } from '../errors';
import type { Index } from '../index/index';
import { keyQuery } from '../query/query';
import { EgressConfig, Route, matchesPattern } from './config';
import type { TransferStore } from './transfer-store';

export interface RouteDeps {
  index: Index;
  transfers: TransferStore;
  config: EgressConfig;
  quietMs: number;
  /** Told when items were queued (the sender loop looks for work). */
  queued: () => void;
}

function text(json: Record<string, { Value?: unknown[] }> | undefined, tag: string): string {
  const v = json?.[tag]?.Value?.[0];
  return v === undefined || v === null ? '' : String(v);
}

export class EgressRoutes {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly ingestRoutes: Route[];
  private readonly jobRoutes: Route[];
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly deps: RouteDeps) {
    this.ingestRoutes = deps.config.routes.filter((r) => r.from === 'ingest');
    this.jobRoutes = deps.config.routes.filter((r) => r.from === 'jobs');
  }

  /** Called for every instance an external source stored. */
  seriesGrew(study: string, series: string): void {
    if (!this.ingestRoutes.length) return;
    const key = `${study}/${series}`;
    clearTimeout(this.timers.get(key));
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.track(this.apply(this.ingestRoutes, study, series));
    }, this.deps.quietMs);
    timer.unref();
    this.timers.set(key, timer);
  }

  /** Called when a processing job has stored a derived series (complete: no need to wait). */
  jobResultStored(study: string, series: string): void {
    if (this.jobRoutes.length) this.track(this.apply(this.jobRoutes, study, series));
  }

  private track(p: Promise<void>): void {
    const q = p.catch((e) => log.warn('egress-route-failed', { error: messageOf(e) })).finally(() => this.pending.delete(q));
    this.pending.add(q);
  }

  async stop(): Promise<void> {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    await Promise.allSettled([...this.pending]);
  }

  private async apply(routes: Route[], study: string, series: string): Promise<void> {
    const { index, transfers } = this.deps;
    const found = await index.search({ ...keyQuery('series', 'SeriesInstanceUID', series, 1, { study }), includeFields: ['0008103E'] });
    const info = found.rows[0]?.json as Record<string, { Value?: unknown[] }> | undefined;
    if (!info) return;
    const modality = text(info, '00080060');
    const description = text(info, '0008103E');
    const instances = await index.instances({ study, series });
    let projects: string[] | undefined;
    for (const route of routes) {
      if (route.modality && !route.modality.includes(modality)) continue;
      if (route.seriesDescription !== undefined && !matchesPattern(route.seriesDescription, description)) continue;
      if (route.project !== undefined && !(projects ??= await index.studyProjects(study)).includes(route.project)) continue;
      const chosen = route.sopClassUID ? instances.filter((i) => route.sopClassUID!.includes(i.sopClassUID)) : instances;
      if (!chosen.length || (route.minInstances !== undefined && chosen.length < route.minInstances)) continue;
      for (const destination of route.destinations) {
        const onceKey = `route ${createHash('sha256').update(JSON.stringify([route.name, destination, study, series])).digest('hex')}`;
        const { transfer, added } = await transfers.create(
          { id: randomUUID(), destination, origin: `route:${route.name}`, client: 'route', request: { route: route.name, study, series }, onceKey },
          chosen.map((i) => ({ study, series, instance: i.sopInstanceUID })),
        );
        if (added) {
          log.info('egress-route', { route: route.name, destination, transfer: transfer.id, added });
          this.deps.queued();
        }
      }
    }
  }
}
