/**
 * JSON answers (metadata, searches) with an ETag, so a viewer's repeated requests cost a 304,
 * and gzip when the client accepts it: series metadata compresses about tenfold. A large body is
 * compressed on libuv's thread pool, not on the thread that routes every other request.
 */
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { gzip, gzipSync } from 'node:zlib';
import type { Request, Response } from 'express';

const gzipAsync = promisify(gzip);

/** Below this, compressing here costs less than handing the body to another thread and back. */
const ASYNC_GZIP_MIN = 32 * 1024;

export async function sendJson(req: Request, res: Response, body: string, type = 'application/dicom+json'): Promise<void> {
  const etag = `"${createHash('sha1').update(body).digest('base64url')}"`;
  res.setHeader('ETag', etag);
  res.append('Vary', 'Accept-Encoding');
  const inm = req.headers['if-none-match'];
  if (inm && inm.split(',').map((t) => t.trim()).includes(etag)) {
    res.status(304).end();
    return;
  }
  res.status(200).type(type);
  if (body.length > 1024 && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) {
    const gzipped = body.length >= ASYNC_GZIP_MIN ? await gzipAsync(body, { level: 4 }) : gzipSync(body, { level: 4 });
    res.setHeader('Content-Encoding', 'gzip');
    res.send(gzipped);
    return;
  }
  res.send(body);
}
