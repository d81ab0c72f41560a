/**
 * Ingest writes the blob, then the index row: a crash between the two leaves a blob that no
 * row refers to. A background task pages through the store's listing (a page at a time, with a
 * pause between pages, never the whole listing in memory or at once) and moves each blob no row
 * refers to out of the store into the quarantine area for an administrator, never deleting it:
 * the sender was never told it was stored and will send it again.
 *
 * Only blobs older than `cutoff` are judged, so an ingest in flight is never touched: for an index
 * only this process writes (embedded SQLite), the moment it started; for a shared index (several
 * nodes, any of which may be mid-ingest), a grace period before now.
 */
import { Index } from '../index/index';
import { BlobStore } from '../store/blob-store';

export interface SweepResult {
  checked: number;
  quarantined: number;
}

export interface SweepOptions {
  /** Stop early (the gateway is closing). */
  stopped?: () => boolean;
  /** Blobs judged per page. */
  pageSize?: number;
  /** Pause between pages, so the sweep never competes with requests for long. */
  pauseMs?: number;
}

/** For a shared index: blobs this recent may be another node's ingest in flight. */
export const SHARED_GRACE_MS = 15 * 60_000;

export async function sweepOrphans(index: Index, store: BlobStore, cutoff: number | (() => number), options: SweepOptions = {}): Promise<SweepResult> {
  const { stopped = () => false, pageSize = 500, pauseMs = 0 } = options;
  const before = typeof cutoff === 'function' ? cutoff : () => cutoff;
  const result: SweepResult = { checked: 0, quarantined: 0 };
  let page: { key: string; modified: number }[] = [];
  const judge = async () => {
    const limit = before();
    const lookups = await Promise.all(page.map(async (b) => (b.modified < limit && !(await index.hasBlob(b.key)) ? b.key : undefined)));
    for (const key of lookups) {
      if (key === undefined || stopped()) continue;
      await store.quarantine(key);
      result.quarantined++;
    }
    result.checked += page.length;
    page = [];
    if (pauseMs) await new Promise((r) => setTimeout(r, pauseMs).unref());
  };
  for await (const blob of store.list()) {
    if (stopped()) break;
    page.push(blob);
    if (page.length >= pageSize) await judge();
  }
  if (page.length && !stopped()) await judge();
  return result;
}
