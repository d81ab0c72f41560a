/**
 * Versioned schema migrations for the SQLite index (db/sqlite/NNN-name.sql), applied in order
 * at start, each in its own transaction with PRAGMA user_version set to its number. An index
 * written by a newer gateway (a higher version than any file here) is refused, never guessed at.
 */
import fs from 'node:fs';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { projectRoot } from '../paths';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export function sqliteMigrations(dir = path.join(projectRoot(), 'db', 'sqlite')): Migration[] {
  return fs
    .readdirSync(dir)
    .map((f) => /^(\d{3})-([\w-]+)\.sql$/.exec(f))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ version: Number(m[1]), name: m[2], sql: fs.readFileSync(path.join(dir, m[0]), 'utf8') }))
    .sort((a, b) => a.version - b.version);
}

/** Bring the database to the newest version; returns the versions applied. */
export function migrate(db: Database.Database, migrations: Migration[] = sqliteMigrations()): number[] {
  const current = db.pragma('user_version', { simple: true }) as number;
  const newest = migrations.at(-1)?.version ?? 0;
  if (current > newest) {
    throw new Error(`the index schema is version ${current}, newer than this gateway knows (${newest}): run the newer gateway, or restore a backup`);
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
