/**
 * /api/studies/{study}/series/{series}/nifti: the series as a NIfTI volume (GET, .nii.gz or
 * .nii), its BIDS sidecar (GET nifti.json), and a volume in the series' space turned into a
 * derived DICOM series in the same study (POST).
 */
import type { Request, Response } from 'express';
import { createGzip } from 'node:zlib';
import { Readable, pipeline } from 'node:stream';
import { readBodyShared } from './shared-body';
import { VeilgateError } from '../errors';
import { requireUid } from '../dicomweb/params';
import { DicomWebContext, baseUrl, readView } from '../dicomweb/context';
import { matchesType, parseAccept } from '../dicomweb/media-types';
import { seriesNifti } from '../convert/series-nifti';
import { readNifti } from '../convert/nifti';
import { sliceStack } from '../convert/series-geometry';
import { Grid, NiftiSeriesTaskInput } from '../convert/nifti-series-task';
import { DicomJson } from '../dicom/json';
import { ingest } from '../ingest/ingest';
import { httpCaller, tallyOf } from '../audit/gateway-audit';
import { seriesPath } from '../metadata/urls';
import type { ReadIndex } from '../index/index';

function scope(req: Request) {
  return { study: requireUid(req.params.study, 'study'), series: requireUid(req.params.series, 'series') };
}

function volumeIndex(req: Request, count: number): number {
  const v = req.query.volume === undefined ? '0' : String(req.query.volume);
  if (!/^\d+$/.test(v) || Number(v) >= count) throw new VeilgateError('bad-request', `volume must be 0 to ${count - 1}: the series converts to ${count} volume(s)`);
  return Number(v);
}

export function getNiftiHandler(ctx: DicomWebContext) {
  return async (req: Request, res: Response): Promise<void> => {
    const { study, series } = scope(req);
    const format = req.query.format === undefined ? 'nii.gz' : String(req.query.format);
    if (format !== 'nii' && format !== 'nii.gz') throw new VeilgateError('bad-request', 'format must be nii or nii.gz');
    const type = format === 'nii' ? 'application/octet-stream' : 'application/gzip';
    const accept = parseAccept(req.headers.accept);
    if (!accept.some((r) => matchesType(r.type, type) || (format === 'nii.gz' && matchesType(r.type, 'application/x-gzip')))) {
      throw new VeilgateError('not-acceptable', `the volume is sent as ${type}`);
    }
    const conversion = await seriesNifti(readView(ctx, req), ctx.store, study, series, { workers: ctx.workers });
    const chosen = conversion.volumes[volumeIndex(req, conversion.volumes.length)];
    const audit = ctx.ingestDeps.audit;
    if (audit) audit.beginTransferring(httpCaller(req), await tallyOf(ctx.index, await readView(ctx, req).instances({ study, series })), { direction: 'export' });
    res.status(200).type(type).setHeader('Content-Disposition', `attachment; filename="${series}.${format}"`);
    res.setHeader('X-Volume-Count', String(conversion.volumes.length));
    const body = Readable.from([Buffer.from(chosen.nii.data.buffer, chosen.nii.data.byteOffset, chosen.nii.data.byteLength)]);
    if (format === 'nii') {
      res.setHeader('Content-Length', String(chosen.nii.data.byteLength));
      body.pipe(res);
    } else {
      pipeline(body, createGzip({ level: 6 }), res, () => undefined);
    }
  };
}

export function getSidecarHandler(ctx: DicomWebContext) {
  return async (req: Request, res: Response): Promise<void> => {
    const { study, series } = scope(req);
    const conversion = await seriesNifti(readView(ctx, req), ctx.store, study, series, { workers: ctx.workers });
    const chosen = conversion.volumes[volumeIndex(req, conversion.volumes.length)];
    if (!chosen.json) throw new VeilgateError('not-found', 'no sidecar for this volume');
    res.status(200).type('application/json').send(Buffer.from(chosen.json.data));
  };
}

/** The grids of the series' own NIfTI conversions (dcm2niix), for a volume computed on one of them. */
async function conversionGrids(ctx: DicomWebContext, view: ReadIndex, study: string, series: string): Promise<Grid[]> {
  const conversion = await seriesNifti(view, ctx.store, study, series, { workers: ctx.workers });
  return conversion.volumes.map((v) => {
    const out = readNifti(v.nii.data);
    return { dims: out.dims, affine: out.affine };
  });
}

export function postNiftiHandler(ctx: DicomWebContext) {
  return async (req: Request, res: Response): Promise<void> => {
    const { study, series } = scope(req);
    const view = readView(ctx, req);
    const instances = await view.instances({ study, series });
    if (instances.length === 0) throw new VeilgateError('not-found', 'no such series');
    const maxBytes = ctx.config.limits.maxNiftiBytes;
    // Read into shared memory as it arrives: the worker reads it in place, and no copy of the
    // whole volume is ever made on this thread.
    const body = await readBodyShared(req, maxBytes, 'the volume');
    const metadata = (await view.metadata({ study, series })).map((m) => JSON.parse(m) as DicomJson);
    const first = instances[0];
    const task: NiftiSeriesTaskInput = {
      nifti: body,
      maxBytes,
      stack: sliceStack(metadata),
      source: await ctx.store.read(first.blobKey, [{ start: 0, end: first.size - 1 }]),
      sourceSeriesUID: series,
      sourceInstances: instances.map((i) => ({ sopClassUID: i.sopClassUID, sopInstanceUID: i.sopInstanceUID })),
      description: typeof req.query.description === 'string' ? req.query.description : undefined,
    };
    // Reading the volume and building the instances run on a worker thread; a volume on none of
    // the slice stack's grid is checked again against the series' own conversions.
    let made = await ctx.workers.run('nifti-to-series', task);
    if (!made.ok) made = await ctx.workers.run('nifti-to-series', { ...task, conversionGrids: await conversionGrids(ctx, view, study, series) });
    if (!made.ok) {
      throw new VeilgateError('unprocessable', "the volume's grid (dimensions and affine) matches no grid of the series: send a volume computed in the series' space");
    }
    let seriesUID = '';
    for (const bytes of made.instances) {
      const result = await ingest({ kind: 'derived-part10', bytes }, { origin: { kind: 'nifti-post', address: req.socket.remoteAddress ?? '' }, principal: req.principal, derivedFrom: study }, ctx.ingestDeps);
      if (!result.ok) throw result.error;
      seriesUID = result.seriesUID;
    }
    const retrieveURL = baseUrl(ctx, req) + seriesPath(study, seriesUID);
    res.status(201).type('application/json').setHeader('Location', retrieveURL);
    // The same keys as a job's result series (/api keys are camelCase, src/api/openapi.ts).
    res.send(JSON.stringify({ seriesInstanceUID: seriesUID, kind: 'image', instances: made.instances.length, retrieveURL }));
  };
}
