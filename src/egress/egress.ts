/**
 * Research egress for one node: the routing rules, the sender loop on the shared queue, and
 * transfers on demand (POST /api/transfers). Built by server.ts from the core's TransferStore.
 */
import { randomUUID } from 'node:crypto';
import { VeilgateError } from '../errors';
import { log } from '../log';
import type { Config } from '../config';
import type { Index, ReadIndex } from '../index/index';
import type { BlobStore } from '../store/blob-store';
import type { WorkerPool } from '../workers/pool';
import type { TransferRecord, TransferStore } from './transfer-store';
import { EgressLoop } from './sender-loop';
import { EgressRoutes } from './routes';
import { Selection, resolveSelection } from './selection';

export interface EgressDeps {
  transfers: TransferStore;
  index: Index;
  store: BlobStore;
  workers: WorkerPool;
  nodeId: string;
}

export class Egress {
  private readonly loop: EgressLoop;
  private readonly routes: EgressRoutes;

  constructor(
    private readonly deps: EgressDeps,
    private readonly config: Config,
  ) {
    const egress = config.egress;
    this.loop = new EgressLoop({ transfers: deps.transfers, index: deps.index, store: deps.store, workers: deps.workers, node: deps.nodeId, config: egress, aeTitle: config.dimse.aeTitle });
    this.routes = new EgressRoutes({
      index: deps.index,
      transfers: deps.transfers,
      config: egress,
      quietMs: (egress.quietSeconds ?? config.jobRulesQuietSeconds) * 1000,
      queued: () => this.loop.kick(),
    });
  }

  get transfers(): TransferStore {
    return this.deps.transfers;
  }

  /** Names of the configured destinations. */
  destinations(): string[] {
    return Object.keys(this.config.egress.destinations);
  }

  start(): void {
    this.loop.start();
    const n = this.destinations().length;
    if (n) log.info('egress', { destinations: this.destinations(), routes: this.config.egress.routes.map((r) => r.name) });
  }

  /** Every instance an external source stored (the quiet-series notice). */
  seriesGrew(study: string, series: string): void {
    this.routes.seriesGrew(study, series);
  }

  /** A processing job stored a derived series. */
  jobResultStored(study: string, series: string): void {
    this.routes.jobResultStored(study, series);
  }

  /** Queue what `selection` names, as `view` sees it, to a destination. */
  async submit(view: ReadIndex, destination: string, selection: Selection, client: string, request: Record<string, unknown>): Promise<TransferRecord> {
    // Own keys only ("constructor" is no destination), and the client's text is not echoed.
    if (typeof destination !== 'string' || !Object.hasOwn(this.config.egress.destinations, destination)) {
      throw new VeilgateError('bad-request', 'no such destination (GET /api/transfers/destinations lists them)');
    }
    const items = await resolveSelection(view, selection, { max: this.config.egress.maxTransferInstances, qidoMaxLimit: this.config.qidoMaxLimit });
    const { transfer } = await this.deps.transfers.create({ id: randomUUID(), destination, origin: 'api', client, request }, items);
    log.info('egress-transfer', { transfer: transfer.id, destination, items: items.length });
    this.loop.kick();
    return transfer;
  }

  async stop(): Promise<void> {
    await this.routes.stop();
    await this.loop.stop();
  }
}
