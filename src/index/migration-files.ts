/**
 * Versioned schema migrations as files (db/<backend>/NNN-name.sql), read in version order; each
 * backend applies them its own way (sqlite-migrations.ts, postgres/migrations.ts) and refuses a
 * schema newer than the newest file.
 */
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../paths';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export function readMigrations(backend: 'sqlite' | 'postgres', dir = path.join(projectRoot(), 'db', backend)): Migration[] {
  return fs
    .readdirSync(dir)
    .map((f) => /^(\d{3})-([\w-]+)\.sql$/.exec(f))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ version: Number(m[1]), name: m[2], sql: fs.readFileSync(path.join(dir, m[0]), 'utf8') }))
    .sort((a, b) => a.version - b.version);
}

/** The message for an index written by a newer gateway, the same on every backend. */
export function newerSchemaError(current: number, newest: number): Error {
  return new Error(`the index schema is version ${current}, newer than this gateway knows (${newest}): run the newer gateway, or restore a backup`);
}
