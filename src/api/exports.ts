/**
 * /api/exports: export bundles for machine learning (src/export/). POST queues one (a QIDO-style
 * query, a list of studies or a project; zip or tar; the DICOM files optionally) and answers 202
 * with its id and Location; GET reads one (state, progress in series, size and sha256 when done,
 * expiry) or lists them; GET …/bundle downloads it with Range support (206, 416); DELETE cancels
 * and deletes one. After its expiry a bundle answers 410 Gone.
 *
 * All need the read role (DELETE: read or admin). The selection is resolved through the caller's
 * AccessView, and an export is visible only to a caller who may see every study in it: another
 * project's export is as absent (404) as an unknown one. Deleting one it may see needs more: being
 * its owner (who POSTed it, clientOf) or an admin (403 otherwise).
 */
import { selectionSummary } from '../egress/selection';
import express, { Request, Response } from 'express';
import { VeilgateError } from '../errors';
import { DicomWebContext, clientOf, publicBase, readView, requireOwnerOrAdmin } from '../dicomweb/context';
import { requireRole } from '../auth/middleware';
import { httpCaller } from '../audit/gateway-audit';
import { TransferTally } from '../audit/tally';
import type { ExportManager, ExportRecord } from '../export/exports';
import { exportSelectionOf, planExport } from '../export/selection';

const ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const TYPES = { zip: 'application/zip', tar: 'application/x-tar' } as const;

function exportView(r: ExportRecord, req: Request, ctx: DicomWebContext, manager: ExportManager) {
  const url = `${publicBase(ctx, req)}/api/exports/${r.id}`;
  const state = manager.expired(r) ? 'expired' : r.state;
  return {
    id: r.id,
    url,
    state,
    format: r.format,
    includeDicom: r.includeDicom,
    request: r.request,
    progress: { seriesDone: r.progress.done, seriesTotal: r.progress.total },
    bytes: r.bytes,
    sha256: r.sha256,
    files: r.files,
    skipped: r.skipped?.length ? r.skipped : undefined,
    error: r.error,
    bundle: state === 'done' ? `${url}/bundle` : undefined,
    created: r.createdAt,
    started: r.startedAt,
    finished: r.finishedAt,
    expires: r.expiresAt,
  };
}

export function exportsRouter(ctx: DicomWebContext, manager: ExportManager): express.Router {
  const r = express.Router();
  /** Who has downloaded each export (a caller and its address), for its audit records; forgotten with the process. */
  const downloaders = new Map<string, Set<string>>();
  const visible = async (req: Request, e: ExportRecord): Promise<boolean> => {
    const view = readView(ctx, req);
    if (view.projects === undefined) return true;
    for (const study of e.studies) if (!(await view.canSee(study))) return false;
    return true;
  };
  const visibleExport = async (req: Request): Promise<ExportRecord> => {
    const id = String(req.params.id);
    if (!ID.test(id)) throw new VeilgateError('bad-request', 'export id is malformed');
    const e = manager.get(id);
    if (!e || !(await visible(req, e))) throw new VeilgateError('not-found', 'no such export');
    return e;
  };
  const gone = (res: Response) => void res.status(410).type('text/plain').send('the export bundle has expired\n');

  r.post('/', requireRole('read'), express.json({ limit: '1mb' }), async (req: Request, res: Response) => {
    const body = req.body as Record<string, unknown> | undefined;
    if (!body || typeof body !== 'object' || Array.isArray(body)) {
      throw new VeilgateError('bad-request', 'body must be JSON { "query" | "studies" | "project", "format": "zip" | "tar", "includeDicom": false }');
    }
    for (const k of Object.keys(body)) if (!['query', 'level', 'studies', 'project', 'format', 'includeDicom'].includes(k)) throw new VeilgateError('bad-request', `unknown key "${k}"`);
    const format = body.format ?? 'zip';
    if (format !== 'zip' && format !== 'tar') throw new VeilgateError('bad-request', '"format" must be "zip" or "tar"');
    const includeDicom = body.includeDicom ?? false;
    if (typeof includeDicom !== 'boolean') throw new VeilgateError('bad-request', '"includeDicom" must be true or false');
    const selection = exportSelectionOf(body);
    const view = readView(ctx, req);
    const series = await planExport(view, ctx.index, selection, { qidoMaxLimit: ctx.config.qidoMaxLimit });
    const request =
      selection.kind === 'project' ? { project: selection.project } : selectionSummary(selection);
    const e = manager.submit({ format, includeDicom, request, selection, series, projects: view.projects, client: clientOf(req) });
    res.status(202).setHeader('Location', `${publicBase(ctx, req)}/api/exports/${e.id}`);
    res.json(exportView(e, req, ctx, manager));
  });

  r.get('/', requireRole('read'), async (req: Request, res: Response) => {
    const out = [];
    for (const e of manager.list().slice(0, 1000)) if (await visible(req, e)) out.push(exportView(e, req, ctx, manager));
    res.json(out);
  });

  r.get('/:id', requireRole('read'), async (req: Request, res: Response) => {
    const e = await visibleExport(req);
    res.json(exportView(e, req, ctx, manager));
  });

  r.get('/:id/bundle', requireRole('read'), async (req: Request, res: Response) => {
    const e = await visibleExport(req);
    if (manager.expired(e)) return gone(res);
    if (e.state !== 'done') {
      res.status(409).type('text/plain').send(`the export is ${e.state}: its bundle is not ready\n`);
      return;
    }
    // The export leaving: audited at a caller's first download of it, whatever range it asks
    // for (a resumed or suffix range gets the bundle as surely as a whole one), and again for
    // every download of the whole bundle; a downloader fetching it in ranges is one record.
    const range = req.headers.range;
    const caller = `${clientOf(req)} ${req.socket.remoteAddress ?? ''}`;
    const seen = downloaders.get(e.id) ?? new Set<string>();
    const first = !seen.has(caller);
    seen.add(caller);
    downloaders.set(e.id, seen);
    if ((!range || first) && e.tally?.length) {
      const patients = await ctx.index.studyPatients(e.tally.map((t) => t.study));
      const tally = new TransferTally();
      for (const t of e.tally) for (let i = 0; i < t.count; i++) tally.add({ patient: patients.get(t.study) ?? '', study: t.study, sopClassUid: t.sopClassUid });
      ctx.ingestDeps.audit?.exported('zip-download', httpCaller(req), `${publicBase(ctx, req)}/api/exports/${e.id}/bundle`, tally);
    }
    await new Promise<void>((resolve, reject) => {
      res.sendFile(
        manager.bundleFile(e),
        {
          dotfiles: 'allow',
          acceptRanges: true,
          cacheControl: false,
          lastModified: true,
          headers: { 'Content-Type': TYPES[e.format], 'Content-Disposition': `attachment; filename="veilgate-export-${e.id}.${e.format}"` },
        },
        (err?: Error) => {
          if (!err) return resolve();
          // Deleted between the check and the send: expired or removed.
          if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !res.headersSent) return resolve(gone(res));
          if (res.headersSent) return resolve();
          // send leaves its own refusals (416 for an unsatisfiable Range, 412) to the caller.
          const { status, headers } = err as { status?: number; headers?: Record<string, string> };
          if (status && status >= 400 && status < 500) {
            res.status(status);
            for (const [k, v] of Object.entries(headers ?? {})) res.setHeader(k, v);
            if (status === 416 && !res.getHeader('Content-Range')) res.setHeader('Content-Range', `bytes */${e.bytes ?? '*'}`);
            res.type('text/plain').send(status === 416 ? 'the range is not satisfiable\n' : 'precondition failed\n');
            return resolve();
          }
          reject(err);
        },
      );
    });
  });

  // The owner (who needed the read role to make it) or an admin: either role passes the guard.
  r.delete('/:id', requireRole('read', 'admin'), async (req: Request, res: Response) => {
    const e = await visibleExport(req);
    requireOwnerOrAdmin(req, e.client, 'delete this export');
    await manager.remove(e.id);
    res.status(204).end();
  });
  return r;
}
