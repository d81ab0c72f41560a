/**
 * Versioned schema migrations for the SQLite index (db/sqlite/NNN-name.sql), applied in order
 * at start, each in its own transaction with PRAGMA user_version set to its number. An index
 * written by a newer gateway (a higher version than any file here) is refused, never guessed at.
 */
import type Database from 'better-sqlite3';
import { Migration, newerSchemaError, readMigrations } from './migration-files';

export type { Migration } from './migration-files';

export function sqliteMigrations(dir?: string): Migration[] {
  return readMigrations('sqlite', dir);
}

/** Bring the database to the newest version; returns the versions applied. */
export function migrate(db: Database.Database, migrations: Migration[] = sqliteMigrations()): number[] {
  const current = db.pragma('user_version', { simple: true }) as number;
  const newest = migrations.at(-1)?.version ?? 0;
  if (current > newest) {
    throw newerSchemaError(current, newest);
  }
  const applied: number[] = [];
  for (const m of migrations) {
    if (m.version <= current) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    })();
    applied.push(m.version);
  }
  return applied;
}
