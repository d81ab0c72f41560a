/**
 * Two "nodes" on one database, for the queue contract suites (jobs, transfers): two SqliteIndex
 * handles on one file, or two pools on one throw-away PostgreSQL database (the first migrates).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SqliteIndex } from '../../src/index/sqlite-index';
import { openPostgres, PostgresBackend } from '../../src/index/postgres/open';
import { startPostgres } from './postgres';

export interface TwoNodes<T> {
  first: T;
  second: T;
  close(): Promise<void>;
}

/** Two nodes closed in turn, then what they share (a folder, a server). */
function pairOf<T extends { close(): Promise<void> }>(first: T, second: T, after: () => Promise<void> | void): TwoNodes<T> {
  return {
    first,
    second,
    close: async () => {
      await first.close();
      await second.close();
      await after();
    },
  };
}

export function twoSqliteNodes(prefix: string): TwoNodes<SqliteIndex> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return pairOf(new SqliteIndex(dir), new SqliteIndex(dir), () => fs.rmSync(dir, { recursive: true, force: true }));
}

export async function twoPostgresNodes(poolSize: number): Promise<TwoNodes<PostgresBackend>> {
  const server = await startPostgres();
  const first = await openPostgres(server.url, { poolSize });
  const second = await openPostgres(server.url, { poolSize });
  return pairOf(first, second, () => server.stop());
}
