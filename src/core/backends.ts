/**
 * Opens the index, job store, key store and blob store a configuration names by URL. The
 * embedded default (SQLite and files under DATA_DIR) needs nothing else; PostgreSQL and S3 are
 * loaded only when asked for, so a default start never loads their clients.
 */
import type { Index } from '../index/index';
import type { JobStore } from '../processing/jobs/job-store';
import type { KeyStore } from '../auth/keys';
import type { BlobStore } from '../store/blob-store';
import type { TransferStore } from '../egress/transfer-store';
import { SqliteTransferStore } from '../egress/sqlite-transfer-store';
import { SqliteIndex } from '../index/sqlite-index';
import { SqliteJobStore } from '../processing/jobs/sqlite-job-store';
import { SqliteKeyStore } from '../auth/sqlite-key-store';
import { FsBlobStore } from '../store/fs-blob-store';
import { BackendsConfig, fileStoreRootOf, resolveBackends, sqliteFileOf } from './backends-config';

export interface Backends {
  index: Index;
  jobs: JobStore;
  keys: KeyStore;
  /** The egress queue (transfers and their items), beside the job queue. */
  transfers: TransferStore;
  store: BlobStore;
  /** This node's name in the shared job queue. */
  nodeId: string;
  /** The index may be written by other processes on other machines (PostgreSQL): nothing node-local is the whole truth. */
  sharedIndex: boolean;
  /** What was opened, without credentials, for the start-up log. */
  describe: { index: string; store: string };
  close(): Promise<void>;
}

type IndexParts = Pick<Backends, 'index' | 'jobs' | 'keys' | 'transfers' | 'sharedIndex'> & { close(): Promise<void>; describe: string };

async function openIndex(url: string, dataDir: string, c: BackendsConfig): Promise<IndexParts> {
  const file = sqliteFileOf(url);
  if (file !== undefined) {
    const index = new SqliteIndex(dataDir, file);
    return { index, jobs: new SqliteJobStore(index.database), keys: new SqliteKeyStore(index.database), transfers: new SqliteTransferStore(index.database), sharedIndex: false, close: () => index.close(), describe: `sqlite:${file}` };
  }
  if (/^postgres(ql)?:\/\//.test(url)) {
    const { openPostgres } = await import('../index/postgres/open');
    const { redactedIndexUrl } = await import('../index/postgres/url');
    const pg = await openPostgres(url, { password: c.indexPassword, poolSize: c.indexPoolSize });
    // The egress queue's tables came with the index's migrations; it shares the index's pool.
    const { PostgresTransferStore } = await import('../egress/postgres-transfer-store');
    return { index: pg.index, jobs: pg.jobs, keys: pg.keys, transfers: new PostgresTransferStore(pg.database), sharedIndex: true, close: () => pg.close(), describe: redactedIndexUrl(url) };
  }
  throw new Error(`configuration: INDEX_URL must begin sqlite: or postgres:// (got "${url.split(':')[0]}:…")`);
}

async function openStore(url: string, dataDir: string, c: BackendsConfig): Promise<{ store: BlobStore; describe: string }> {
  const root = fileStoreRootOf(url);
  if (root !== undefined) return { store: new FsBlobStore(dataDir, root), describe: `file:${root}` };
  if (url.startsWith('s3://')) {
    const { S3BlobStore } = await import('../store/s3-blob-store');
    const { parseS3Url, redactedStoreUrl } = await import('../store/s3-url');
    return { store: new S3BlobStore(parseS3Url(url), { credentials: c.storeCredentials }), describe: redactedStoreUrl(url) };
  }
  throw new Error(`configuration: STORE_URL must begin file: or s3:// (got "${url.split(':')[0]}:…")`);
}

export async function openBackends(config: BackendsConfig, dataDir: string): Promise<Backends> {
  const c = resolveBackends(config, dataDir);
  const index = await openIndex(c.indexUrl, dataDir, c);
  let store: { store: BlobStore; describe: string };
  try {
    store = await openStore(c.storeUrl, dataDir, c);
  } catch (e) {
    await index.close();
    throw e;
  }
  return {
    index: index.index,
    jobs: index.jobs,
    keys: index.keys,
    transfers: index.transfers,
    store: store.store,
    nodeId: c.nodeId,
    sharedIndex: index.sharedIndex,
    describe: { index: index.describe, store: store.describe },
    close: async () => {
      store.store.close?.();
      await index.close();
    },
  };
}
