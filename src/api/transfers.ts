/**
 * /api/transfers: research egress on demand. POST queues a study, a series, a QIDO-style query,
 * or a CSV of StudyInstanceUIDs (text/csv, ?destination=) to a configured destination (202 with
 * its id and Location); GET reads one (state, counts, per-instance progress) or lists them;
 * DELETE cancels one. GET /api/transfers/destinations names the destinations and their queues.
 *
 * Transfers are on studies: the caller needs the read role and must see every study a transfer
 * holds (through its AccessView); a transfer of a study it may not see is as absent as an unknown
 * one. Cancelling one it may see needs more: being its owner (who POSTed it, clientOf) or an
 * admin; a routing rule's transfer, an admin only (403 otherwise). The destinations and their
 * queues are the gateway's configuration and state, for admins only. Nothing here shows a secret
 * of a destination or a value of a data set beyond its UIDs.
 */
import express, { Request, Response } from 'express';
import { VeilgateError } from '../errors';
import { DicomWebContext, clientOf, publicBase, readView, requireOwnerOrAdmin } from '../dicomweb/context';
import { requireRole } from '../auth/middleware';
import type { Egress } from '../egress/egress';
import type { TransferItem, TransferRecord } from '../egress/transfer-store';
import { describeDestination } from '../egress/config';
import { Selection, parseStudyCsv, selectionOf, selectionSummary } from '../egress/selection';

const TRANSFER_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function transferView(t: TransferRecord, req: Request, ctx: DicomWebContext) {
  return {
    id: t.id,
    url: `${publicBase(ctx, req)}/api/transfers/${t.id}`,
    destination: t.destination,
    origin: t.origin,
    request: t.request,
    state: t.state,
    counts: t.counts,
    created: t.createdAt,
    updated: t.updatedAt,
    cancelled: t.cancelledAt,
  };
}

function itemView(i: TransferItem) {
  return {
    study: i.study,
    series: i.series,
    instance: i.instance,
    state: i.state,
    attempts: i.attempts,
    lastError: i.error,
    nextAttempt: i.nextAttemptAt,
    updated: i.updatedAt,
  };
}

function page(req: Request, name: string, fallback: number, max: number): number {
  const raw = req.query[name] === undefined ? String(fallback) : String(req.query[name]);
  if (!/^\d{1,9}$/.test(raw)) throw new VeilgateError('bad-request', `${name} must be a whole number`);
  return Math.min(max, Number(raw));
}

export function transfersRouter(ctx: DicomWebContext, egress: Egress): express.Router {
  const r = express.Router();
  const store = egress.transfers;
  const visible = async (req: Request, t: TransferRecord | undefined): Promise<boolean> => {
    if (!t) return false;
    const view = readView(ctx, req);
    if (view.projects === undefined) return true;
    for (const study of await store.studies(t.id)) if (!(await view.canSee(study))) return false;
    return true;
  };
  const visibleTransfer = async (req: Request): Promise<TransferRecord> => {
    const id = String(req.params.id);
    if (!TRANSFER_ID.test(id)) throw new VeilgateError('bad-request', 'transfer id is malformed');
    const t = await store.get(id);
    if (!t || !(await visible(req, t))) throw new VeilgateError('not-found', 'no such transfer');
    return t;
  };

  r.post(
    '/',
    requireRole('read'),
    express.json({ limit: '1mb' }),
    // A CSV of MAX_LISTED_STUDIES UIDs (at most 64 characters each) fits in 1 MB.
    express.text({ type: ['text/csv', 'application/csv'], limit: '1mb' }),
    async (req: Request, res: Response) => {
      let destination: unknown;
      let selection: Selection;
      let request: Record<string, unknown>;
      if (typeof req.body === 'string') {
        destination = req.query.destination;
        const studies = parseStudyCsv(req.body);
        selection = { kind: 'studies', studies };
        request = { studies: studies.length, from: 'csv' };
      } else {
        const body = req.body as Record<string, unknown> | undefined;
        if (!body || typeof body !== 'object' || Array.isArray(body)) {
          throw new VeilgateError('bad-request', 'body must be JSON { "destination", "study" | "series" | "query" } or text/csv of StudyInstanceUIDs with ?destination=');
        }
        destination = body.destination;
        selection = selectionOf(body);
        request =
          selection.kind === 'query' || selection.kind === 'studies'
            ? selectionSummary(selection)
            : selection.kind === 'series'
                ? { series: selection.series, study: selection.study }
                : { study: selection.study };
      }
      if (typeof destination !== 'string' || !destination) throw new VeilgateError('bad-request', 'name a "destination" (for a CSV body: ?destination=)');
      const transfer = await egress.submit(readView(ctx, req), destination, selection, clientOf(req), request);
      res.status(202).setHeader('Location', `${publicBase(ctx, req)}/api/transfers/${transfer.id}`);
      res.json(transferView(transfer, req, ctx));
    },
  );

  r.get('/', requireRole('read'), async (req: Request, res: Response) => {
    const limit = Math.max(1, page(req, 'limit', 100, 1000));
    const out = [];
    for (const t of await store.list(limit)) if (await visible(req, t)) out.push(transferView(t, req, ctx));
    res.json(out);
  });

  r.get('/destinations', requireRole('admin'), async (_req: Request, res: Response) => {
    const queues = await store.destinationCounts();
    res.json(Object.values(ctx.config.egress.destinations).map((d) => ({ ...describeDestination(d), queue: queues[d.name] ?? {} })));
  });

  r.get('/:id', requireRole('read'), async (req: Request, res: Response) => {
    const t = await visibleTransfer(req);
    const limit = page(req, 'limit', 1000, 10000);
    const offset = page(req, 'offset', 0, 1e9);
    res.json({ ...transferView(t, req, ctx), items: (await store.items(t.id, limit, offset)).map(itemView), itemsOffset: offset });
  });

  // The owner (who needed the read role to make it) or an admin: either role passes the guard.
  r.delete('/:id', requireRole('read', 'admin'), async (req: Request, res: Response) => {
    const visible = await visibleTransfer(req);
    requireOwnerOrAdmin(req, visible.origin === 'api' ? visible.client : undefined, 'cancel this transfer');
    const t = await store.cancel(visible.id);
    if (!t) throw new VeilgateError('not-found', 'no such transfer');
    res.json(transferView(t, req, ctx));
  });
  return r;
}
