/** What the DICOMweb routers need: the core services and the configuration. */
import type { Request } from 'express';
import type { Config } from '../config';
import type { Index } from '../index/index';
import type { BlobStore } from '../store/blob-store';
import type { IngestDeps } from '../ingest/ingest';
import type { Admission } from '../admission';

export interface DicomWebContext {
  config: Config;
  index: Index;
  store: BlobStore;
  ingestDeps: IngestDeps;
  /** Concurrency limits of heavy work (render, transcode, decode, zip, NIfTI). */
  admission: Admission;
}

/** The URL the client used to reach the gateway: PUBLIC_URL, else what a proxy says (RFC 7239 Forwarded, X-Forwarded-*). */
export function publicBase(ctx: DicomWebContext, req: Request): string {
  if (ctx.config.publicUrlFixed) return ctx.config.publicUrl;
  const forwarded = String(req.headers.forwarded ?? '').split(',')[0];
  const field = (name: string) => new RegExp(`(?:^|;)\\s*${name}="?([^";]+)"?`, 'i').exec(forwarded)?.[1];
  const proto = field('proto') ?? String(req.headers['x-forwarded-proto'] ?? '').split(',')[0].trim();
  const host = field('host') ?? String(req.headers['x-forwarded-host'] ?? '').split(',')[0].trim();
  const prefix = String(req.headers['x-forwarded-prefix'] ?? '').replace(/\/+$/, '');
  // Only well-formed values are trusted into URLs.
  if (host && /^[A-Za-z0-9.\-\[\]:]+$/.test(host) && (!proto || /^https?$/.test(proto)) && /^(\/[\w.\-~]+)*$/.test(prefix)) {
    return `${proto || 'http'}://${host}${prefix}`;
  }
  return ctx.config.publicUrl;
}

/** The DICOMweb root URL that RetrieveURLs and BulkDataURIs are built from. */
export function baseUrl(ctx: DicomWebContext, req: Request): string {
  return `${publicBase(ctx, req)}/dicom-web`;
}
