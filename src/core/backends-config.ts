/**
 * Which index, store and node identity a gateway uses: chosen by URL (INDEX_URL, STORE_URL), the
 * embedded default (SQLite and files under DATA_DIR) when none is given. Secrets never sit in a
 * URL: the database password comes from PGPASSWORD or the config file, object-store credentials
 * from the AWS environment or the config file; a URL with credentials in it is refused.
 */
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';

export interface BackendsConfig {
  /** `sqlite:PATH` or `postgres://user@host:port/db`; unset: DATA_DIR/index.sqlite. */
  indexUrl?: string;
  /** `file:PATH` or `s3://bucket/prefix?endpoint=…&region=…&forcePathStyle=true`; unset: DATA_DIR/files. */
  storeUrl?: string;
  /** The database password (config file or PGPASSWORD), never in the URL. */
  indexPassword?: string;
  /** Object-store credentials from the config file; unset: the AWS SDK's own chain (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a session token, a profile, an instance role). */
  storeCredentials?: { accessKeyId: string; secretAccessKey: string };
  /** Connections in the PostgreSQL pool of this node. */
  indexPoolSize: number;
  /**
   * This node's name in the shared job queue: stable across restarts, so a restarted node takes
   * back its own interrupted jobs at once. Unset: the host name and a hash of DATA_DIR.
   */
  nodeId?: string;
  /**
   * The site secret: a file (SITE_SECRET_FILE) or 64 hex digits (SITE_SECRET), shared by every
   * node of a cluster; default DATA_DIR/secret.key, made on first start.
   */
  siteSecretFile?: string;
  siteSecretHex?: string;
}

export type BackendsFileConfig = Partial<Omit<BackendsConfig, 'siteSecretHex'>>;

const NODE_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;

export function loadBackendsConfig(file: BackendsFileConfig | undefined, env: NodeJS.ProcessEnv): BackendsConfig {
  const f = file ?? {};
  const c: BackendsConfig = {
    indexUrl: env.INDEX_URL || f.indexUrl,
    storeUrl: env.STORE_URL || f.storeUrl,
    indexPassword: env.PGPASSWORD || f.indexPassword,
    storeCredentials: f.storeCredentials,
    indexPoolSize: Number(env.INDEX_POOL_SIZE || f.indexPoolSize || 10),
    nodeId: env.NODE_ID || f.nodeId,
    siteSecretFile: env.SITE_SECRET_FILE || f.siteSecretFile,
    siteSecretHex: env.SITE_SECRET || undefined,
  };
  if (!Number.isInteger(c.indexPoolSize) || c.indexPoolSize < 1 || c.indexPoolSize > 200) throw new Error('configuration: indexPoolSize (INDEX_POOL_SIZE) must be 1 to 200');
  if (c.nodeId !== undefined && !NODE_ID.test(c.nodeId)) throw new Error('configuration: nodeId (NODE_ID) must be 1 to 64 letters, digits and . _ : -');
  if (c.siteSecretHex !== undefined && !/^[0-9a-fA-F]{64}$/.test(c.siteSecretHex)) throw new Error('configuration: SITE_SECRET must be 64 hex digits');
  const c2 = c.storeCredentials;
  if (c2 && (typeof c2.accessKeyId !== 'string' || typeof c2.secretAccessKey !== 'string')) throw new Error('configuration: storeCredentials needs accessKeyId and secretAccessKey');
  return c;
}

/** The index, store and node name a gateway on this data directory uses. */
export function resolveBackends(c: BackendsConfig, dataDir: string): BackendsConfig & { indexUrl: string; storeUrl: string; nodeId: string } {
  return {
    ...c,
    indexUrl: c.indexUrl ?? `sqlite:${path.join(dataDir, 'index.sqlite')}`,
    storeUrl: c.storeUrl ?? `file:${path.join(dataDir, 'files')}`,
    nodeId: c.nodeId ?? `${os.hostname().slice(0, 40)}-${createHash('sha256').update(dataDir).digest('hex').slice(0, 8)}`,
  };
}

/** The file of a `sqlite:` index URL, or undefined for another scheme. */
export function sqliteFileOf(url: string): string | undefined {
  if (!url.startsWith('sqlite:')) return undefined;
  const file = url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
  if (!file) throw new Error('configuration: INDEX_URL sqlite: needs a file path');
  return path.resolve(file);
}

/** The folder of a `file:` store URL, or undefined for another scheme. */
export function fileStoreRootOf(url: string): string | undefined {
  if (!url.startsWith('file:')) return undefined;
  const root = url.slice('file:'.length).replace(/^\/\/(?=\/)/, '');
  if (!root) throw new Error('configuration: STORE_URL file: needs a folder path');
  return path.resolve(root);
}
