/**
 * /api/studies/{study}/series/{series}/nifti: the series as a NIfTI volume (GET, .nii.gz or
 * .nii), its BIDS sidecar (GET nifti.json), and a volume in the series' space turned into a
 * derived DICOM series in the same study (POST).
 */
import type { Request, Response } from 'express';
import { createGzip } from 'node:zlib';
import { Readable, pipeline } from 'node:stream';
import { readWholeBody } from '../dicomweb/stow';
import { VeilgateError } from '../errors';
import { requireUid } from '../dicomweb/params';
import { DicomWebContext, baseUrl, readView } from '../dicomweb/context';
import { matchesType, parseAccept } from '../dicomweb/media-types';
import { seriesNifti } from '../convert/series-nifti';
import { readNifti, NiftiVolume } from '../convert/nifti';
import { flipXY, matchGrid } from '../convert/geometry';
import { SliceStack, sliceStack } from '../convert/series-geometry';
import { volumeToDicomSeries } from '../convert/volume-to-dicom';
import { parsePart10 } from '../dicom/parse';
import { DicomJson } from '../dicom/json';
import { TS } from '../dicom/transfer-syntax';
import { ingest } from '../ingest/ingest';
import { cleanClientText } from '../deid/clean-text';
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
    const conversion = await seriesNifti(readView(ctx, req), ctx.store, study, series);
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
    const conversion = await seriesNifti(readView(ctx, req), ctx.store, study, series);
    const chosen = conversion.volumes[volumeIndex(req, conversion.volumes.length)];
    if (!chosen.json) throw new VeilgateError('not-found', 'no sidecar for this volume');
    res.status(200).type('application/json').send(Buffer.from(chosen.json.data));
  };
}

/** The grids a volume computed from the series may be on: the slice stack's and each NIfTI output's. */
async function gridMatches(ctx: DicomWebContext, view: ReadIndex, study: string, series: string, volume: NiftiVolume, stack: SliceStack | undefined): Promise<boolean> {
  const dims = volume.dims.slice(0, 3);
  const fits = (maps: ReturnType<typeof matchGrid>, target: number[]) =>
    !!maps && maps.every((m, axis) => dims[axis] === target[m.axis] && (m.sign > 0 ? m.offset === 0 : m.offset === target[m.axis] - 1));
  if (stack && fits(matchGrid(flipXY(volume.affine), stack.affine), [stack.columns, stack.rows, stack.slices.length])) return true;
  const conversion = await seriesNifti(view, ctx.store, study, series);
  return conversion.volumes.some((v) => {
    const out = readNifti(v.nii.data);
    return fits(matchGrid(volume.affine, out.affine), out.dims.slice(0, 3));
  });
}

export function postNiftiHandler(ctx: DicomWebContext) {
  return async (req: Request, res: Response): Promise<void> => {
    const { study, series } = scope(req);
    const view = readView(ctx, req);
    const instances = await view.instances({ study, series });
    if (instances.length === 0) throw new VeilgateError('not-found', 'no such series');
    const maxBytes = ctx.config.limits.maxNiftiBytes;
    const volume = readNifti(await readWholeBody(req, maxBytes, 'the volume'), maxBytes);
    const metadata = (await view.metadata({ study, series })).map((m) => JSON.parse(m) as DicomJson);
    const stack = sliceStack(metadata);
    if (!(await gridMatches(ctx, view, study, series, volume, stack))) {
      throw new VeilgateError('unprocessable', "the volume's grid (dimensions and affine) matches no grid of the series: send a volume computed in the series' space");
    }
    const first = instances[0];
    const source = parsePart10(await ctx.store.read(first.blobKey, [{ start: 0, end: first.size - 1 }])).dataset;
    // Text a client typed (the query string, the NIfTI header's descrip) is cleaned like any description.
    const typed = typeof req.query.description === 'string' ? req.query.description : (volume.description ?? '');
    const description = cleanClientText(typed.slice(0, 1024)) || 'NIfTI volume';
    const datasets = volumeToDicomSeries({
      volume,
      source,
      stack,
      sourceSeriesUID: series,
      sourceInstances: instances,
      seriesDescription: `Derived: ${description}`,
      derivationDescription: `Volume posted as NIfTI (${volume.dims.slice(0, 3).join('x')}, ${description}) and resliced onto its own grid`,
    });
    let seriesUID = '';
    for (const dataset of datasets) {
      const result = await ingest({ kind: 'derived', dataset, transferSyntaxUID: TS.ExplicitVRLittleEndian }, { source: `api ${req.socket.remoteAddress ?? ''}`, principal: req.principal }, ctx.ingestDeps);
      if (!result.ok) throw result.error;
      seriesUID = result.seriesUID;
    }
    const retrieveURL = baseUrl(ctx, req) + seriesPath(study, seriesUID);
    res.status(201).type('application/json').setHeader('Location', retrieveURL);
    res.send(JSON.stringify({ SeriesInstanceUID: seriesUID, RetrieveURL: retrieveURL, NumberOfInstances: datasets.length }));
  };
}
