/**
 * The egress loop of one node: for every destination inside its transfer window, claims batches
 * of due items from the shared queue (up to the destination's concurrency, counted over the
 * cluster by the store), sends them, and records each item's outcome: sent when the remote
 * acknowledged it, else queued again after a full-jitter backoff, or failed with the reason at
 * the give-up limit.
 *
 * Each batch is held under a lease renewed while it is sent; a node that dies stops renewing and
 * any node queues its batch again once the lease has run out, and a restarted node takes back
 * its own at once. A batch whose lease renewal fails (the transfer was cancelled, or the lease
 * was taken over) is aborted. Stopping gives unfinished batches back unsent.
 */
import { log } from '../log';
import { messageOf } from '../errors';
import type { Index } from '../index/index';
import type { BlobStore } from '../store/blob-store';
import type { WorkerPool } from '../workers/pool';
import { Destination, EgressConfig, backoffMs, inWindow } from './config';
import type { ClaimedBatch, TransferStore } from './transfer-store';
import { BatchSender, ItemOutcome, SendItem, refuse } from './senders';
import { StowSender } from './stow-sender';
import { DimseSender } from './dimse-sender';

const POLL_MS = 500;

interface Running {
  destination: string;
  abort: AbortController;
  done: Promise<void>;
}

export interface EgressLoopDeps {
  transfers: TransferStore;
  index: Index;
  store: BlobStore;
  /** The worker pool: instances rewritten for a remote that takes another transfer syntax. */
  workers: WorkerPool;
  /** This node's name in the shared queue. */
  node: string;
  config: EgressConfig;
  /** Our AE title: the calling AE of C-STORE unless a destination names its own. */
  aeTitle: string;
}

export class EgressLoop {
  private readonly senders = new Map<string, BatchSender & { close?(): void }>();
  private readonly running = new Map<string, Running>();
  /** Rate limits: when a destination may start its next batch. */
  private readonly notBefore = new Map<string, number>();
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private ticking = false;
  private again = false;
  private ticks = 0;

  constructor(private readonly deps: EgressLoopDeps) {
    for (const d of Object.values(deps.config.destinations)) {
      this.senders.set(d.name, d.type === 'dicomweb' ? new StowSender(d, deps.store) : new DimseSender(d, deps.store, deps.aeTitle, deps.workers));
    }
  }

  private get leaseMs(): number {
    return this.deps.config.leaseSeconds * 1000;
  }

  start(): void {
    if (!this.senders.size) return;
    void this.deps.transfers.recover(this.deps.config.maxAttempts, this.deps.node).then(
      (r) => {
        if (r.requeued || r.failed) log.info('egress-recovered', r);
        this.kick();
      },
      (e) => log.error('egress-recover-failed', { error: messageOf(e) }),
    );
    const renewEvery = Math.max(1, Math.round(this.leaseMs / 3 / POLL_MS));
    this.timer = setInterval(() => {
      this.ticks++;
      if (this.ticks % renewEvery === 0) {
        void this.renew();
        // Batches of nodes that died: taken back here as well as anywhere.
        void this.deps.transfers.recover(this.deps.config.maxAttempts).catch(() => undefined);
      }
      this.kick();
    }, POLL_MS);
    this.timer.unref();
  }

  /** Look for work now (a transfer was just queued, a batch finished). */
  kick(): void {
    if (this.stopped || !this.senders.size) return;
    if (this.ticking) {
      this.again = true;
      return;
    }
    this.ticking = true;
    void (async () => {
      try {
        do {
          this.again = false;
          for (const d of Object.values(this.deps.config.destinations)) await this.claimFor(d);
        } while (this.again && !this.stopped);
      } catch (e) {
        log.warn('egress-claim-failed', { error: messageOf(e) });
      } finally {
        this.ticking = false;
      }
    })();
  }

  private activeFor(destination: string): number {
    let n = 0;
    for (const r of this.running.values()) if (r.destination === destination) n++;
    return n;
  }

  private async claimFor(d: Destination): Promise<void> {
    while (!this.stopped && this.activeFor(d.name) < d.concurrency && inWindow(d.window, new Date()) && Date.now() >= (this.notBefore.get(d.name) ?? 0)) {
      const batch = await this.deps.transfers.claim(d.name, this.deps.node, d.batchSize, d.concurrency, this.leaseMs);
      if (!batch) return;
      if (d.instancesPerSecond) this.notBefore.set(d.name, Date.now() + (batch.items.length / d.instancesPerSecond) * 1000);
      if (this.stopped) {
        await this.deps.transfers.release(this.deps.node, batch.batch);
        return;
      }
      const abort = new AbortController();
      const entry: Running = { destination: d.name, abort, done: Promise.resolve() };
      this.running.set(batch.batch, entry);
      entry.done = this.run(d, batch, abort).finally(() => {
        this.running.delete(batch.batch);
        this.kick();
      });
    }
  }

  private async renew(): Promise<void> {
    for (const [batch, r] of this.running) {
      try {
        if (!(await this.deps.transfers.renew(this.deps.node, batch, this.leaseMs))) r.abort.abort(); // cancelled, or taken over
      } catch (e) {
        log.warn('egress-lease-renew-failed', { error: messageOf(e) });
      }
    }
  }

  private async run(d: Destination, batch: ClaimedBatch, abort: AbortController): Promise<void> {
    const started = Date.now();
    const { transfers, node, config } = this.deps;
    const sendable: SendItem[] = [];
    const outcomes = new Map<number, ItemOutcome>();
    for (const item of batch.items) {
      const stored = await this.deps.index.findInstance(item.instance).catch(() => undefined);
      if (!stored || stored.studyUID !== item.study || stored.seriesUID !== item.series) outcomes.set(item.id, refuse('the instance is no longer stored here'));
      else sendable.push({ item, stored });
    }
    if (sendable.length) {
      let sent: ItemOutcome[];
      try {
        sent = await this.senders.get(d.name)!.send(sendable, abort.signal);
      } catch (e) {
        // A sender bug: the items are retried, never lost.
        log.error('egress-sender-failed', { destination: d.name, error: messageOf(e) });
        sent = sendable.map(() => ({ ok: false, reason: 'internal error', permanent: false }));
      }
      sendable.forEach((s, i) => outcomes.set(s.item.id, sent[i]));
    }
    const ok = [...outcomes].filter(([, o]) => o.ok).map(([id]) => id);
    // What the remote acknowledged is recorded even when stopping.
    if (ok.length) await transfers.markSent(node, ok).catch((e) => log.warn('egress-record-failed', { error: messageOf(e) }));
    if (this.stopped) {
      await transfers.release(node, batch.batch).catch(() => undefined);
      return;
    }
    let retrying = 0;
    let failed = 0;
    let reason: string | undefined;
    for (const item of batch.items) {
      const o = outcomes.get(item.id)!;
      if (o.ok) continue;
      reason ??= o.reason;
      const delayMs = backoffMs(item.attempts, config.retryBaseSeconds, config.retryCapSeconds);
      const state = await transfers.markFailed(node, item.id, o.reason, { delayMs, maxAttempts: config.maxAttempts, permanent: o.permanent }).catch((e) => {
        log.warn('egress-record-failed', { error: messageOf(e) });
        return 'lost' as const;
      });
      if (state === 'queued') retrying++;
      else if (state === 'failed') failed++;
    }
    log.info('egress-batch', { destination: d.name, items: batch.items.length, sent: ok.length, retrying, failed, reason, ms: Date.now() - started });
  }

  /** Stop claiming, abort batches in flight and give back what was not acknowledged. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    for (const r of this.running.values()) r.abort.abort();
    await Promise.allSettled([...this.running.values()].map((r) => r.done));
    while (this.ticking) await new Promise((r) => setTimeout(r, 5));
    for (const s of this.senders.values()) s.close?.();
  }
}
