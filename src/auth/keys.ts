/**
 * API keys (AUTH=keys): `vgk_<id>_<secret>`, 128 bits of id and 256 bits of secret from the
 * system's random source. The index keeps the id, the SHA-256 of the secret (a key has too
 * much entropy for a slow hash to add anything), the roles and the projects; the key itself is
 * printed once, by `veilgate keys add`, and can be revoked but never shown again.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type Database from 'better-sqlite3';
import { Principal, Role } from './principal';

export interface ApiKeyRecord {
  id: string;
  name: string;
  roles: Role[];
  projects: string[];
  createdAt: string;
  revokedAt?: string;
}

const KEY = /^vgk_([0-9a-f]{32})_([A-Za-z0-9_-]{43})$/;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

const sha256 = (s: string) => createHash('sha256').update(s).digest();

export function looksLikeKey(token: string): boolean {
  return token.startsWith('vgk_');
}

export class KeyStore {
  constructor(private readonly db: Database.Database) {}

  /** Make a key; the returned secret is the only time it exists outside the caller. */
  add(name: string, roles: Role[], projects: string[]): { key: string; record: ApiKeyRecord } {
    if (!NAME.test(name)) throw new Error('a key name is 1 to 64 letters, digits and . _ @ -');
    if (this.db.prepare('SELECT 1 FROM api_keys WHERE name = ?').get(name)) throw new Error(`a key named "${name}" exists (revoke it first to reuse the name)`);
    const id = randomBytes(16).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    const createdAt = new Date().toISOString();
    this.db
      .prepare('INSERT INTO api_keys (id, name, secret_sha256, roles, projects, created_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(id, name, sha256(secret).toString('hex'), JSON.stringify(roles), JSON.stringify(projects), createdAt);
    return { key: `vgk_${id}_${secret}`, record: { id, name, roles, projects, createdAt } };
  }

  list(): ApiKeyRecord[] {
    const rows = this.db.prepare('SELECT * FROM api_keys ORDER BY created_at').all() as Record<string, string | null>[];
    return rows.map((r) => ({
      id: r.id!,
      name: r.name!,
      roles: JSON.parse(r.roles!),
      projects: JSON.parse(r.projects!),
      createdAt: r.created_at!,
      revokedAt: r.revoked_at ?? undefined,
    }));
  }

  /** Revoke by name; a revoked key's name may be used again. */
  revoke(name: string): boolean {
    const row = this.db.prepare('SELECT id FROM api_keys WHERE name = ? AND revoked_at IS NULL').get(name) as { id: string } | undefined;
    if (!row) return false;
    // The name is freed by renaming the revoked record; its id stays, never valid again.
    this.db.prepare('UPDATE api_keys SET revoked_at = ?, name = ? WHERE id = ?').run(new Date().toISOString(), `${name}#revoked-${row.id.slice(0, 8)}`, row.id);
    return true;
  }

  /** The principal a key stands for, or undefined (unknown, revoked, malformed: all the same). */
  verify(key: string): Principal | undefined {
    const m = KEY.exec(key);
    if (!m) return undefined;
    const row = this.db.prepare('SELECT * FROM api_keys WHERE id = ?').get(m[1]) as Record<string, string | null> | undefined;
    // Compare even when there is no row, so timing does not tell a known id from an unknown one.
    const expected = row ? Buffer.from(row.secret_sha256!, 'hex') : Buffer.alloc(32);
    const ok = timingSafeEqual(expected, sha256(m[2])) && !!row && !row.revoked_at;
    if (!ok) return undefined;
    return { id: row!.name!, via: 'key', roles: new Set(JSON.parse(row!.roles!) as Role[]), projects: new Set(JSON.parse(row!.projects!) as string[]) };
  }
}
