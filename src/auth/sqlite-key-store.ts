/** API key rows in the SQLite index (table api_keys, db/sqlite/003). */
import type Database from 'better-sqlite3';
import type { Role } from './principal';
import { ApiKeyRecord, ApiKeyRow, KeyStore, keyId, makeKey, principalOfKey, publicRecord, revokedName } from './keys';

type Row = Record<string, string | null>;

function toRow(r: Row): ApiKeyRow {
  return {
    id: r.id!,
    name: r.name!,
    roles: JSON.parse(r.roles!),
    projects: JSON.parse(r.projects!),
    createdAt: r.created_at!,
    revokedAt: r.revoked_at ?? undefined,
    secretSha256: r.secret_sha256!,
  };
}

export class SqliteKeyStore implements KeyStore {
  constructor(private readonly db: Database.Database) {}

  async add(name: string, roles: Role[], projects: string[]): Promise<{ key: string; record: ApiKeyRecord }> {
    const { key, row } = makeKey(name, roles, projects);
    if (this.db.prepare('SELECT 1 FROM api_keys WHERE name = ?').get(name)) throw new Error(`a key named "${name}" exists (revoke it first to reuse the name)`);
    this.db
      .prepare('INSERT INTO api_keys (id, name, secret_sha256, roles, projects, created_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(row.id, row.name, row.secretSha256, JSON.stringify(roles), JSON.stringify(projects), row.createdAt);
    return { key, record: publicRecord(row) };
  }

  async list(): Promise<ApiKeyRecord[]> {
    return (this.db.prepare('SELECT * FROM api_keys ORDER BY created_at').all() as Row[]).map((r) => publicRecord(toRow(r)));
  }

  async revoke(name: string): Promise<boolean> {
    const row = this.db.prepare('SELECT id, name FROM api_keys WHERE name = ? AND revoked_at IS NULL').get(name) as { id: string; name: string } | undefined;
    if (!row) return false;
    this.db.prepare('UPDATE api_keys SET revoked_at = ?, name = ? WHERE id = ?').run(new Date().toISOString(), revokedName(row), row.id);
    return true;
  }

  async verify(key: string) {
    const id = keyId(key);
    const row = id === undefined ? undefined : (this.db.prepare('SELECT * FROM api_keys WHERE id = ?').get(id) as Row | undefined);
    return principalOfKey(key, row && toRow(row));
  }
}
