/**
 * What this DICOMweb service offers (PS3.18 8.9 asks for a description of the service): its
 * resources, media types, transfer syntaxes and search parameters, as JSON at GET or OPTIONS
 * on the DICOMweb root.
 */
import type { Request, Response } from 'express';
import { DicomWebContext, baseUrl } from './context';
import { MATCH_KEYS } from '../query/attributes';

const TRANSFER_SYNTAXES = {
  stored: 'uncompressed as Explicit VR Little Endian; compressed as received',
  retrieve: 'as stored (transfer-syntax=* or the stored UID), or transcoded to Explicit or Implicit VR Little Endian (application/dicom without transfer-syntax means Explicit VR Little Endian)',
};

export function capabilitiesHandler(ctx: DicomWebContext) {
  return (req: Request, res: Response): void => {
    const root = baseUrl(ctx, req);
    const keys = (level: string) => MATCH_KEYS.filter((k) => k.level === level).map((k) => k.keyword);
    res.setHeader('Allow', 'GET, POST, OPTIONS');
    res.json({
      service: 'Veilgate DICOMweb (PS3.18)',
      root,
      deidentification: 'every stored instance is de-identified on ingest (PS3.15 Annex E)',
      resources: {
        store: { method: 'POST', paths: ['/studies', '/studies/{study}'], accepts: ['multipart/related; type="application/dicom"', 'application/dicom'], returns: 'application/dicom+json' },
        search: {
          method: 'GET',
          paths: ['/studies', '/series', '/instances', '/studies/{study}/series', '/studies/{study}/instances', '/studies/{study}/series/{series}/instances'],
          returns: 'application/dicom+json',
          parameters: ['limit', 'offset', 'includefield', 'fuzzymatching'],
          matching: { study: keys('study'), series: keys('series'), instance: keys('instance') },
        },
        retrieve: {
          method: 'GET',
          paths: ['/studies/{study}', '/studies/{study}/series/{series}', '/studies/{study}/series/{series}/instances/{instance}'],
          returns: ['multipart/related; type="application/dicom"', 'application/zip'],
          transferSyntaxes: TRANSFER_SYNTAXES,
        },
        metadata: { method: 'GET', paths: ['…/metadata at study, series and instance level'], returns: 'application/dicom+json (ETag, gzip)' },
        frames: { method: 'GET', paths: ['/studies/{study}/series/{series}/instances/{instance}/frames/{list}'], returns: 'multipart/related (stored frame encoding, or decoded to application/octet-stream)' },
        rendered: {
          method: 'GET',
          paths: ['…/rendered and …/thumbnail at study, series, instance and frame level'],
          returns: ['image/jpeg', 'image/png', 'image/gif'],
          parameters: ['window=center,width[,linear|linear_exact|sigmoid]', 'viewport=width,height', 'quality=1..100'],
        },
        bulkdata: { method: 'GET', paths: ['/studies/{study}/series/{series}/instances/{instance}/bulk/{tag path}'], returns: ['multipart/related; type="application/octet-stream"', 'application/octet-stream'] },
      },
      cors: ctx.config.corsOrigins,
    });
  };
}
