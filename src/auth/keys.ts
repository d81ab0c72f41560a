/**
 * API keys (AUTH=keys): `vgk_<id>_<secret>`, 128 bits of id and 256 bits of secret from the
 * system's random source. The index keeps the id, the SHA-256 of the secret (a key has too
 * much entropy for a slow hash to add anything), the roles and the projects; the key itself is
 * printed once, by `veilgate keys add`, and can be revoked but never shown again.
 *
 * The format, the making and the checking of keys live here; each index backend keeps the rows
 * (sqlite-key-store.ts, postgres/key-store.ts).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { Principal, Role } from './principal';

export interface ApiKeyRecord {
  id: string;
  name: string;
  roles: Role[];
  projects: string[];
  createdAt: string;
  revokedAt?: string;
}

/** A key's row as a backend keeps it. */
export interface ApiKeyRow extends ApiKeyRecord {
  secretSha256: string;
}

export interface KeyStore {
  /** Make a key; the returned secret is the only time it exists outside the caller. */
  add(name: string, roles: Role[], projects: string[]): Promise<{ key: string; record: ApiKeyRecord }>;
  list(): Promise<ApiKeyRecord[]>;
  /** Revoke by name; a revoked key's name may be used again. */
  revoke(name: string): Promise<boolean>;
  /** The principal a key stands for, or undefined (unknown, revoked, malformed: all the same). */
  verify(key: string): Promise<Principal | undefined>;
}

const KEY = /^vgk_([0-9a-f]{32})_([A-Za-z0-9_-]{43})$/;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

const sha256 = (s: string) => createHash('sha256').update(s).digest();

export function looksLikeKey(token: string): boolean {
  return token.startsWith('vgk_');
}

/** A new key's row and the key itself; throws on a name that is not allowed. */
export function makeKey(name: string, roles: Role[], projects: string[]): { key: string; row: ApiKeyRow } {
  if (!NAME.test(name)) throw new Error('a key name is 1 to 64 letters, digits and . _ @ -');
  const id = randomBytes(16).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  const row = { id, name, roles, projects, createdAt: new Date().toISOString(), secretSha256: sha256(secret).toString('hex') };
  return { key: `vgk_${id}_${secret}`, row };
}

/** The id part of a well-formed key (what the backend looks the row up by), or undefined. */
export function keyId(key: string): string | undefined {
  return KEY.exec(key)?.[1];
}

/** The name a revoked key's row takes, freeing its name; its id stays, never valid again. */
export function revokedName(row: Pick<ApiKeyRow, 'id' | 'name'>): string {
  return `${row.name}#revoked-${row.id.slice(0, 8)}`;
}

/** Check a key against its row (or none): compared even without a row, so timing does not tell a known id from an unknown one. */
export function principalOfKey(key: string, row: ApiKeyRow | undefined): Principal | undefined {
  const m = KEY.exec(key);
  if (!m) return undefined;
  const expected = row ? Buffer.from(row.secretSha256, 'hex') : Buffer.alloc(32);
  const ok = timingSafeEqual(expected, sha256(m[2])) && !!row && !row.revokedAt;
  if (!ok) return undefined;
  return { id: row!.name, via: 'key', roles: new Set(row!.roles), projects: new Set(row!.projects) };
}

export function publicRecord(row: ApiKeyRow): ApiKeyRecord {
  const { secretSha256: _hash, ...record } = row;
  return record;
}
