/**
 * Rejected instances (IOCM) are hidden at once and kept for a grace period (rejectedGraceDays,
 * REJECTED_GRACE_DAYS): an administrator can still recover a mistaken rejection from the store.
 * This background task deletes what has waited long enough, a page at a time: first the rows
 * (one transaction per page, on disk before anything else), then the blobs. A crash between the
 * two leaves only blobs no row refers to, which the orphan sweep (orphan-sweep.ts) quarantines.
 *
 * It runs at start, every `intervalMs`, and soon after each rejection (`nudge()`: with no grace
 * period, that deletes at once); one pass at a time, on every node of a shared index alike
 * (PostgreSQL hands each row to one of them: FOR UPDATE SKIP LOCKED).
 */
import type { Index } from '../index/index';
import type { BlobStore } from '../store/blob-store';
import { log } from '../log';

export const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Delete the blobs of rows already gone from the index (their deletion committed). A key an
 * instance stored since then refers to again (the same UIDs sent anew) is kept.
 */
export async function deleteBlobs(index: Pick<Index, 'hasBlob'>, store: BlobStore, keys: readonly string[]): Promise<number> {
  let deleted = 0;
  for (const key of keys) {
    if (await index.hasBlob(key)) continue;
    try {
      await store.delete(key);
      deleted++;
    } catch (e) {
      // Left for the orphan sweep: the row is gone, so nothing serves it.
      log.warn('blob-delete-failed', { error: String((e as Error)?.message ?? e) });
    }
  }
  return deleted;
}

export interface PurgeOptions {
  /** How long a rejected instance is kept (ms). */
  graceMs: number;
  /** Between passes (default an hour, never more than the grace period when it is shorter). */
  intervalMs?: number;
  pageSize?: number;
}

export class RejectedPurge {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private again = false;
  private stopped = false;
  /** Instances whose rows and blobs this process has deleted. */
  purged = 0;

  constructor(
    private readonly index: Index,
    private readonly store: BlobStore,
    private readonly options: PurgeOptions,
  ) {}

  start(): void {
    const interval = this.options.intervalMs ?? Math.max(60_000, Math.min(60 * 60_000, this.options.graceMs || 60 * 60_000));
    this.timer = setInterval(() => this.nudge(), interval);
    this.timer.unref();
    this.nudge();
  }

  /** Run a pass soon (after a rejection); one already running runs once more after it. */
  nudge(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      do {
        this.again = false;
        try {
          await this.pass();
        } catch (e) {
          log.error('rejected-purge-failed', { error: String((e as Error)?.message ?? e) });
        }
      } while (this.again && !this.stopped);
    })().finally(() => (this.running = undefined));
  }

  /** One pass: every page of what is due. */
  async pass(): Promise<number> {
    let total = 0;
    const pageSize = this.options.pageSize ?? 500;
    while (!this.stopped) {
      const keys = await this.index.purgeRejected(Date.now() - this.options.graceMs, pageSize);
      if (!keys.length) break;
      await deleteBlobs(this.index, this.store, keys);
      total += keys.length;
      if (keys.length < pageSize) break;
    }
    if (total) {
      this.purged += total;
      log.info('rejected-purged', { instances: total });
    }
    return total;
  }

  /** Settled once no pass runs (tests wait on it). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }
}
