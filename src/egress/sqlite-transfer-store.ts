/**
 * TransferStore on the index's SQLite database (db/sqlite/007). Several processes may share the
 * file (the server and the command line): a claim runs in one IMMEDIATE transaction, which holds
 * the write lock from its first statement, so two processes never take the same item nor start
 * more batches of a destination than its concurrency; leases and backoffs run on this machine's
 * clock, which they share.
 */
import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
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
  count(i.id) AS total,
  sum(i.state = 'queued') AS queued, sum(i.state = 'sending') AS sending, sum(i.state = 'sent') AS sent,
  sum(i.state = 'failed') AS failed, sum(i.state = 'cancelled') AS cancelled,
  sum(i.state = 'queued' AND i.attempts > 0) AS retrying, sum(i.attempts > 0) AS tried, max(i.updated_at) AS updated
  FROM transfers t LEFT JOIN transfer_items i ON i.transfer_id = t.id`;

export class SqliteTransferStore implements TransferStore {
  constructor(private readonly db: Database.Database) {}

  private read(id: string): TransferRecord | undefined {
    const row = this.db.prepare(`${SUMMARY} WHERE t.id = ? GROUP BY t.seq`).get(id) as TransferRow | undefined;
    return row && toTransfer(row);
  }

  async create(transfer: NewTransfer, items: readonly NewItem[]): Promise<{ transfer: TransferRecord; added: number }> {
    const now = new Date();
    const run = this.db.transaction(() => {
      const inserted = this.db
        .prepare(
          `INSERT INTO transfers (id, destination, origin, client, request, once_key, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (once_key) DO NOTHING`,
        )
        .run(transfer.id, transfer.destination, transfer.origin, transfer.client ?? null, JSON.stringify(transfer.request), transfer.onceKey ?? null, now.toISOString()).changes;
      let id = transfer.id;
      if (!inserted) {
        const existing = this.db.prepare('SELECT id, cancelled_at FROM transfers WHERE once_key = ?').get(transfer.onceKey) as { id: string; cancelled_at: string | null };
        id = existing.id;
        // A cancelled transfer stays cancelled: what joins later is not sent either.
        if (existing.cancelled_at !== null) return { id, added: 0 };
      }
      const add = this.db.prepare(
        `INSERT INTO transfer_items (transfer_id, destination, study_uid, series_uid, sop_instance_uid, next_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (transfer_id, sop_instance_uid) DO NOTHING`,
      );
      let added = 0;
      for (const it of items) added += add.run(id, transfer.destination, it.study, it.series, it.instance, now.getTime(), now.toISOString()).changes;
      return { id, added };
    });
    const { id, added } = run.immediate();
    return { transfer: this.read(id)!, added };
  }

  async get(id: string): Promise<TransferRecord | undefined> {
    return this.read(id);
  }

  async list(limit: number): Promise<TransferRecord[]> {
    const rows = this.db
      .prepare(`${SUMMARY} WHERE t.seq IN (SELECT seq FROM transfers ORDER BY seq DESC LIMIT ?) GROUP BY t.seq ORDER BY t.seq DESC`)
      .all(limit) as TransferRow[];
    return rows.map(toTransfer);
  }

  async items(id: string, limit: number, offset: number): Promise<TransferItem[]> {
    return (this.db.prepare(`SELECT ${ITEM_COLUMNS} FROM transfer_items WHERE transfer_id = ? ORDER BY id LIMIT ? OFFSET ?`).all(id, limit, offset) as ItemRow[]).map(toItem);
  }

  async studies(id: string): Promise<string[]> {
    return (this.db.prepare('SELECT DISTINCT study_uid FROM transfer_items WHERE transfer_id = ?').all(id) as { study_uid: string }[]).map((r) => r.study_uid);
  }

  async cancel(id: string): Promise<TransferRecord | undefined> {
    const now = new Date().toISOString();
    this.db.transaction(() => {
      this.db.prepare('UPDATE transfers SET cancelled_at = ? WHERE id = ? AND cancelled_at IS NULL').run(now, id);
      this.db
        .prepare(`UPDATE transfer_items SET state = 'cancelled', node = NULL, batch = NULL, lease_until = NULL, updated_at = ? WHERE transfer_id = ? AND state IN ('queued', 'sending')`)
        .run(now, id);
    })();
    return this.read(id);
  }

  async claim(destination: string, node: string, max: number, concurrency: number, leaseMs: number): Promise<ClaimedBatch | undefined> {
    const run = this.db.transaction(() => {
      const now = Date.now();
      const active = this.db
        .prepare(`SELECT count(DISTINCT batch) AS n FROM transfer_items WHERE destination = ? AND state = 'sending' AND lease_until >= ?`)
        .get(destination, now) as { n: number };
      if (active.n >= concurrency) return undefined;
      const batch = randomUUID();
      const rows = this.db
        .prepare(
          `UPDATE transfer_items SET state = 'sending', node = ?, batch = ?, lease_until = ?, attempts = attempts + 1, updated_at = ?
           WHERE id IN (SELECT id FROM transfer_items WHERE destination = ? AND state = 'queued' AND next_at <= ? ORDER BY next_at, id LIMIT ?)
           RETURNING ${ITEM_COLUMNS}`,
        )
        .all(node, batch, now + leaseMs, new Date(now).toISOString(), destination, now, max) as ItemRow[];
      if (!rows.length) return undefined;
      return { batch, items: rows.map(toItem).sort((a, b) => a.id - b.id) };
    });
    return run.immediate();
  }

  async renew(node: string, batch: string, leaseMs: number): Promise<boolean> {
    return this.db.prepare(`UPDATE transfer_items SET lease_until = ? WHERE batch = ? AND node = ? AND state = 'sending'`).run(Date.now() + leaseMs, batch, node).changes > 0;
  }

  async markSent(node: string, ids: readonly number[]): Promise<number> {
    const now = new Date().toISOString();
    const mark = this.db.prepare(
      `UPDATE transfer_items SET state = 'sent', error = NULL, node = NULL, batch = NULL, lease_until = NULL, updated_at = ? WHERE id = ? AND node = ? AND state = 'sending'`,
    );
    return this.db.transaction(() => ids.reduce((n, id) => n + mark.run(now, id, node).changes, 0))();
  }

  async markFailed(node: string, id: number, reason: string, o: { delayMs: number; maxAttempts: number; permanent: boolean }): Promise<'queued' | 'failed' | 'lost'> {
    const run = this.db.transaction((): 'queued' | 'failed' | 'lost' => {
      const row = this.db.prepare(`SELECT attempts FROM transfer_items WHERE id = ? AND node = ? AND state = 'sending'`).get(id, node) as { attempts: number } | undefined;
      if (!row) return 'lost';
      const now = Date.now();
      const give = o.permanent || row.attempts >= o.maxAttempts;
      this.db
        .prepare(`UPDATE transfer_items SET state = ?, error = ?, next_at = ?, node = NULL, batch = NULL, lease_until = NULL, updated_at = ? WHERE id = ?`)
        .run(give ? 'failed' : 'queued', reason, now + o.delayMs, new Date(now).toISOString(), id);
      return give ? 'failed' : 'queued';
    });
    return run.immediate();
  }

  async release(node: string, batch: string): Promise<number> {
    return this.db
      .prepare(
        `UPDATE transfer_items SET state = 'queued', attempts = max(0, attempts - 1), next_at = ?, node = NULL, batch = NULL, lease_until = NULL
         WHERE batch = ? AND node = ? AND state = 'sending'`,
      )
      .run(Date.now(), batch, node).changes;
  }

  async recover(maxAttempts: number, restartedNode?: string): Promise<{ requeued: number; failed: number }> {
    const lost = `state = 'sending' AND (lease_until IS NULL OR lease_until < ? OR node = ?)`;
    const now = Date.now();
    const iso = new Date(now).toISOString();
    return this.db.transaction(() => {
      const failed = this.db
        .prepare(`UPDATE transfer_items SET state = 'failed', error = ?, node = NULL, batch = NULL, lease_until = NULL, updated_at = ? WHERE ${lost} AND attempts >= ?`)
        .run(INTERRUPTED, iso, now, restartedNode ?? null, maxAttempts).changes;
      const requeued = this.db
        .prepare(`UPDATE transfer_items SET state = 'queued', next_at = ?, node = NULL, batch = NULL, lease_until = NULL, updated_at = ? WHERE ${lost}`)
        .run(now, iso, now, restartedNode ?? null).changes;
      return { requeued, failed };
    })();
  }

  async destinationCounts(): Promise<Record<string, Record<ItemState, number>>> {
    const out: Record<string, Record<ItemState, number>> = {};
    for (const r of this.db.prepare('SELECT destination, state, count(*) AS n FROM transfer_items GROUP BY destination, state').all() as { destination: string; state: ItemState; n: number }[]) {
      out[r.destination] ??= Object.fromEntries(ITEM_STATES.map((s) => [s, 0])) as Record<ItemState, number>;
      out[r.destination][r.state] = r.n;
    }
    return out;
  }
}
