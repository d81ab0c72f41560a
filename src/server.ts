/** The HTTP adapter: takes the core (core/core.ts), starts the DIMSE listener and the job runner beside it, and listens. */
import http from 'node:http';
import https from 'node:https';
import fs from 'node:fs';
import { Admission } from './admission';
import { GatewayMetrics } from './observability/metrics';
import { healthHandler } from './observability/health';
import express from 'express';
import { Config } from './config';
import { Index } from './index/index';
import { BlobStore } from './store/blob-store';
import { IngestDeps } from './ingest/ingest';
import { dicomWebRouter, errorHandler } from './dicomweb/router';
import { cors } from './dicomweb/cors';
import { apiRouter } from './api/router';
import { viewerRouter } from './viewer/router';
import { consoleRouter } from './console/router';
import { IngestTally } from './api/ingest-summary';
import { JobRunner } from './processing/jobs/runner';
import { IngestRules } from './processing/jobs/rules';
import { log } from './log';
import { SHARED_GRACE_MS, sweepOrphans } from './maintenance/orphan-sweep';
import { DAY_MS, RejectedPurge } from './maintenance/rejected-purge';
import { DimseListener, startDimse } from './dimse/listener';
import { Authenticator, publicRoute, requireRole } from './auth/middleware';
import { isLoopback } from './auth/config';
import { securityHeaders } from './auth/security-headers';
import { ProxyTrust } from './auth/proxy';
import { proxyTrust } from './dicomweb/context';
import { dimseAuditEvents } from './audit/dimse-audit';
import { WorkerPool } from './workers/pool';
import { Core, openCore } from './core/core';
import type { JobStore } from './processing/jobs/job-store';
import { Egress } from './egress/egress';
import { ExportManager } from './export/exports';
import { exportsRouter } from './api/exports';

export interface Gateway {
  config: Config;
  core: Core;
  index: Index;
  jobs: JobStore;
  store: BlobStore;
  ingestDeps: IngestDeps;
  admission: Admission;
  workers: WorkerPool;
  server: http.Server | https.Server;
  /** The express application (the route-crawler test reads its routes). */
  app: express.Express;
  authenticator: Authenticator;
  /** The DIMSE listener, unless DIMSE_PORT=off. */
  dimse?: DimseListener;
  runner: JobRunner;
  /** The start-up sweep for files no index row refers to (see maintenance/orphan-sweep.ts). */
  sweep: Promise<void>;
  close(): Promise<void>;
}

/** Closes a new connection from an address that already holds `max` (a trusted proxy holds many clients). */
function capConnectionsPerClient(server: http.Server | https.Server, max: number, proxies: ProxyTrust): void {
  const open = new Map<string, number>();
  server.on('connection', (socket) => {
    const address = socket.remoteAddress ?? '';
    if (proxies.trusts(address)) return;
    const n = (open.get(address) ?? 0) + 1;
    if (n > max) {
      socket.destroy();
      return;
    }
    open.set(address, n);
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left <= 0) open.delete(address);
      else open.set(address, left);
    });
  });
}

export async function startGateway(config: Config): Promise<Gateway> {
  const startedAt = Date.now();
  const core = await openCore(config);
  log.info('backends', { ...core.describe, node: core.nodeId });
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  const ctx = { ...core, config };
  const metrics = new GatewayMetrics(core.admission, core.jobs, core.workers);
  // The console's recent-ingest tally counts beside the metrics: kinds of source only.
  const ingestTally = new IngestTally();
  core.ingestDeps.onOutcome = (outcome, source, warnings) => {
    metrics.ingested(outcome, source);
    ingestTally.add(outcome, source, warnings);
  };
  const authenticator = new Authenticator(config.auth, core.keys, { authenticated: (outcome, id, address) => core.audit.authenticated(outcome, id, address) });
  app.locals.audit = core.audit;
  app.locals.authenticator = authenticator;
  if (!authenticator.enabled && !isLoopback(config.host)) {
    log.warn('auth-off', { host: config.host, why: 'AUTH=off: every client that reaches this address may read and write everything' });
  }
  app.use(securityHeaders({ tls: !!config.tls, authEnabled: authenticator.enabled, forwardedUrls: config.auth.trustProxy.length > 0 && !config.publicUrlFixed }));
  app.use(metrics.middleware());
  // CORS first, so preflight requests are answered before any route and before authentication.
  app.use(['/dicom-web', '/api'], cors(config.corsOrigins));
  app.get('/health', publicRoute('load balancers and probes; says nothing about stored data'), healthHandler({ index: core.index, dataDir: config.dataDir, minFreeDiskBytes: config.limits.minFreeDiskBytes }));
  app.get('/', publicRoute('names the DICOMweb root and the viewer'), (_req, res) => {
    res.type('text/plain').send('Veilgate DICOMweb gateway: DICOMweb root at /dicom-web, viewer at /viewer/, console at /console/\n');
  });
  // Every request leaves here with its principal (or none); each route then states its role.
  app.use(authenticator.middleware());
  app.get('/metrics', requireRole('admin'), async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  // Rejected instances are deleted when their grace period ends (and soon after each rejection).
  const rejectedPurge = new RejectedPurge(core.index, core.store, { graceMs: config.rejectedGraceDays * DAY_MS });
  app.use('/dicom-web', dicomWebRouter(ctx, { onRejected: () => rejectedPurge.nudge() }));
  const egress = new Egress(core, config);
  const runner = new JobRunner({ ...core, dataDir: config.dataDir, onResultStored: (study, series) => egress.jobResultStored(study, series) }, core.jobs, core.nodeId, Math.max(1, config.jobConcurrency), config.limits, Math.max(1, config.jobLeaseSeconds) * 1000);
  runner.start();
  const rules = new IngestRules(config.jobRules, core.index, core.jobs, runner, config.jobRulesQuietSeconds * 1000);
  core.ingestDeps.onExternalStored = (study, series) => {
    rules.seriesGrew(study, series);
    egress.seriesGrew(study, series);
  };
  egress.start();
  // Export bundles: a bounded queue of this node's own, bundles under DATA_DIR/exports (export/exports.ts).
  const exportManager = new ExportManager(core, config);
  exportManager.start();
  app.use('/api/exports', exportsRouter(ctx, exportManager));
  app.use('/api', apiRouter(ctx, runner, egress, { ingestTally, node: core.nodeId }));
  app.use('/viewer', viewerRouter(ctx, { authenticator }));
  app.use('/console', consoleRouter());
  // Anything else: 404 at once, without reading a body nobody asked for.
  app.use((_req: express.Request, res: express.Response) => {
    res.setHeader('Connection', 'close');
    res.status(404).type('text/plain').send('no such resource\n');
  });
  app.use(errorHandler);
  const server = config.tls ? https.createServer({ cert: fs.readFileSync(config.tls.cert), key: fs.readFileSync(config.tls.key) }, app) : http.createServer(app);
  const limits = config.limits;
  // A large STOW upload may take long as a whole, so no whole-request timeout; but a connection
  // that goes silent (mid-body too) is closed, the headers must come quickly, and the number of
  // connections is capped.
  server.requestTimeout = 0;
  server.timeout = limits.httpIdleTimeoutSeconds * 1000;
  server.headersTimeout = limits.httpHeadersTimeoutSeconds * 1000;
  server.maxConnections = limits.httpMaxConnections;
  capConnectionsPerClient(server, limits.httpMaxConnectionsPerClient, proxyTrust(config));
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
    if (config.publicUrl.endsWith(':0')) config.publicUrl = `${config.tls ? 'https' : 'http'}://${config.host}:${address.port}`;
  }
  log.info('listening', { url: `${config.publicUrl}/dicom-web`, dataDir: config.dataDir });
  core.audit.started();
  const dimse = config.dimse.enabled ? await startDimse({ ...core, authenticator, events: dimseAuditEvents(core.audit, core.index) }) : undefined;
  let closing = false;
  // An index this process alone writes: anything older than the start is judged at once. A shared
  // one: only what is older than the grace period, any node may be mid-ingest.
  const cutoff = core.sharedIndex ? () => Date.now() - SHARED_GRACE_MS : startedAt;
  const sweep = sweepOrphans(core.index, core.store, cutoff, { stopped: () => closing, pauseMs: core.sharedIndex ? 50 : 0 }).then(
    (r) => (r.quarantined ? log.warn('orphans-quarantined', { ...r }) : log.info('orphan-sweep', { ...r })),
    (e) => log.error('orphan-sweep-failed', { error: String((e as Error).message ?? e) }),
  );
  // After the sweep: a rejected blob whose row the purge has just deleted is deleted, not quarantined.
  void sweep.then(() => closing || rejectedPurge.start());
  return {
    ...core,
    config,
    core,
    server,
    app,
    authenticator,
    dimse,
    runner,
    sweep,
    close: async () => {
      closing = true;
      await sweep;
      await rejectedPurge.stop();
      rules.stop();
      await egress.stop();
      await exportManager.stop();
      await runner.stop();
      await dimse?.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      core.audit.stopped();
      await core.close();
    },
  };
}
