/** A transfer's and an item's rows as both transfer stores read them (the same columns), and the records they stand for. */
import { ItemState, TransferItem, TransferRecord, transferState } from './transfer-store';

/** Text (SQLite) or a timestamp (PostgreSQL). */
type Time = string | Date;
/** A count: SQLite's sum() is null over no rows. */
type Count = number | null;

export interface TransferRow {
  id: string;
  destination: string;
  origin: string;
  client: string | null;
  request: string;
  created_at: Time;
  cancelled_at: Time | null;
  total: number;
  queued: Count;
  sending: Count;
  sent: Count;
  failed: Count;
  cancelled: Count;
  retrying: Count;
  tried: Count;
  updated: Time | null;
}

export interface ItemRow {
  id: number | string;
  transfer_id: string;
  destination: string;
  study_uid: string;
  series_uid: string;
  sop_instance_uid: string;
  state: ItemState;
  attempts: number;
  /** ms since the epoch (SQLite) or a timestamp (PostgreSQL). */
  next_at: number | Date;
  error: string | null;
  updated_at: Time | null;
}

export const ITEM_COLUMNS = 'id, transfer_id, destination, study_uid, series_uid, sop_instance_uid, state, attempts, next_at, error, updated_at';

const iso = (t: Time | null): string | undefined => (t === null ? undefined : typeof t === 'string' ? t : t.toISOString());

export function toTransfer(r: TransferRow): TransferRecord {
  const counts = {
    total: r.total,
    queued: r.queued ?? 0,
    sending: r.sending ?? 0,
    sent: r.sent ?? 0,
    failed: r.failed ?? 0,
    cancelled: r.cancelled ?? 0,
    retrying: r.retrying ?? 0,
  };
  return {
    id: r.id,
    destination: r.destination,
    origin: r.origin,
    client: r.client ?? undefined,
    request: JSON.parse(r.request) as Record<string, unknown>,
    createdAt: iso(r.created_at)!,
    cancelledAt: iso(r.cancelled_at),
    updatedAt: iso(r.updated),
    counts,
    state: transferState(counts, r.cancelled_at !== null, (r.tried ?? 0) > 0),
  };
}

export function toItem(r: ItemRow): TransferItem {
  return {
    id: Number(r.id),
    transferId: r.transfer_id,
    destination: r.destination,
    study: r.study_uid,
    series: r.series_uid,
    instance: r.sop_instance_uid,
    state: r.state,
    attempts: r.attempts,
    error: r.error ?? undefined,
    nextAttemptAt: r.state === 'queued' && r.attempts > 0 ? new Date(r.next_at instanceof Date ? r.next_at.getTime() : Number(r.next_at)).toISOString() : undefined,
    updatedAt: iso(r.updated_at),
  };
}
