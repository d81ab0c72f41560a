/** What the DICOMweb routers need: the core services and the configuration. */
import type { Request } from 'express';
import type { JobStore } from '../processing/jobs/job-store';
import type { Config } from '../config';
import type { Index } from '../index/index';
import type { BlobStore } from '../store/blob-store';
import type { IngestDeps } from '../ingest/ingest';
import type { Admission } from '../admission';
import type { WorkerPool } from '../workers/pool';
import { AccessView } from '../index/access-view';
import { VeilgateError } from '../errors';
import { ProxyTrust } from '../auth/proxy';
import { refusal } from '../auth/middleware';

export interface DicomWebContext {
  config: Config;
  index: Index;
  /** The processing job queue (shared by every node on PostgreSQL). */
  jobs: JobStore;
  store: BlobStore;
  ingestDeps: IngestDeps;
  /** Concurrency limits of heavy work (render, transcode, decode, zip, NIfTI). */
  admission: Admission;
  /** The threads that decode, render, transcode and read volumes: the main thread only routes. */
  workers: WorkerPool;
}

/** The index as the request's principal may see it: every read of a handler goes through this. */
export function readView(ctx: DicomWebContext, req: Request): AccessView {
  if (!req.principal) throw new VeilgateError('unauthenticated', 'a credential is needed');
  return new AccessView(ctx.index, req.principal);
}

/**
 * Who a request is recorded as made by: the owner of the job, transfer or export it queues (and
 * what the per-client job quota counts). The principal's kind and id — "key <key name>",
 * "oidc oidc:<token subject>" — or with auth off (the one local user) the client's address. Safe
 * to log and to store: never a credential, never a value of a data set.
 */
export function clientOf(req: Request): string {
  const p = req.principal;
  if (!p) throw new VeilgateError('unauthenticated', 'a credential is needed');
  return p.via === 'local' ? `http ${req.socket.remoteAddress ?? ''}` : `${p.via} ${p.id}`;
}

/**
 * The check beside requireRole for something one caller made (a transfer, an export): its owner
 * (the `client` it was recorded with, clientOf) or an administrator may cancel or delete it; what
 * a rule made (no owner) only an administrator. Refused with 403 and a Security Alert, as
 * requireRole refuses. Call it after the visibility check, so that what the caller may not see
 * stays a 404.
 */
export function requireOwnerOrAdmin(req: Request, owner: string | undefined, what: string): void {
  if (req.principal?.roles.has('admin')) return;
  if (owner !== undefined && owner === clientOf(req)) return;
  throw refusal(req, owner === undefined ? `only an admin may ${what}: a rule made it` : `only its owner or an admin may ${what}`);
}

const trusts = new WeakMap<Config, ProxyTrust>();

/** The proxies TRUST_PROXY names, for this configuration. */
export function proxyTrust(config: Config): ProxyTrust {
  let t = trusts.get(config);
  if (!t) trusts.set(config, (t = new ProxyTrust(config.auth.trustProxy)));
  return t;
}

const WILDCARD = new Set(['0.0.0.0', '::', '[::]']);
const HOST_HEADER = /^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/;

/**
 * The URL the client used to reach the gateway: PUBLIC_URL when given; else the listening
 * address, corrected by what a trusted proxy says (RFC 7239 Forwarded, X-Forwarded-*). A
 * gateway listening on every interface takes the host from the request's own Host header.
 */
export function publicBase(ctx: DicomWebContext, req: Request): string {
  const config = ctx.config;
  if (config.publicUrlFixed) return config.publicUrl;
  const own = new URL(config.publicUrl);
  let proto = own.protocol.replace(/:$/, '');
  let host = own.host;
  let prefix = own.pathname.replace(/\/+$/, '');
  const hostHeader = String(req.headers.host ?? '');
  if (WILDCARD.has(config.host) && HOST_HEADER.test(hostHeader)) host = hostHeader;
  const forwarded = proxyTrust(config).forwarded(req);
  if (forwarded) {
    proto = forwarded.proto ?? proto;
    host = forwarded.host ?? host;
    prefix = forwarded.prefix ?? prefix;
  }
  return `${proto}://${host}${prefix}`;
}

/** The DICOMweb root URL that RetrieveURLs and BulkDataURIs are built from. */
export function baseUrl(ctx: DicomWebContext, req: Request): string {
  return `${publicBase(ctx, req)}/dicom-web`;
}
