/**
 * A node's connection to a shared PostgreSQL index: one pg.Pool for its index, job store and key
 * store, the schema migrated before anything uses it.
 */
import { Pool } from 'pg';
import { log } from '../../log';
import { PgDatabase } from './database';
import { PostgresIndex } from './index';
import { PostgresJobStore } from './job-store';
import { PostgresKeyStore } from './key-store';
import { migrate } from './migrations';
import { parsePostgresUrl, redactedIndexUrl } from './url';

export interface PostgresOptions {
  /** The database password (config file); default PGPASSWORD. */
  password?: string;
  /** Connections in this node's pool; default 10. */
  poolSize?: number;
}

export interface PostgresBackend {
  index: PostgresIndex;
  jobs: PostgresJobStore;
  keys: PostgresKeyStore;
  /** The pool the stores share, for other stores in the same database (the egress queue). */
  database: PgDatabase;
  close(): Promise<void>;
}

/** A statement slower than this is cancelled (and reported as the index out of resources). */
const STATEMENT_TIMEOUT_MS = 30_000;
/**
 * Every search, claim and insert is an index-driven statement of a few milliseconds. Parallel
 * workers start in about 10 ms and were chosen for them on a large index (a series search by a
 * name prefix took 16 ms with two workers, 6 ms without): a gateway's sessions do without.
 */
const SESSION_OPTIONS = '-c max_parallel_workers_per_gather=0';
/** Waiting this long for a connection means the database or the pool is saturated. */
const CONNECT_TIMEOUT_MS = 10_000;

export async function openPostgres(url: string, options: PostgresOptions = {}): Promise<PostgresBackend> {
  const target = parsePostgresUrl(url);
  const pool = new Pool({
    host: target.host,
    port: target.port,
    user: target.user,
    database: target.database,
    password: options.password ?? process.env.PGPASSWORD,
    ssl: target.ssl ? { rejectUnauthorized: true } : undefined,
    max: options.poolSize ?? 10,
    statement_timeout: STATEMENT_TIMEOUT_MS,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    idleTimeoutMillis: 30_000,
    application_name: 'veilgate',
    options: SESSION_OPTIONS,
  });
  // An idle connection the server drops must not crash the process; the next query reconnects.
  pool.on('error', (err) => log.warn('index-connection-lost', { index: redactedIndexUrl(url), code: (err as { code?: string }).code }));
  const db = new PgDatabase(pool);
  try {
    const applied = await migrate(db);
    if (applied.length) log.info('index-migrated', { index: redactedIndexUrl(url), versions: applied });
  } catch (e) {
    await db.close();
    throw e;
  }
  return { index: new PostgresIndex(db), jobs: new PostgresJobStore(db), keys: new PostgresKeyStore(db), database: db, close: () => db.close() };
}
