/**
 * WADO-RS metadata answers (PS3.18 10.4.1.1.2). Study and series documents come from the
 * MetadataCache, gzipped once per version of the scope; instance documents (one instance, small)
 * are built per request as before.
 *
 * Access: the scope's version stamp is read through the request's AccessView, which answers only
 * for scopes the principal may see, before any cache lookup; an invisible scope is the same 404
 * as a missing one. The ETag is that of the JSON (as sendJson computes it) whatever the encoding;
 * Vary: Accept-Encoding always; gzip only when the client accepts it (q > 0), identity otherwise.
 */
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import type { Request, Response } from 'express';
import { VeilgateError } from '../errors';
import type { Index, Scope } from '../index/index';
import { MetadataCache } from '../index/metadata-cache';
import { resolveStoredUris } from '../metadata/urls';
import { DicomWebContext, baseUrl, readView } from './context';
import { sendJson } from './json-response';

const gunzipAsync = promisify(gunzip);

const caches = new WeakMap<Index, MetadataCache>();

/** The metadata cache of an index (one per index, so every router of a gateway shares it). */
export function metadataCache(index: Index): MetadataCache {
  let c = caches.get(index);
  if (!c) caches.set(index, (c = new MetadataCache()));
  return c;
}

/**
 * Whether an Accept-Encoding header (RFC 9110 12.5.3) accepts gzip: named (or x-gzip) with a
 * q-value above 0, or not named while * is.
 */
export function acceptsGzip(header: string | string[] | undefined): boolean {
  if (header === undefined) return false;
  let gzip: number | undefined;
  let any: number | undefined;
  for (const part of (Array.isArray(header) ? header.join(',') : header).split(',')) {
    const [coding, ...params] = part.trim().toLowerCase().split(';');
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const q = qParam === undefined ? 1 : Number(qParam.slice(2));
    const weight = Number.isFinite(q) ? q : 0;
    if (coding === 'gzip' || coding === 'x-gzip') gzip = Math.max(gzip ?? 0, weight);
    else if (coding === '*') any = weight;
  }
  return (gzip ?? any ?? 0) > 0;
}

function notModified(req: Request, etag: string): boolean {
  const inm = req.headers['if-none-match'];
  return !!inm && inm.split(',').map((t) => t.trim()).includes(etag);
}

export async function sendMetadata(ctx: DicomWebContext, req: Request, res: Response, level: string, scope: Scope): Promise<void> {
  const view = readView(ctx, req);
  const base = baseUrl(ctx, req);
  if (scope.instance) {
    const docs = await view.metadata(scope);
    if (docs.length === 0) throw new VeilgateError('not-found', `no such ${level}`);
    await sendJson(req, res, resolveStoredUris(`[${docs.join(',')}]`, base));
    return;
  }
  const stamp = await view.metadataStamp(scope);
  if (stamp === undefined) throw new VeilgateError('not-found', `no such ${level}`);
  const entry = await metadataCache(ctx.index).get(MetadataCache.key(scope, stamp, base), async () => {
    const read = await view.metadataWithStamp(scope);
    if (read.stamp === undefined || read.docs.length === 0) return undefined;
    return { key: MetadataCache.key(scope, read.stamp, base), json: resolveStoredUris(`[${read.docs.join(',')}]`, base) };
  });
  if (!entry) throw new VeilgateError('not-found', `no such ${level}`);
  res.setHeader('ETag', entry.etag);
  res.append('Vary', 'Accept-Encoding');
  if (notModified(req, entry.etag)) {
    res.status(304).end();
    return;
  }
  res.status(200).type('application/dicom+json');
  if (!entry.gzipped) {
    res.send(entry.body);
    return;
  }
  if (acceptsGzip(req.headers['accept-encoding'])) {
    res.setHeader('Content-Encoding', 'gzip');
    res.send(entry.body);
    return;
  }
  res.send(await gunzipAsync(entry.body));
}
