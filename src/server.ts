/** Wires the core (index, store, ingest) to the HTTP adapter and starts listening. */
import http from 'node:http';
import path from 'node:path';
import { loadOrCreateSecret } from './deid/secret';
import { LINKAGE_FILE, LinkageFile } from './deid/linkage';
import { SHIPPED_RECIPES } from './deid/pixel-recipes';
import { PixelTextReader } from './deid/ocr';
import { Admission } from './admission';
import { quietDicomLibraries } from './quiet-libraries';
import { GatewayMetrics } from './observability/metrics';
import { healthHandler } from './observability/health';
import express from 'express';
import { Config } from './config';
import { SqliteIndex } from './index/sqlite-index';
import { FsBlobStore } from './store/fs-blob-store';
import { Index } from './index/index';
import { BlobStore } from './store/blob-store';
import { IngestDeps } from './ingest/ingest';
import { dicomWebRouter } from './dicomweb/router';
import { cors } from './dicomweb/cors';
import { apiRouter } from './api/router';
import { viewerRouter } from './viewer/router';
import { JobRunner } from './processing/jobs/runner';
import { IngestRules } from './processing/jobs/rules';
import { log } from './log';
import { sweepOrphans } from './maintenance/orphan-sweep';
import { DimseListener, startDimse } from './dimse/listener';

export interface Gateway {
  config: Config;
  index: Index;
  store: BlobStore;
  ingestDeps: IngestDeps;
  admission: Admission;
  server: http.Server;
  /** The DIMSE listener, unless DIMSE_PORT=off. */
  dimse?: DimseListener;
  runner: JobRunner;
  /** The start-up sweep for files no index row refers to (see maintenance/orphan-sweep.ts). */
  sweep: Promise<void>;
  close(): Promise<void>;
}

export function openCore(config: Config): { index: Index; store: BlobStore; ingestDeps: IngestDeps; admission: Admission } {
  // The DICOM libraries log data set values as plain text: never let them write to our output.
  quietDicomLibraries();
  const index = new SqliteIndex(config.dataDir);
  const store = new FsBlobStore(config.dataDir);
  const ingestDeps: IngestDeps = {
    index,
    store,
    maxInstanceBytes: config.maxInstanceBytes,
    limits: config.limits,
    inlineBinaryMaxBytes: config.inlineBinaryMaxBytes,
    deid: {
      secret: loadOrCreateSecret(config.dataDir),
      options: config.deid.options,
      acceptBurnedIn: config.deid.acceptBurnedIn,
      pixelRecipes: [...config.deid.pixelRecipes, ...SHIPPED_RECIPES],
    },
    linkage: config.deid.linkage ? new LinkageFile(path.join(config.dataDir, LINKAGE_FILE)) : undefined,
    ocr: config.deid.ocr.enabled ? new PixelTextReader(config.deid.ocr) : undefined,
  };
  return { index, store, ingestDeps, admission: new Admission(config.limits.concurrency) };
}

export async function startGateway(config: Config): Promise<Gateway> {
  const startedAt = Date.now();
  const core = openCore(config);
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  const ctx = { config, ...core };
  const metrics = new GatewayMetrics(core.admission, core.index.jobs);
  core.ingestDeps.onOutcome = (outcome, source) => metrics.ingested(outcome, source);
  app.use(metrics.middleware());
  app.get('/health', healthHandler({ index: core.index, dataDir: config.dataDir, minFreeDiskBytes: config.limits.minFreeDiskBytes }));
  app.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  // CORS first, so preflight requests are answered before any route.
  app.use(['/dicom-web', '/api'], cors(config.corsOrigins));
  app.use('/dicom-web', dicomWebRouter(ctx));
  const runner = new JobRunner({ ...core, dataDir: config.dataDir }, core.index.jobs, Math.max(1, config.jobConcurrency), config.limits);
  runner.start();
  const rules = new IngestRules(config.jobRules, core.index, runner, config.jobRulesQuietSeconds * 1000);
  core.ingestDeps.onExternalStored = (study, series) => rules.seriesGrew(study, series);
  app.use('/api', apiRouter(ctx, runner));
  app.use('/viewer', viewerRouter(ctx));
  app.get('/', (_req, res) => {
    res.type('text/plain').send('Veilgate DICOMweb gateway: DICOMweb root at /dicom-web, viewer at /viewer/\n');
  });
  const server = http.createServer(app);
  const limits = config.limits;
  // A large STOW upload may take long as a whole, so no whole-request timeout; but a connection
  // that goes silent (mid-body too) is closed, the headers must come quickly, and the number of
  // connections is capped.
  server.requestTimeout = 0;
  server.timeout = limits.httpIdleTimeoutSeconds * 1000;
  server.headersTimeout = limits.httpHeadersTimeoutSeconds * 1000;
  server.maxConnections = limits.httpMaxConnections;
  // Idle keep-alive connections are closed by the client first (undici and browsers keep them
  // 4-5 s): a server that closes at the same moment races the client's next request into an
  // ECONNRESET, most of all after the event loop was busy and both timers expired together.
  server.keepAliveTimeout = Math.min(65_000, server.timeout || 65_000);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const address = server.address();
  if (config.port === 0 && address && typeof address === 'object') {
    config.port = address.port;
    if (config.publicUrl.endsWith(':0')) config.publicUrl = `http://${config.host}:${address.port}`;
  }
  log.info('listening', { url: `${config.publicUrl}/dicom-web`, dataDir: config.dataDir });
  const dimse = config.dimse.enabled ? await startDimse({ config, ...core }) : undefined;
  let closing = false;
  const sweep = sweepOrphans(core.index, core.store, startedAt, () => closing).then(
    (r) => (r.quarantined ? log.warn('orphans-quarantined', { ...r }) : log.info('orphan-sweep', { ...r })),
    (e) => log.error('orphan-sweep-failed', { error: String((e as Error).message ?? e) }),
  );
  return {
    config,
    ...core,
    server,
    dimse,
    runner,
    sweep,
    close: async () => {
      closing = true;
      await sweep;
      rules.stop();
      await runner.stop();
      await dimse?.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      await core.ingestDeps.ocr?.close();
      await core.index.close();
      core.store.close?.();
    },
  };
}
