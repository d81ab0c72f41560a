/**
 * Versioned schema migrations for the PostgreSQL index (db/postgres/NNN-name.sql), as
 * sqlite-migrations.ts does for SQLite: applied in order at start, the version kept in a one-row
 * table. Nodes of a cluster may start at the same moment: the migrations run in one transaction
 * under a transaction-level advisory lock, so one node migrates and the others, once it commits,
 * find the schema current. A schema newer than this gateway knows is refused, never guessed at.
 */
import type { PgDatabase } from './database';
import { Migration, newerSchemaError, readMigrations } from '../migration-files';

export type { Migration } from '../migration-files';

/** pg_advisory_xact_lock key of Veilgate's migrations (any constant; the same on every node). */
const MIGRATION_LOCK = 0x7665696c; // 'veil'

export function postgresMigrations(dir?: string): Migration[] {
  return readMigrations('postgres', dir);
}

/** Bring the database to the newest version; returns the versions applied (none when current). */
export async function migrate(db: PgDatabase, migrations: Migration[] = postgresMigrations()): Promise<number[]> {
  const newest = migrations.at(-1)?.version ?? 0;
  return db.transaction(async (tx) => {
    // First, before even the version table exists: two nodes creating it at once would collide.
    await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await tx.query('CREATE TABLE IF NOT EXISTS schema_version (id integer PRIMARY KEY CHECK (id = 1), version integer NOT NULL)');
    const row = await tx.query<{ version: number }>('SELECT version FROM schema_version WHERE id = 1');
    const current = row.rows[0]?.version ?? 0;
    if (current > newest) {
      throw newerSchemaError(current, newest);
    }
    const applied: number[] = [];
    for (const m of migrations) {
      if (m.version <= current) continue;
      await tx.query(m.sql);
      applied.push(m.version);
    }
    if (applied.length) {
      await tx.query('INSERT INTO schema_version (id, version) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET version = excluded.version', [newest]);
    }
    return applied;
  });
}
