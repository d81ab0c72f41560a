/**
 * JSON answers (metadata, searches) with an ETag, so a viewer's repeated requests cost a 304,
 * and gzip when the client accepts it: series metadata compresses about tenfold.
 */
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { Request, Response } from 'express';

export function sendJson(req: Request, res: Response, body: string, type = 'application/dicom+json'): void {
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
    res.setHeader('Content-Encoding', 'gzip');
    res.send(gzipSync(body, { level: 4 }));
    return;
  }
  res.send(body);
}
