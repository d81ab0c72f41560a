/**
 * STOW-RS (PS3.18 10.5): POST /studies[/{study}] with multipart/related;
 * type="application/dicom" or a single application/dicom body. The body is parsed as
 * a stream; each part is ingested as soon as it is complete, so memory holds one
 * instance at a time however large the upload.
 */
import type { Request, Response } from 'express';
import * as Multipasta from 'multipasta';
import { ingest, IngestResult } from '../ingest/ingest';
import { RETRY_AFTER_SECONDS, VeilgateError, dicomStatusOf, isOurFault } from '../errors';
import { DicomJson } from '../dicom/json';
import { DicomWarning } from '../errors';
import { instancePath, studyPath } from '../metadata/urls';
import { DicomWebContext, baseUrl } from './context';
import { parseMediaType } from './media-types';
import { requireUid } from './params';
import { TransferTally } from '../audit/tally';
import { httpCaller } from '../audit/gateway-audit';
import type { IngestOrigin } from '../core/origin';

type PartOutcome = IngestResult;

/** Parts of one STOW request being ingested at once, and the bytes they may hold together. */
const STOW_WINDOW_PARTS = 16;
const STOW_WINDOW_BYTES = 128 * 1024 * 1024;

function partFailure(kind: VeilgateError['kind'], message: string): PartOutcome {
  return { ok: false, error: new VeilgateError(kind, message), sent: {} };
}

/**
 * The STOW response. A sender that may read (its studies are its own to see) is told where each
 * instance went, by its stored UIDs. A sender that may only send is answered by the UIDs it sent
 * and nothing else: the response must not hand a PACS key the mapping from its originals to
 * their pseudonyms.
 */
function stowResponse(outcomes: PartOutcome[], base: string, reveal: boolean): { status: number; body: DicomJson } {
  const referenced: DicomJson[] = [];
  const failed: DicomJson[] = [];
  const studies = new Set<string>();
  let warnings = false;
  for (const o of outcomes) {
    if (o.ok) {
      const item: DicomJson = {};
      if (reveal) {
        studies.add(o.studyUID);
        item['00081150'] = { vr: 'UI', Value: [o.sopClassUID] };
        item['00081155'] = { vr: 'UI', Value: [o.sopInstanceUID] };
        item['00081190'] = { vr: 'UR', Value: [base + instancePath(o.studyUID, o.seriesUID, o.sopInstanceUID)] };
      } else {
        if (o.sent.sopClassUID) item['00081150'] = { vr: 'UI', Value: [o.sent.sopClassUID] };
        if (o.sent.sopInstanceUID) item['00081155'] = { vr: 'UI', Value: [o.sent.sopInstanceUID] };
      }
      if (o.warnings.length) {
        warnings = true;
        item['00081196'] = { vr: 'US', Value: [DicomWarning.CoercionOfDataElements] };
      }
      referenced.push(item);
    } else {
      const item: DicomJson = {};
      const named = reveal ? o : o.sent;
      if (named.sopClassUID) item['00081150'] = { vr: 'UI', Value: [named.sopClassUID] };
      if (named.sopInstanceUID) item['00081155'] = { vr: 'UI', Value: [named.sopInstanceUID] };
      item['00081197'] = { vr: 'US', Value: [dicomStatusOf(o.error)] };
      failed.push(item);
    }
  }
  const body: DicomJson = {};
  if (studies.size === 1) body['00081190'] = { vr: 'UR', Value: [base + studyPath([...studies][0])] };
  if (failed.length) body['00081198'] = { vr: 'SQ', Value: failed };
  if (referenced.length) body['00081199'] = { vr: 'SQ', Value: referenced };
  // Nothing stored and every failure ours (disk, saturation): 503, so the sender retries.
  const ours = outcomes.length > 0 && outcomes.every((o) => !o.ok && isOurFault(o.error));
  const status = referenced.length === 0 ? (ours ? 503 : 409) : failed.length || warnings ? 202 : 200;
  return { status, body };
}

/** A whole request body, refused (413) once it passes `limit` bytes; `what` names it in the error. */
export async function readWholeBody(req: Request, limit: number, what = 'instance'): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new VeilgateError('payload-too-large', `${what} is larger than the ${limit}-byte limit`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

interface PendingPart {
  chunks: Uint8Array[];
  size: number;
  tooLarge: boolean;
  contentType: string;
}

/** Parse a multipart/related body, handing each complete part to onPart in order. */
async function forEachPart(req: Request, ctx: DicomWebContext, onPart: (part: PendingPart) => Promise<void>): Promise<{ malformed?: string }> {
  const maxPart = ctx.config.maxInstanceBytes;
  const completed: PendingPart[] = [];
  let error: Multipasta.MultipartError | undefined;
  let done = false;
  const parser = Multipasta.make({
    headers: { 'content-type': req.headers['content-type'] ?? '' },
    maxTotalSize: ctx.config.maxRequestBytes,
    isFile: () => true,
    onField: () => undefined,
    onFile: (info) => {
      const part: PendingPart = { chunks: [], size: 0, tooLarge: false, contentType: info.contentType };
      return (chunk) => {
        if (chunk === null) {
          completed.push(part);
          return;
        }
        part.size += chunk.length;
        if (part.size > maxPart) {
          part.tooLarge = true;
          part.chunks = []; // keep reading the part, but drop it
        } else part.chunks.push(chunk);
      };
    },
    onError: (e) => (error = e),
    onDone: () => (done = true),
  });
  let handled = 0;
  const drain = async () => {
    while (handled < completed.length) {
      const part = completed[handled];
      completed[handled++] = undefined as unknown as PendingPart; // release the part's memory once ingested
      await onPart(part);
    }
  };
  for await (const chunk of req) {
    if (error) break;
    parser.write(chunk as Buffer);
    await drain();
  }
  if (!error) parser.end();
  await drain();
  if (error) {
    if (error._tag === 'ReachedLimit') throw new VeilgateError('payload-too-large', `request body is larger than the ${ctx.config.maxRequestBytes}-byte limit`);
    return { malformed: `malformed multipart body (${error._tag})` };
  }
  if (!done) return { malformed: 'malformed multipart body: no closing boundary' };
  return {};
}

/** One Instances Transferred message per patient for what was stored, one for duplicates (PS3.15 A.5.3.7). */
function auditIngest(ctx: DicomWebContext, req: Request, outcomes: PartOutcome[]): void {
  const audit = ctx.ingestDeps.audit;
  if (!audit) return;
  const stored = new TransferTally();
  const duplicates = new TransferTally();
  for (const o of outcomes) {
    if (o.ok) (o.outcome === 'stored' ? stored : duplicates).add({ patient: o.patientID, study: o.studyUID, sopClassUid: o.sopClassUID });
  }
  audit.transferred('ingest', httpCaller(req), stored, { action: 'C' });
  audit.transferred('ingest', httpCaller(req), duplicates, { action: 'R' });
}

export function stowHandler(ctx: DicomWebContext) {
  return async (req: Request, res: Response): Promise<void> => {
    const expectedStudyUID = req.params.study ? requireUid(req.params.study, 'study') : undefined;
    const contentType = parseMediaType(req.headers['content-type'] ?? '');
    const principal = req.principal;
    if (!principal) throw new VeilgateError('unauthenticated', 'a credential is needed');
    // Parts are ingested as they complete, several at once (parsing and de-identifying run on the
    // worker threads while this thread reads the next part), answered in the order they were sent.
    // Enough in flight to keep the disk's queue full (each waits on its own fsync), bounded in
    // count and in bytes so one request never holds more than STOW_WINDOW_BYTES.
    const pending: Promise<PartOutcome>[] = [];
    const sizes: number[] = [];
    let settled = 0;
    let held = 0;
    const origin: IngestOrigin = { kind: 'stow', address: req.socket.remoteAddress ?? '' };
    const store = async (bytes: Uint8Array) => {
      sizes.push(bytes.length);
      held += bytes.length;
      pending.push(ingest({ kind: 'part10', bytes }, { origin, expectedStudyUID, principal, moveBytes: true }, ctx.ingestDeps));
      while (pending.length - settled > STOW_WINDOW_PARTS || (held > STOW_WINDOW_BYTES && settled < pending.length - 1)) {
        await pending[settled];
        held -= sizes[settled++];
      }
    };
    const fail = async (outcome: PartOutcome) => void pending.push(Promise.resolve(outcome));

    if (contentType.type === 'application/dicom') {
      await store(await readWholeBody(req, ctx.config.maxInstanceBytes));
    } else if (contentType.type === 'multipart/related') {
      const partType = (contentType.params.type ?? 'application/dicom').toLowerCase();
      if (partType !== 'application/dicom') {
        throw new VeilgateError('unsupported-media-type', `multipart/related type "${partType}" is not supported; send type="application/dicom"`);
      }
      if (!contentType.params.boundary) throw new VeilgateError('bad-request', 'multipart/related without a boundary');
      const { malformed } = await forEachPart(req, ctx, async (part) => {
        const type = part.contentType ? parseMediaType(part.contentType).type : 'application/dicom';
        if (part.tooLarge) await fail(partFailure('payload-too-large', 'part is larger than the instance size limit'));
        else if (type !== 'application/dicom' && type !== 'application/octet-stream') {
          await fail(partFailure('cannot-understand', `part of type ${type} is not application/dicom`));
        } else await store(Buffer.concat(part.chunks));
      }).catch(async (e) => {
        // A body refused midway (too large) still waits for the parts already handed to ingest.
        await Promise.all(pending);
        throw e;
      });
      if (malformed) {
        if (pending.length === 0) throw new VeilgateError('bad-request', malformed);
        await fail(partFailure('cannot-understand', malformed));
      }
      if (pending.length === 0) throw new VeilgateError('bad-request', 'multipart body has no parts');
    } else {
      throw new VeilgateError('unsupported-media-type', `Content-Type must be multipart/related; type="application/dicom" or application/dicom`);
    }
    const outcomes = await Promise.all(pending);
    const { status, body } = stowResponse(outcomes, baseUrl(ctx, req), principal.roles.has('read'));
    auditIngest(ctx, req, outcomes);
    if (status === 503) res.setHeader('Retry-After', String(RETRY_AFTER_SECONDS));
    res.status(status).type('application/dicom+json').send(JSON.stringify(body));
  };
}
