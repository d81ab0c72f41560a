/**
 * WADO-RS rendered and thumbnail resources (PS3.18 10.4.1.1.3, 8.3.5.1): a frame as JPEG,
 * PNG or GIF, windowed (`window=center,width[,function]`), scaled (`viewport=width,height`),
 * with `quality` for JPEG. A study or series renders its middle instance; an instance its
 * first frame. Thumbnails are the same image fitted in 128×128 unless a viewport is given.
 */
import { owned } from '../workers/transfer';
import type { Request, Response } from 'express';
import { VeilgateError } from '../errors';
import { DicomJson } from '../dicom/json';
import { ReadIndex, StoredInstance } from '../index/index';
import { pixelDescription } from '../imaging/decode';
import { readPalette } from '../imaging/palette';
import { readLut } from '../imaging/lut';
import { RenderOptions, Window, defaultWindow } from '../imaging/render';
import { DicomWebContext, readView } from './context';
import { matchesType, parseAccept } from './media-types';
import { requireUid } from './params';
import { spans } from './wado';

const FORMATS: [string, RenderOptions['format']][] = [
  ['image/jpeg', 'jpeg'],
  ['image/png', 'png'],
  ['image/gif', 'gif'],
];

function format(req: Request): [string, RenderOptions['format']] {
  for (const r of parseAccept(req.headers.accept)) {
    const hit = FORMATS.find(([type]) => matchesType(r.type, type));
    if (hit) return hit;
  }
  throw new VeilgateError('not-acceptable', 'rendered images are image/jpeg, image/png or image/gif');
}

function numbers(value: unknown, name: string, count: number[]): number[] | undefined {
  if (value === undefined) return undefined;
  const parts = String(value).split(',');
  if (!count.includes(parts.length) || parts.slice(0, 2).some((p) => !Number.isFinite(Number(p)))) throw new VeilgateError('bad-request', `${name} is malformed`);
  return parts.map(Number);
}

function options(req: Request, thumbnail: boolean, f: RenderOptions['format']): RenderOptions {
  const w = numbers(req.query.window, 'window', [2, 3]);
  const fnName = w && String(req.query.window).split(',')[2]?.toUpperCase();
  if (fnName && !['LINEAR', 'LINEAR_EXACT', 'SIGMOID'].includes(fnName)) throw new VeilgateError('bad-request', 'window function must be linear, linear_exact or sigmoid');
  const window: Window | undefined = w ? { center: w[0], width: w[1], fn: (fnName ?? 'LINEAR') as Window['fn'] } : undefined;
  if (window && !(window.width > 0)) throw new VeilgateError('bad-request', 'window width must be positive');
  const v = numbers(req.query.viewport, 'viewport', [2, 6]);
  if (v && (v[0] < 1 || v[1] < 1 || v[0] > 4096 || v[1] > 4096)) throw new VeilgateError('bad-request', 'viewport must be 1 to 4096 pixels each way');
  const viewport = v ? { width: Math.round(v[0]), height: Math.round(v[1]) } : thumbnail ? { width: 128, height: 128 } : undefined;
  const q = req.query.quality === undefined ? undefined : Number(req.query.quality);
  if (q !== undefined && !(Number.isInteger(q) && q >= 1 && q <= 100)) throw new VeilgateError('bad-request', 'quality must be 1 to 100');
  return { format: f, window, viewport, quality: q };
}

const SEGMENTATION_CLASSES = new Set(['1.2.840.10008.5.1.4.1.1.66.4', '1.2.840.10008.5.1.4.1.1.66.7']);

async function target(ctx: DicomWebContext, req: Request): Promise<{ inst: StoredInstance; frame: number }> {
  const study = requireUid(req.params.study, 'study');
  const seriesUID = req.params.series !== undefined ? requireUid(req.params.series, 'series') : undefined;
  const instance = req.params.instance !== undefined ? requireUid(req.params.instance, 'instance') : undefined;
  const all = await readView(ctx, req).instances({ study, series: seriesUID, instance });
  if (!all.length) throw new VeilgateError('not-found', 'no such resource');
  // The middle instance of a series stands for it; a study is shown by its first image series,
  // segmentations (derived overlays) only when there is nothing else.
  const images = all.filter((i) => i.frames);
  const pick = images.find((i) => !SEGMENTATION_CLASSES.has(i.sopClassUID)) ?? images[0] ?? all[0];
  const series = images.filter((i) => i.seriesUID === pick.seriesUID);
  const inst = instance ? all[0] : series[Math.floor(series.length / 2)] ?? pick;
  const frame = req.params.frames !== undefined ? Number(String(req.params.frames).split(',')[0]) : 1;
  if (!inst.frames) throw new VeilgateError('not-found', 'the instance has no image');
  if (!Number.isInteger(frame) || frame < 1 || frame > inst.frames.length) throw new VeilgateError('not-found', `frame ${req.params.frames} does not exist`);
  return { inst, frame };
}

export function renderedHandler(ctx: DicomWebContext, thumbnail: boolean) {
  return async (req: Request, res: Response): Promise<void> => {
    const [type, f] = format(req);
    const opts = options(req, thumbnail, f);
    const { inst, frame } = await target(ctx, req);
    const view = readView(ctx, req);
    await ctx.admission.run('render', () => render(view, ctx, res, inst, frame, type, opts));
  };
}

async function render(view: ReadIndex, ctx: DicomWebContext, res: Response, inst: StoredInstance, frame: number, type: string, opts: RenderOptions): Promise<void> {
  const meta = JSON.parse((await view.metadata({ study: inst.studyUID, series: inst.seriesUID, instance: inst.sopInstanceUID }))[0]) as DicomJson;
  const p = pixelDescription(meta);
  const stored: Uint8Array = await ctx.store.read(inst.blobKey, spans(inst.frames![frame - 1]));
  const readBulk = async (path: string) => {
    const r = inst.bulk[path];
    return r ? ctx.store.read(inst.blobKey, spans([r])) : undefined;
  };
  if (p.photometricInterpretation.toUpperCase() === 'PALETTE COLOR') opts.palette = await readPalette(meta, readBulk);
  const voiItem = (meta['00283010']?.Value?.[0] ?? undefined) as DicomJson | undefined;
  // The LUT is read only when it will be used: no window asked for and none suggested.
  if (!opts.window && !defaultWindow(meta) && voiItem) {
    const negativeInput = p.pixelRepresentation === 1 || Number(meta['00281052']?.Value?.[0] ?? 0) < 0;
    opts.voiLut = await readLut(voiItem['00283002'], voiItem['00283006'], () => readBulk('00283010.0.00283006'), negativeInput);
  }
  // Decoding, windowing and encoding run on a worker thread: the main thread only routes.
  const frameBytes = owned(stored);
  const image = await ctx.workers.run(
    'render',
    { frame: frameBytes, transferSyntaxUID: inst.transferSyntaxUID, pixels: p, meta, options: opts, maxRenderPixels: ctx.config.limits.maxRenderPixels },
    [frameBytes.buffer as ArrayBuffer],
  );
  res.status(200).type(type).setHeader('Cache-Control', 'private, max-age=3600');
  res.send(Buffer.from(image.buffer, image.byteOffset, image.byteLength));
}
