/**
 * The durable egress queue: transfers and their items (one per instance), in the index's
 * database (SQLite by default, or PostgreSQL shared by the nodes of a cluster), as the job queue
 * is (processing/jobs/job-store.ts).
 *
 * An item is claimed by one node at a time, in a batch under a lease the node renews while it
 * sends; a node that dies stops renewing, and once the lease has run out any node queues the
 * batch again (recover). An item becomes `sent` only when the remote acknowledged it; a failed
 * attempt queues it again after a backoff, until maxAttempts, when it is `failed` with the
 * reason. Every change a sending node makes is conditional on its still holding the item, so a
 * cancel or a take-over stays so. Resending is safe: remotes treat a SOP Instance UID they hold as
 * a duplicate.
 */
export type TransferState = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';
export type ItemState = 'queued' | 'sending' | 'sent' | 'failed' | 'cancelled';

export const ITEM_STATES: readonly ItemState[] = ['queued', 'sending', 'sent', 'failed', 'cancelled'];

export interface TransferCounts {
  total: number;
  queued: number;
  sending: number;
  sent: number;
  failed: number;
  cancelled: number;
  /** Queued again after a failed attempt (waiting out a backoff). */
  retrying: number;
}

export interface TransferRecord {
  id: string;
  destination: string;
  /** 'api', or 'route:<name>'. */
  origin: string;
  client?: string;
  request: Record<string, unknown>;
  createdAt: string;
  cancelledAt?: string;
  /** The last change to any item. */
  updatedAt?: string;
  counts: TransferCounts;
  state: TransferState;
}

export interface TransferItem {
  id: number;
  transferId: string;
  destination: string;
  study: string;
  series: string;
  instance: string;
  state: ItemState;
  attempts: number;
  /** Why the last attempt failed: a status, an error code (never a data set value). */
  error?: string;
  /** When the next attempt may start (queued items after a failure). */
  nextAttemptAt?: string;
  updatedAt?: string;
}

export interface NewTransfer {
  id: string;
  destination: string;
  origin: string;
  client?: string;
  request: Record<string, unknown>;
  /**
   * A key one transfer holds (a routing rule's transfer of one series to one destination):
   * creating with a key that is taken adds the instances the existing transfer lacks to it.
   */
  onceKey?: string;
}

export interface NewItem {
  study: string;
  series: string;
  instance: string;
}

export interface ClaimedBatch {
  batch: string;
  items: TransferItem[];
}

export interface TransferStore {
  /**
   * A new transfer with its items; with a onceKey already taken, the missing items join the
   * existing transfer instead. Returns the transfer and how many items were added.
   */
  create(transfer: NewTransfer, items: readonly NewItem[]): Promise<{ transfer: TransferRecord; added: number }>;
  get(id: string): Promise<TransferRecord | undefined>;
  /** The newest transfers. */
  list(limit: number): Promise<TransferRecord[]>;
  /** A page of a transfer's items, in queue order. */
  items(id: string, limit: number, offset: number): Promise<TransferItem[]>;
  /** The studies a transfer's items are in (for the caller's access check). */
  studies(id: string): Promise<string[]>;
  /** Cancel a transfer: its queued and sending items become cancelled. The record afterwards. */
  cancel(id: string): Promise<TransferRecord | undefined>;
  /**
   * Take up to `max` due items of a destination (queued, backoff over), oldest first, for `node`
   * under a lease, one attempt more each; none when `concurrency` batches of the destination are
   * in flight already, on any node.
   */
  claim(destination: string, node: string, max: number, concurrency: number, leaseMs: number): Promise<ClaimedBatch | undefined>;
  /** Extend a batch's lease; false when the node holds none of it any more (cancelled, taken back). */
  renew(node: string, batch: string, leaseMs: number): Promise<boolean>;
  /** The remote acknowledged these items: sent. Returns how many the node still held. */
  markSent(node: string, ids: readonly number[]): Promise<number>;
  /**
   * An attempt failed: queued again after delayMs, or failed with the reason once its attempts
   * reached maxAttempts or when `permanent` (the remote refused the instance itself).
   */
  markFailed(node: string, id: number, reason: string, options: { delayMs: number; maxAttempts: number; permanent: boolean }): Promise<'queued' | 'failed' | 'lost'>;
  /** Give back a batch's unfinished items unsent (a stop): queued again at once, the attempt not counted. */
  release(node: string, batch: string): Promise<number>;
  /**
   * Items whose lease ran out (their node died), and those `restartedNode` held before it
   * restarted: queued again, or failed once tried maxAttempts times.
   */
  recover(maxAttempts: number, restartedNode?: string): Promise<{ requeued: number; failed: number }>;
  /** Items of each destination in each state (queue state for the API and metrics). */
  destinationCounts(): Promise<Record<string, Record<ItemState, number>>>;
}

/** What recover() says of an item that ran out of attempts while interrupted. */
export const INTERRUPTED = 'interrupted too many times (its node stopped or died while sending)';

/** A transfer's state from its items' counts. */
export function transferState(counts: TransferCounts, cancelled: boolean, tried: boolean): TransferState {
  if (cancelled) return 'cancelled';
  if (counts.queued + counts.sending > 0) return tried || counts.sending > 0 || counts.sent + counts.failed > 0 ? 'running' : 'queued';
  return counts.failed > 0 ? 'failed' : 'done';
}

export function emptyCounts(): TransferCounts {
  return { total: 0, queued: 0, sending: 0, sent: 0, failed: 0, cancelled: 0, retrying: 0 };
}
