/**
 * DELETE of a study, series or instance (as Microsoft's DICOM server offers it: 204 No Content,
 * 404 for a scope not found), and the IOCM rejection OHIF calls with `supportsReject`
 * (POST …/series/{series}/reject/{code}%5E{scheme}, 204 as dcm4chee answers). Both need the
 * admin role; a scope the principal may not see is as absent as one that does not exist.
 */
import type { Request, Response } from 'express';
import { DicomWebContext, readView } from './context';
import { requireUid } from './params';
import { VeilgateError } from '../errors';
import type { Scope } from '../index/index';
import { httpCaller } from '../audit/gateway-audit';
import { deleteBlobs } from '../maintenance/rejected-purge';
import { parseRejectionCode, rejectionNote } from '../convert/rejection-note';
import { encodeDerived } from '../dicom/encode';
import { ingest } from '../ingest/ingest';
import type { DicomJson } from '../dicom/json';

function scopeOf(req: Request): Scope {
  const scope: Scope = { study: requireUid(req.params.study, 'study') };
  if (req.params.series !== undefined) scope.series = requireUid(req.params.series, 'series');
  if (req.params.instance !== undefined) scope.instance = requireUid(req.params.instance, 'instance');
  return scope;
}

export function deleteHandler(ctx: DicomWebContext) {
  return async (req: Request, res: Response): Promise<void> => {
    const scope = scopeOf(req);
    const view = readView(ctx, req);
    // The rows go in one transaction, on disk before any file goes.
    const removed = await ctx.index.remove(scope, view.projects);
    if (!removed) throw new VeilgateError('not-found', 'no such study, series or instance');
    // Then the files. A crash between the two leaves only blobs no row refers to, which the
    // orphan sweep (maintenance/orphan-sweep.ts) moves to quarantine at the next start.
    await deleteBlobs(ctx.index, ctx.store, removed.instances.map((i) => i.blobKey));
    ctx.ingestDeps.audit?.removed('deleted', httpCaller(req), removed.patientID, removed.instances, { wholeStudy: removed.studyRemoved });
    res.status(204).end();
  };
}

/**
 * The rejection: a Key Object Selection rejection note listing every instance of the series is
 * made and stored in the same study through the one ingest path, then exactly those instances
 * leave the searchable tables in one transaction (kept, with their files, for the grace period:
 * maintenance/rejected-purge.ts), hidden from QIDO, WADO, metadata, frames and DIMSE at once.
 * The note goes first, so the study is never left without a series (its projects stay its own)
 * and an instance arriving meanwhile, not in the note, is not rejected.
 */
export function rejectHandler(ctx: DicomWebContext, onRejected?: () => void) {
  return async (req: Request, res: Response): Promise<void> => {
    const reason = parseRejectionCode(String(req.params.code ?? ''));
    const study = requireUid(req.params.study, 'study');
    const series = requireUid(req.params.series, 'series');
    const view = readView(ctx, req);
    const instances = await view.instances({ study, series });
    if (!instances.length) throw new VeilgateError('not-found', 'no such series');
    const [source] = await view.metadata({ study, series, instance: instances[0].sopInstanceUID });
    if (!source) throw new VeilgateError('not-found', 'no such series');
    const note = rejectionNote({ reason, study, series, instances, sourceMetadata: JSON.parse(source) as DicomJson });
    const stored = await ingest(
      { kind: 'derived-part10', bytes: encodeDerived(note) },
      { origin: { kind: 'rejection', address: req.socket.remoteAddress ?? '' }, derivedFrom: study },
      ctx.ingestDeps,
    );
    if (!stored.ok) throw stored.error;
    const removed = await ctx.index.reject({ study, series, instances: instances.map((i) => i.sopInstanceUID), code: reason.code, scheme: reason.scheme }, view.projects);
    if (!removed) throw new VeilgateError('not-found', 'no such series');
    ctx.ingestDeps.audit?.removed('rejected', httpCaller(req), removed.patientID, removed.instances, {
      wholeStudy: false,
      reason: `${reason.meaning} (${reason.code}, ${reason.scheme})`,
    });
    onRejected?.();
    res.status(204).end();
  };
}
