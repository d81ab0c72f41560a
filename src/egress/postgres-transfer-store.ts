/**
 * TransferStore on PostgreSQL (db/postgres/003), shared by the nodes of a cluster.
 *
 * A claim takes a transaction-level advisory lock on its destination (so the count of batches in
 * flight and the claim that follows are one decision: the concurrency limit holds across nodes),
 * then its items with SELECT ... FOR UPDATE SKIP LOCKED (rows another statement holds — a
 * recovery or a cancel in flight — are passed over, never waited for or taken twice). Leases and
 * backoffs are reckoned by the database's clock (now()), never a node's. Every change a sending
 * node makes is conditional on its still holding the item.
 */
import { randomUUID } from 'node:crypto';
import type { Param, PgDatabase } from '../index/postgres/database';
import {
  ClaimedBatch,
  INTERRUPTED,
  ITEM_STATES,
  ItemState,
  NewItem,
  NewTransfer,
  TransferItem,
  TransferRecord,
  TransferStore,
} from './transfer-store';
import { ITEM_COLUMNS, ItemRow, TransferRow, toItem, toTransfer } from './transfer-rows';

const SUMMARY = `SELECT t.id, t.destination, t.origin, t.client, t.request, t.created_at, t.cancelled_at,
  count(i.id)::int AS total,
  count(*) FILTER (WHERE i.state = 'queued')::int AS queued, count(*) FILTER (WHERE i.state = 'sending')::int AS sending,
  count(*) FILTER (WHERE i.state = 'sent')::int AS sent, count(*) FILTER (WHERE i.state = 'failed')::int AS failed,
  count(*) FILTER (WHERE i.state = 'cancelled')::int AS cancelled,
  count(*) FILTER (WHERE i.state = 'queued' AND i.attempts > 0)::int AS retrying,
  count(*) FILTER (WHERE i.attempts > 0)::int AS tried, max(i.updated_at) AS updated
  FROM transfers t LEFT JOIN transfer_items i ON i.transfer_id = t.id`;

/** The advisory lock key of a destination's claims (any 32-bit hash; shared by every node). */
const LOCK = `hashtext('veilgate-egress:' || $1)`;

/** Items inserted per statement when a transfer is created. */
const INSERT_CHUNK = 1000;

export class PostgresTransferStore implements TransferStore {
  constructor(private readonly db: PgDatabase) {}

  private async read(id: string): Promise<TransferRecord | undefined> {
    const r = await this.db.query<TransferRow>(`${SUMMARY} WHERE t.id = $1 GROUP BY t.id`, [id]);
    return r.rows[0] && toTransfer(r.rows[0]);
  }

  async create(transfer: NewTransfer, items: readonly NewItem[]): Promise<{ transfer: TransferRecord; added: number }> {
    const { id, added } = await this.db.transaction(async (tx) => {
      const inserted = await tx.query<{ id: string }>(
        `INSERT INTO transfers (id, destination, origin, client, request, once_key) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (once_key) DO NOTHING RETURNING id`,
        [transfer.id, transfer.destination, transfer.origin, transfer.client ?? null, JSON.stringify(transfer.request), transfer.onceKey ?? null],
      );
      let id = transfer.id;
      if (!inserted.rows.length) {
        // Locked, so a cancel of it waits for these items (and then cancels them too).
        const existing = await tx.query<{ id: string; cancelled: boolean }>('SELECT id, cancelled_at IS NOT NULL AS cancelled FROM transfers WHERE once_key = $1 FOR UPDATE', [transfer.onceKey!]);
        id = existing.rows[0].id;
        if (existing.rows[0].cancelled) return { id, added: 0 };
      }
      let added = 0;
      for (let i = 0; i < items.length; i += INSERT_CHUNK) {
        const chunk = items.slice(i, i + INSERT_CHUNK);
        const r = await tx.query(
          `INSERT INTO transfer_items (transfer_id, destination, study_uid, series_uid, sop_instance_uid, updated_at)
           SELECT $1, $2, s.study, s.series, s.sop, now() FROM unnest($3::text[], $4::text[], $5::text[]) WITH ORDINALITY AS s(study, series, sop, n)
           ORDER BY s.n
           ON CONFLICT (transfer_id, sop_instance_uid) DO NOTHING`,
          [id, transfer.destination, chunk.map((c) => c.study), chunk.map((c) => c.series), chunk.map((c) => c.instance)],
        );
        added += r.rowCount;
      }
      return { id, added };
    });
    return { transfer: (await this.read(id))!, added };
  }

  async get(id: string): Promise<TransferRecord | undefined> {
    return this.read(id);
  }

  async list(limit: number): Promise<TransferRecord[]> {
    const r = await this.db.query<TransferRow>(
      `${SUMMARY} WHERE t.id IN (SELECT id FROM transfers ORDER BY seq DESC LIMIT $1) GROUP BY t.id ORDER BY max(t.seq) DESC`,
      [limit],
    );
    return r.rows.map(toTransfer);
  }

  async items(id: string, limit: number, offset: number): Promise<TransferItem[]> {
    const r = await this.db.query<ItemRow>(`SELECT ${ITEM_COLUMNS} FROM transfer_items WHERE transfer_id = $1 ORDER BY id LIMIT $2 OFFSET $3`, [id, limit, offset]);
    return r.rows.map(toItem);
  }

  async studies(id: string): Promise<string[]> {
    const r = await this.db.query<{ study_uid: string }>('SELECT DISTINCT study_uid FROM transfer_items WHERE transfer_id = $1', [id]);
    return r.rows.map((x) => x.study_uid);
  }

  async cancel(id: string): Promise<TransferRecord | undefined> {
    await this.db.transaction(async (tx) => {
      await tx.query('UPDATE transfers SET cancelled_at = now() WHERE id = $1 AND cancelled_at IS NULL', [id]);
      await tx.query(
        `UPDATE transfer_items SET state = 'cancelled', node = NULL, batch = NULL, lease_expires_at = NULL, updated_at = now()
         WHERE transfer_id = $1 AND state IN ('queued', 'sending')`,
        [id],
      );
    });
    return this.read(id);
  }

  async claim(destination: string, node: string, max: number, concurrency: number, leaseMs: number): Promise<ClaimedBatch | undefined> {
    return this.db.transaction(async (tx) => {
      await tx.query(`SELECT pg_advisory_xact_lock(${LOCK})`, [destination]);
      const active = await tx.query<{ n: number }>(
        `SELECT count(DISTINCT batch)::int AS n FROM transfer_items WHERE destination = $1 AND state = 'sending' AND lease_expires_at >= now()`,
        [destination],
      );
      if (active.rows[0].n >= concurrency) return undefined;
      const batch = randomUUID();
      const r = await tx.query<ItemRow>(
        `UPDATE transfer_items SET state = 'sending', node = $2, batch = $3, lease_expires_at = now() + $4 * interval '1 millisecond',
           attempts = attempts + 1, updated_at = now()
         WHERE id IN (SELECT id FROM transfer_items WHERE destination = $1 AND state = 'queued' AND next_at <= now()
                      ORDER BY next_at, id LIMIT $5 FOR UPDATE SKIP LOCKED)
         RETURNING ${ITEM_COLUMNS}`,
        [destination, node, batch, leaseMs, max],
      );
      if (!r.rows.length) return undefined;
      return { batch, items: r.rows.map(toItem).sort((a, b) => a.id - b.id) };
    });
  }

  async renew(node: string, batch: string, leaseMs: number): Promise<boolean> {
    const r = await this.db.query(
      `UPDATE transfer_items SET lease_expires_at = now() + $3 * interval '1 millisecond' WHERE batch = $1 AND node = $2 AND state = 'sending'`,
      [batch, node, leaseMs],
    );
    return r.rowCount > 0;
  }

  async markSent(node: string, ids: readonly number[]): Promise<number> {
    if (!ids.length) return 0;
    const r = await this.db.query(
      `UPDATE transfer_items SET state = 'sent', error = NULL, node = NULL, batch = NULL, lease_expires_at = NULL, updated_at = now()
       WHERE id = ANY($1::bigint[]) AND node = $2 AND state = 'sending'`,
      [ids.map(String), node],
    );
    return r.rowCount;
  }

  async markFailed(node: string, id: number, reason: string, o: { delayMs: number; maxAttempts: number; permanent: boolean }): Promise<'queued' | 'failed' | 'lost'> {
    const r = await this.db.query<{ state: 'queued' | 'failed' }>(
      `UPDATE transfer_items SET
         state = CASE WHEN $4 OR attempts >= $5 THEN 'failed' ELSE 'queued' END,
         error = $3, next_at = now() + $6 * interval '1 millisecond',
         node = NULL, batch = NULL, lease_expires_at = NULL, updated_at = now()
       WHERE id = $1 AND node = $2 AND state = 'sending' RETURNING state`,
      [String(id), node, reason, o.permanent, o.maxAttempts, o.delayMs] as Param[],
    );
    return r.rows[0]?.state ?? 'lost';
  }

  async release(node: string, batch: string): Promise<number> {
    const r = await this.db.query(
      `UPDATE transfer_items SET state = 'queued', attempts = greatest(0, attempts - 1), next_at = now(), node = NULL, batch = NULL, lease_expires_at = NULL
       WHERE batch = $1 AND node = $2 AND state = 'sending'`,
      [batch, node],
    );
    return r.rowCount;
  }

  async recover(maxAttempts: number, restartedNode?: string): Promise<{ requeued: number; failed: number }> {
    const r = await this.db.query<{ requeued: number; failed: number }>(
      `WITH lost AS (
         SELECT id FROM transfer_items
         WHERE state = 'sending' AND (lease_expires_at IS NULL OR lease_expires_at < now() OR node = $2) FOR UPDATE SKIP LOCKED
       ), changed AS (
         UPDATE transfer_items i SET
           state = CASE WHEN i.attempts >= $1 THEN 'failed' ELSE 'queued' END,
           error = CASE WHEN i.attempts >= $1 THEN $3 ELSE i.error END,
           next_at = now(), node = NULL, batch = NULL, lease_expires_at = NULL, updated_at = now()
         FROM lost WHERE i.id = lost.id RETURNING i.state
       )
       SELECT count(*) FILTER (WHERE state = 'queued')::int AS requeued, count(*) FILTER (WHERE state = 'failed')::int AS failed FROM changed`,
      [maxAttempts, restartedNode ?? null, INTERRUPTED],
    );
    return r.rows[0];
  }

  async destinationCounts(): Promise<Record<string, Record<ItemState, number>>> {
    const out: Record<string, Record<ItemState, number>> = {};
    const r = await this.db.query<{ destination: string; state: ItemState; n: number }>('SELECT destination, state, count(*)::int AS n FROM transfer_items GROUP BY destination, state');
    for (const row of r.rows) {
      out[row.destination] ??= Object.fromEntries(ITEM_STATES.map((s) => [s, 0])) as Record<ItemState, number>;
      out[row.destination][row.state] = row.n;
    }
    return out;
  }

  /** The pool is the index's, closed with it. */
  async close(): Promise<void> {}
}
