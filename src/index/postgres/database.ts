/**
 * The one pg.Pool a node shares between its index, job store and key store: queries and
 * transactions with PostgreSQL's failures mapped (errors.ts), deadlocks retried, closed once.
 */
import type { Pool, PoolClient, QueryResultRow } from 'pg';
import { isRetryable, mapPgError } from './errors';

export type Param = string | number | boolean | null | readonly (string | number)[];

/**
 * A statement's text, or a named one: pg prepares a named statement once per connection and
 * reuses it, which spares the parsing and planning of the statements ingest runs for every
 * instance. Only for fixed text (a name stands for one text).
 */
export type Statement = string | { name: string; text: string };

export function named(name: string, text: string): Statement {
  return { name, text };
}

export interface Rows<R> {
  rows: R[];
  rowCount: number;
}

/** Something statements run on: the pool (each statement its own transaction) or a transaction. */
export interface Queryable {
  query<R extends QueryResultRow = QueryResultRow>(statement: Statement, values?: readonly Param[]): Promise<Rows<R>>;
}

/** A transaction's connection; `abandon()` rolls it back at its end instead of committing. */
export interface Tx extends Queryable {
  abandon(): void;
}

export type Isolation = 'read committed' | 'repeatable read' | 'serializable';

/** Deadlocks between nodes (two ingests locking the same studies in other orders) are rare and brief. */
const RETRIES = 5;

async function run<R extends QueryResultRow>(on: Pool | PoolClient, statement: Statement, values?: readonly Param[]): Promise<Rows<R>> {
  try {
    const r = typeof statement === 'string' ? await on.query<R>(statement, values as unknown[] | undefined) : await on.query<R>({ ...statement, values: values as unknown[] | undefined });
    return { rows: r.rows, rowCount: r.rowCount ?? 0 };
  } catch (e) {
    throw mapPgError(e);
  }
}

export class PgDatabase implements Queryable {
  private closing?: Promise<void>;

  constructor(readonly pool: Pool) {}

  query<R extends QueryResultRow = QueryResultRow>(statement: Statement, values?: readonly Param[]): Promise<Rows<R>> {
    return run<R>(this.pool, statement, values);
  }

  /** Runs `fn` in one transaction, again from the start after a deadlock or serialization failure. */
  async transaction<T>(fn: (tx: Tx) => Promise<T>, isolation: Isolation = 'read committed'): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.once(fn, isolation);
      } catch (e) {
        if (attempt >= RETRIES || !isRetryable(e)) throw e;
        await new Promise((r) => setTimeout(r, 5 * attempt * Math.random()));
      }
    }
  }

  private async once<T>(fn: (tx: Tx) => Promise<T>, isolation: Isolation): Promise<T> {
    let client: PoolClient;
    try {
      client = await this.pool.connect();
    } catch (e) {
      throw mapPgError(e);
    }
    let abandoned = false;
    const tx: Tx = { query: (text, values) => run(client, text, values), abandon: () => void (abandoned = true) };
    try {
      await run(client, `BEGIN ISOLATION LEVEL ${isolation.toUpperCase()}`);
      const value = await fn(tx);
      await run(client, abandoned ? 'ROLLBACK' : 'COMMIT');
      client.release();
      return value;
    } catch (e) {
      // A connection that cannot even roll back is broken: the pool must not hand it out again.
      const broken = await client.query('ROLLBACK').then(
        () => undefined,
        (err: Error) => err,
      );
      client.release(broken);
      throw e;
    }
  }

  close(): Promise<void> {
    this.closing ??= this.pool.end();
    return this.closing;
  }
}
