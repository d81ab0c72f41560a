/** The gateway's own API beside DICOMweb: NIfTI conversion, processing jobs, transfers, its OpenAPI description. */
import express, { Request, Response } from 'express';
import { DicomWebContext } from '../dicomweb/context';
import { errorHandler } from '../dicomweb/router';
import { getNiftiHandler, getSidecarHandler, postNiftiHandler } from './nifti';
import { jobsRouter } from './jobs';
import { JobRunner } from '../processing/jobs/runner';
import { publicRoute, requireRole } from '../auth/middleware';
import type { Egress } from '../egress/egress';
import { transfersRouter } from './transfers';
import { withTransfers } from './transfers-openapi';
import { OPENAPI } from './openapi';
import { IngestTally, ingestSummaryRouter } from './ingest-summary';
import { rulesRouter } from './rules';

const SERIES = '/studies/:study/series/:series';

/** What the console's read-only routes need beside the core. */
export interface ApiExtras {
  /** The recent-ingest tally the server feeds from the ingest outcome hook; without it, an empty one. */
  ingestTally?: IngestTally;
  node?: string;
}

export function apiRouter(ctx: DicomWebContext, runner: JobRunner, egress?: Egress, extras: ApiExtras = {}): express.Router {
  const r = express.Router();
  // Transfers are always served and described: without destinations, a transfer names none that exists (400).
  const described = egress ? withTransfers(OPENAPI) : OPENAPI;
  r.get('/openapi.json', publicRoute('describes the API routes; says nothing about stored data'), (_req: Request, res: Response) => void res.json(described));
  r.use('/jobs', jobsRouter(ctx, runner));
  if (egress) r.use('/transfers', transfersRouter(ctx, egress));
  r.use('/ingest', ingestSummaryRouter(extras.ingestTally ?? new IngestTally(), extras.node));
  r.use('/rules', rulesRouter(ctx));
  // Conversions are heavy: admitted by the NIfTI concurrency limit (503 with Retry-After when saturated).
  const admitted = (handler: (req: Request, res: Response) => Promise<void>) => (req: Request, res: Response) => ctx.admission.run('nifti', () => handler(req, res));
  r.get(`${SERIES}/nifti`, requireRole('read'), admitted(getNiftiHandler(ctx)));
  r.get(`${SERIES}/nifti.json`, requireRole('read'), admitted(getSidecarHandler(ctx)));
  // Publishing a volume back makes a derived series in the source's study: processing.
  r.post(`${SERIES}/nifti`, requireRole('process'), admitted(postNiftiHandler(ctx)));
  r.use((_req, _res, next) => next(Object.assign(new Error('not found'), { status: 404 })));
  r.use(errorHandler);
  return r;
}
