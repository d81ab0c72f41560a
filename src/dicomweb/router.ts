/** The DICOMweb routes (PS3.18 10.4-10.6) and the one place errors become HTTP responses. */
import express, { NextFunction, Request, Response } from 'express';
import { RETRY_AFTER_SECONDS, httpStatusOf, isOurFault, messageOf } from '../errors';
import { log } from '../log';
import { DicomWebContext } from './context';
import { ResponseClosed } from './multipart-writer';
import { stowHandler } from './stow';
import { qidoHandler } from './qido';
import { bulkdataHandler, framesHandler, metadataHandler, retrieveHandler } from './wado';
import { capabilitiesHandler } from './capabilities';
import { renderedHandler } from './rendered';
import { requireRole } from '../auth/middleware';
import { deleteHandler, rejectHandler } from './remove';

const STUDY = '/studies/:study';
const SERIES = `${STUDY}/series/:series`;
const INSTANCE = `${SERIES}/instances/:instance`;

export interface DicomWebHooks {
  /** Told after each rejection (the grace-period task runs soon: maintenance/rejected-purge.ts). */
  onRejected?: () => void;
}

export function dicomWebRouter(ctx: DicomWebContext, hooks: DicomWebHooks = {}): express.Router {
  const r = express.Router();
  // Every route states its role: a reader cannot store, a sender cannot query (auth/middleware.ts).
  const read = requireRole('read');
  const send = requireRole('ingest');
  const admin = requireRole('admin');
  r.get('/', read, capabilitiesHandler(ctx));
  r.options('/', read, capabilitiesHandler(ctx));
  r.post('/studies', send, stowHandler(ctx));
  r.post(STUDY, send, stowHandler(ctx));

  r.get('/studies', read, qidoHandler(ctx, 'study'));
  r.get('/series', read, qidoHandler(ctx, 'series'));
  r.get('/instances', read, qidoHandler(ctx, 'instance'));
  r.get(`${STUDY}/series`, read, qidoHandler(ctx, 'series'));
  r.get(`${STUDY}/instances`, read, qidoHandler(ctx, 'instance'));
  r.get(`${SERIES}/instances`, read, qidoHandler(ctx, 'instance'));

  r.get(STUDY, read, retrieveHandler(ctx));
  r.get(SERIES, read, retrieveHandler(ctx));
  r.get(INSTANCE, read, retrieveHandler(ctx));
  r.get(`${STUDY}/metadata`, read, metadataHandler(ctx));
  r.get(`${SERIES}/metadata`, read, metadataHandler(ctx));
  r.get(`${INSTANCE}/metadata`, read, metadataHandler(ctx));
  r.get(`${INSTANCE}/bulk/:path`, read, bulkdataHandler(ctx));
  r.get(`${INSTANCE}/frames/:frames`, read, framesHandler(ctx));
  for (const base of [STUDY, SERIES, INSTANCE, `${INSTANCE}/frames/:frames`]) {
    r.get(`${base}/rendered`, read, renderedHandler(ctx, false));
    r.get(`${base}/thumbnail`, read, renderedHandler(ctx, true));
  }

  // Delete and reject (remove.ts): the admin role only.
  r.delete(STUDY, admin, deleteHandler(ctx));
  r.delete(SERIES, admin, deleteHandler(ctx));
  r.delete(INSTANCE, admin, deleteHandler(ctx));
  r.post(`${SERIES}/reject/:code`, admin, rejectHandler(ctx, hooks.onRejected));

  r.use((req: Request, _res: Response, next: NextFunction) => next(Object.assign(new Error('not found'), { status: 404 })));
  r.use(errorHandler);
  return r;
}

/** Maps any error to its HTTP status with a plain-text message; never echoes request data into logs. */
export function errorHandler(err: unknown, req: Request, res: Response, _next: NextFunction): void {
  // The client went away mid-response: nothing to answer, nothing to report.
  if (err instanceof ResponseClosed) {
    res.destroy();
    return;
  }
  // Errors from express itself (unknown route, malformed JSON body) carry their own 4xx status.
  const own = (err as { status?: number; kind?: string }).kind ? undefined : (err as { status?: number }).status;
  const status = own && own >= 400 && own < 500 ? own : httpStatusOf(err);
  const message = own === 404 ? 'no such resource' : own && own < 500 ? 'malformed request' : messageOf(err);
  if (status >= 500 && !isOurFault(err)) log.error('http-error', { method: req.method, status, error: (err as Error)?.name });
  if (res.headersSent) {
    res.destroy(); // a streamed response cannot change its status: cut it so the client sees it failed
    return;
  }
  // Our own failure (full disk, saturation): the client is told when to try again.
  if (status === 503 || status === 429) res.setHeader('Retry-After', String(RETRY_AFTER_SECONDS));
  res.status(status).type('text/plain').send(message + '\n');
}
