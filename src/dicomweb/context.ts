/** What the DICOMweb routers need: the core services and the configuration. */
import type { Request } from 'express';
import type { Config } from '../config';
import type { Index } from '../index/index';
import type { BlobStore } from '../store/blob-store';
import type { IngestDeps } from '../ingest/ingest';

export interface DicomWebContext {
  config: Config;
  index: Index;
  store: BlobStore;
  ingestDeps: IngestDeps;
}

/** The DICOMweb root URL that RetrieveURLs and BulkDataURIs are built from. */
export function baseUrl(ctx: DicomWebContext, _req: Request): string {
  return `${ctx.config.publicUrl}/dicom-web`;
}
