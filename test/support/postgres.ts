/**
 * A throw-away PostgreSQL cluster for tests (durability off, database veilgate_test). The
 * cluster logic lives in bench/postgres-server.ts, which the benchmarks share.
 */
export { startPostgres } from '../../bench/postgres-server';
export type { TestPostgres } from '../../bench/postgres-server';
