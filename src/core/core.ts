/**
 * The composition root: one core (configuration, index, job and key stores, blob store, ingest,
 * worker threads, admission, audit trail) that every adapter takes — HTTP (server.ts), DIMSE,
 * the command line and jobs. Backends are chosen by URL (backends.ts).
 */
import path from 'node:path';
import { loadSiteSecret, secretFingerprint } from '../deid/secret';
import { LINKAGE_FILE, LinkageFile } from '../deid/linkage';
import { SHIPPED_RECIPES } from '../deid/pixel-recipes';
import { PixelTextReader } from '../deid/ocr';
import { Admission } from '../admission';
import { quietDicomLibraries } from '../quiet-libraries';
import type { Config } from '../config';
import type { IngestDeps } from '../ingest/ingest';
import { GatewayAudit, openGatewayAudit } from '../audit/gateway-audit';
import { WorkerPool } from '../workers/pool';
import { Backends, openBackends } from './backends';

export interface Core extends Omit<Backends, 'close' | 'describe'> {
  config: Config;
  ingestDeps: IngestDeps;
  admission: Admission;
  /** Worker threads for parsing, de-identifying, decoding, rendering, transcoding and volumes. */
  workers: WorkerPool;
  /** The DICOM audit trail (also in ingestDeps.audit, which ingest and the adapters use). */
  audit: GatewayAudit;
  /** What was opened, without credentials. */
  describe: Backends['describe'];
  /** Close what open() opened (after every adapter has stopped). */
  close(): Promise<void>;
}

export async function openCore(config: Config): Promise<Core> {
  // The DICOM libraries log data set values as plain text: never let them write to our output.
  quietDicomLibraries();
  const secret = loadSiteSecret({ dataDir: config.dataDir, file: config.backends.siteSecretFile, hex: config.backends.siteSecretHex });
  const backends = await openBackends(config.backends, config.dataDir);
  try {
    // Nodes sharing an index must share the secret, or one patient gets two pseudonyms.
    const fingerprint = secretFingerprint(secret);
    if ((await backends.index.siteSecretFingerprint(fingerprint)) !== fingerprint) {
      throw new Error('the site secret differs from the one this index was made with: every node sharing an index needs the same secret (SITE_SECRET_FILE or SITE_SECRET)');
    }
  } catch (e) {
    await backends.close();
    throw e;
  }
  const audit = openGatewayAudit(config.audit, config.dataDir, config.dimse.aeTitle);
  const workers = new WorkerPool(config.limits.workerThreads);
  const ingestDeps: IngestDeps = {
    index: backends.index,
    store: backends.store,
    workers,
    maxInstanceBytes: config.maxInstanceBytes,
    limits: config.limits,
    inlineBinaryMaxBytes: config.inlineBinaryMaxBytes,
    deid: {
      secret,
      options: config.deid.options,
      acceptBurnedIn: config.deid.acceptBurnedIn,
      pixelRecipes: [...config.deid.pixelRecipes, ...SHIPPED_RECIPES],
    },
    linkage: config.deid.linkage ? new LinkageFile(path.join(config.dataDir, LINKAGE_FILE)) : undefined,
    ocr: config.deid.ocr.enabled ? new PixelTextReader(config.deid.ocr) : undefined,
    projectRules: config.auth.projectRules,
    audit,
  };
  return {
    config,
    index: backends.index,
    jobs: backends.jobs,
    keys: backends.keys,
    transfers: backends.transfers,
    store: backends.store,
    nodeId: backends.nodeId,
    sharedIndex: backends.sharedIndex,
    describe: backends.describe,
    ingestDeps,
    admission: new Admission(config.limits.concurrency),
    workers,
    audit,
    close: async () => {
      await ingestDeps.ocr?.close();
      await workers.close();
      await audit.close();
      await backends.close();
    },
  };
}
