/**
 * API key rows on PostgreSQL (table api_keys, db/postgres/001), behaving as SqliteKeyStore does;
 * the making and checking of keys are src/auth/keys.ts's, shared by every backend.
 */
import type { Principal, Role } from '../../auth/principal';
import { ApiKeyRecord, ApiKeyRow, KeyStore, keyId, makeKey, principalOfKey, publicRecord, revokedName } from '../../auth/keys';
import type { PgDatabase } from './database';

interface Row {
  id: string;
  name: string;
  secret_sha256: string;
  roles: string;
  projects: string;
  created_at: Date;
  revoked_at: Date | null;
}

function toRow(r: Row): ApiKeyRow {
  return {
    id: r.id,
    name: r.name,
    roles: JSON.parse(r.roles),
    projects: JSON.parse(r.projects),
    createdAt: r.created_at.toISOString(),
    revokedAt: r.revoked_at?.toISOString(),
    secretSha256: r.secret_sha256,
  };
}

const taken = (name: string) => new Error(`a key named "${name}" exists (revoke it first to reuse the name)`);

export class PostgresKeyStore implements KeyStore {
  constructor(private readonly db: PgDatabase) {}

  async add(name: string, roles: Role[], projects: string[]): Promise<{ key: string; record: ApiKeyRecord }> {
    const { key, row } = makeKey(name, roles, projects);
    // The unique name decides, so two nodes adding the same name at once cannot both succeed.
    const r = await this.db.query(
      `INSERT INTO api_keys (id, name, secret_sha256, roles, projects, created_at) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (name) DO NOTHING`,
      [row.id, row.name, row.secretSha256, JSON.stringify(roles), JSON.stringify(projects), row.createdAt],
    );
    if (!r.rowCount) throw taken(name);
    return { key, record: publicRecord(row) };
  }

  async list(): Promise<ApiKeyRecord[]> {
    const r = await this.db.query<Row>('SELECT * FROM api_keys ORDER BY created_at, id');
    return r.rows.map((x) => publicRecord(toRow(x)));
  }

  async revoke(name: string): Promise<boolean> {
    const r = await this.db.query<Row>('SELECT id, name FROM api_keys WHERE name = $1 AND revoked_at IS NULL', [name]);
    const row = r.rows[0];
    if (!row) return false;
    // Only if still unrevoked: a concurrent revoke of the same key counts once.
    const done = await this.db.query('UPDATE api_keys SET revoked_at = now(), name = $2 WHERE id = $1 AND revoked_at IS NULL', [row.id, revokedName(row)]);
    return done.rowCount > 0;
  }

  async verify(key: string): Promise<Principal | undefined> {
    const id = keyId(key);
    const r = id === undefined ? undefined : await this.db.query<Row>('SELECT * FROM api_keys WHERE id = $1', [id]);
    const row = r?.rows[0];
    return principalOfKey(key, row && toRow(row));
  }
}
