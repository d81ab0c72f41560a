/**
 * WADO-RS (PS3.18 10.4): retrieve studies, series and instances as multipart/related
 * application/dicom (streamed file by file), metadata from the JSON precomputed at
 * ingest, and bulk data by byte range.
 */
import { httpCaller, routeTemplate, tallyOf } from '../audit/gateway-audit';
import type { Request, Response } from 'express';
import { VeilgateError } from '../errors';
import { TS, transferSyntax } from '../dicom/transfer-syntax';
import { Level } from '../query/attributes';
import { Scope, StoredInstance } from '../index/index';
import { sendMetadata } from './metadata-response';
import { ByteRange } from '../dicom/write';
import { DicomWebContext, readView } from './context';
import { MediaRange, matchesType, parseAccept } from './media-types';
import { MultipartWriter, ResponseClosed } from './multipart-writer';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { log } from '../log';
import { requireUid } from './params';
import archiver from 'archiver';
import { canDecode, pixelDescription } from '../imaging/decode';
import { DicomJson } from '../dicom/json';
import { canTranscode } from '../imaging/transcode';
import { asBuffer } from '../workers/transfer';

function scopeOf(req: Request): { level: Level; scope: Scope } {
  const scope: Scope = { study: requireUid(req.params.study, 'study') };
  if (req.params.series !== undefined) scope.series = requireUid(req.params.series, 'series');
  if (req.params.instance !== undefined) scope.instance = requireUid(req.params.instance, 'instance');
  return { level: scope.instance ? 'instance' : scope.series ? 'series' : 'study', scope };
}

async function instancesOrNotFound(ctx: DicomWebContext, req: Request): Promise<StoredInstance[]> {
  const { level, scope } = scopeOf(req);
  const instances = await readView(ctx, req).instances(scope);
  if (instances.length === 0) throw new VeilgateError('not-found', `no such ${level}`);
  return instances;
}

/**
 * Whether a media range lets an instance stored in `stored` go out as it is. Without a
 * transfer-syntax parameter, application/dicom means Explicit VR Little Endian (PS3.18 8.7.3.5.2).
 */
function allowsStoredSyntax(range: MediaRange, stored: string): boolean {
  if (range.type === '*/*' || range.type === 'multipart/*') return true; // no preference expressed
  if (range.type !== 'multipart/related') return false;
  if (!matchesType((range.params.type ?? 'application/dicom').toLowerCase(), 'application/dicom')) return false;
  const ts = range.params['transfer-syntax'];
  return ts === '*' || (ts ?? TS.ExplicitVRLittleEndian) === stored;
}

/**
 * A study or series as a zip of its instance files (stored transfer syntax), streamed. One file
 * is open at a time, whatever the study's size: the next is opened only when the zip has taken
 * the last one whole. A client that goes away, or a stored file that cannot be read, ends the
 * archive and closes everything it had open.
 */
async function sendZip(ctx: DicomWebContext, res: Response, instances: StoredInstance[], name: string): Promise<void> {
  // A stored file gone missing is our failure, told before the first byte rather than as a cut zip.
  for (const inst of instances) {
    if (!(await ctx.store.exists(inst.blobKey))) throw new VeilgateError('processing-failure', 'a stored instance file is missing');
  }
  res.status(200).type('application/zip').setHeader('Content-Disposition', `attachment; filename="${name}.zip"`);
  const zip = archiver('zip', { store: true, zip64: true } as archiver.ArchiverOptions);
  let failure: Error | undefined;
  let current: Readable | undefined;
  const stop = (e: Error) => {
    failure ??= e;
    current?.destroy();
    zip.abort();
  };
  res.once('close', () => {
    if (!res.writableFinished) stop(new ResponseClosed());
  });
  zip.on('error', (e) => stop(e));
  zip.on('warning', (e) => stop(e));
  zip.pipe(res);
  for (const inst of instances) {
    if (failure) break;
    // One entry per instance, in a folder per series.
    current = ctx.store.stream(inst.blobKey);
    const entry = new Promise<void>((resolve) => {
      const done = () => {
        zip.off('entry', done);
        zip.off('error', done);
        res.off('close', done);
        resolve();
      };
      zip.once('entry', done);
      zip.once('error', done);
      res.once('close', done);
    });
    zip.append(current, { name: `${inst.seriesUID}/${inst.sopInstanceUID}.dcm` });
    await entry;
  }
  current = undefined;
  if (failure) {
    if (!(failure instanceof ResponseClosed)) log.error('zip-failed', { error: failure.name, code: (failure as NodeJS.ErrnoException).code });
    res.destroy();
    return;
  }
  await zip.finalize();
}

export function retrieveHandler(ctx: DicomWebContext) {
  return async (req: Request, res: Response): Promise<void> => {
    const instances = await instancesOrNotFound(ctx, req);
    const accept = parseAccept(req.headers.accept);
    // Audited once per retrieve (a study, series or instance), not per frame: frames, rendered
    // images and metadata are views of instances whose retrieve or query is audited.
    const audit = ctx.ingestDeps.audit;
    if (accept[0]?.type === 'application/zip') {
      const { scope } = scopeOf(req);
      if (audit) audit.exported('zip-download', httpCaller(req), routeTemplate(req), await tallyOf(ctx.index, instances));
      return ctx.admission.run('zip', () => sendZip(ctx, res, instances, scope.instance ?? scope.series ?? scope.study));
    }
    if (audit) audit.beginTransferring(httpCaller(req), await tallyOf(ctx.index, instances));
    // One instance asked for as application/dicom (first among what the client takes): the Part 10
    // file itself, single part, as Microsoft's DICOM server answers and clients use.
    const preferred = accept.find((r) => ['application/dicom', 'multipart/related', 'multipart/*', '*/*'].includes(r.type));
    if (preferred?.type === 'application/dicom' && scopeOf(req).scope.instance && instances.length === 1) {
      const decoded = async () => decodedPixelBytes(JSON.parse((await readView(ctx, req).metadata(scopeOf(req).scope))[0] ?? '{}') as DicomJson);
      return sendSinglePart(ctx, res, instances[0], preferred, decoded);
    }
    const offered = accept.filter((r) => r.type === 'multipart/related' || r.type === '*/*' || r.type === 'multipart/*');
    if (!offered.length) throw new VeilgateError('not-acceptable', 'instances are available as multipart/related; type="application/dicom" or application/zip (one instance also as application/dicom)');
    // Every instance's syntax is settled before the first byte goes out, so a 406 is still possible.
    const plan = instances.map((inst) => ({ inst, target: outgoingSyntax(offered, inst.transferSyntaxUID) }));
    const refused = plan.find((p) => !p.target);
    if (refused) {
      const stored = refused.inst.transferSyntaxUID;
      throw new VeilgateError(
        'not-acceptable',
        `an instance is stored as ${transferSyntax(stored)?.name ?? stored} (${stored}) and cannot be sent in the transfer syntax asked for; accept transfer-syntax=*, ${stored}, or ${TS.ExplicitVRLittleEndian}`,
      );
    }
    const transcoded = plan.filter((p) => p.target !== p.inst.transferSyntaxUID);
    // One instance is transcoded in memory at a time: each must fit the per-response bound.
    if (transcoded.length) {
      const metadata = await readView(ctx, req).metadata(scopeOf(req).scope);
      const byUid = new Map(instances.map((inst, i) => [inst.sopInstanceUID, metadata[i]]));
      for (const { inst } of transcoded) {
        const decoded = decodedPixelBytes(JSON.parse(byUid.get(inst.sopInstanceUID) ?? '{}') as DicomJson);
        if (decoded > ctx.config.limits.maxResponseDecodedBytes) {
          throw new VeilgateError('not-acceptable', `an instance decodes to ${decoded} bytes, over the ${ctx.config.limits.maxResponseDecodedBytes}-byte limit for transcoding: retrieve it as stored (transfer-syntax=*)`);
        }
      }
    }
    const send = async () => {
      const mp = new MultipartWriter(res);
      res.status(200).setHeader('Content-Type', mp.contentType('application/dicom'));
      for (const { inst, target } of plan) {
        // As stored: streamed from the store. Otherwise this one instance is read and transcoded.
        const body =
          target === inst.transferSyntaxUID
            ? ctx.store.stream(inst.blobKey)
            : asBuffer(await ctx.workers.run('transcode', { file: await ctx.store.read(inst.blobKey, [{ start: 0, end: inst.size - 1 }]), stored: inst.transferSyntaxUID, target: target!, frames: inst.frames }));
        const length = body instanceof Buffer ? body.length : inst.size;
        await mp.part({ 'Content-Type': `application/dicom; transfer-syntax=${target}`, 'Content-Length': String(length) }, body);
      }
      await mp.end();
    };
    await (transcoded.length ? ctx.admission.run('transcode', send) : send());
  };
}

/**
 * An instance as one application/dicom body: the stored file streamed when its syntax is the one
 * asked for (transfer-syntax=*, or absent and stored Explicit VR Little Endian, PS3.18 8.7.3.5.2),
 * else transcoded on a worker thread when it can be, else 406.
 */
async function sendSinglePart(ctx: DicomWebContext, res: Response, inst: StoredInstance, range: MediaRange, decodedBytes: () => Promise<number>): Promise<void> {
  const asked = range.params['transfer-syntax'] ?? TS.ExplicitVRLittleEndian;
  const target = asked === '*' || asked === inst.transferSyntaxUID ? inst.transferSyntaxUID : canTranscode(inst.transferSyntaxUID, asked) ? asked : undefined;
  const stored = inst.transferSyntaxUID;
  if (!target) {
    throw new VeilgateError('not-acceptable', `the instance is stored as ${transferSyntax(stored)?.name ?? stored} (${stored}) and cannot be sent in the transfer syntax asked for; accept transfer-syntax=* or ${stored}`);
  }
  // The same bound as a multipart retrieve: a transcoded instance is held whole in memory.
  if (target !== stored && (await decodedBytes()) > ctx.config.limits.maxResponseDecodedBytes) {
    throw new VeilgateError('not-acceptable', `the instance decodes to more than the ${ctx.config.limits.maxResponseDecodedBytes}-byte limit for transcoding: retrieve it as stored (transfer-syntax=*)`);
  }
  if (target === inst.transferSyntaxUID) {
    res.status(200).setHeader('Content-Type', `application/dicom; transfer-syntax=${target}`);
    res.setHeader('Content-Length', String(inst.size));
    await pipeline(ctx.store.stream(inst.blobKey), res);
    return;
  }
  await ctx.admission.run('transcode', async () => {
    const file = await ctx.store.read(inst.blobKey, [{ start: 0, end: inst.size - 1 }]);
    const body = asBuffer(await ctx.workers.run('transcode', { file, stored: inst.transferSyntaxUID, target, frames: inst.frames }));
    res.status(200).setHeader('Content-Type', `application/dicom; transfer-syntax=${target}`);
    res.setHeader('Content-Length', String(body.length));
    res.end(body);
  });
}

/** Bytes an instance's pixel data takes once decoded (from its metadata). */
function decodedPixelBytes(meta: DicomJson): number {
  const p = pixelDescription(meta);
  const frames = Number(meta['00280008']?.Value?.[0] ?? 1) || 1;
  return Math.ceil((p.rows * p.columns * p.samplesPerPixel * p.bitsAllocated * frames) / 8);
}

/**
 * The syntax an instance goes out in: as stored when a range allows it, else the first
 * uncompressed syntax asked for that the stored one can be transcoded to.
 */
function outgoingSyntax(offered: MediaRange[], stored: string): string | undefined {
  if (offered.some((r) => allowsStoredSyntax(r, stored))) return stored;
  for (const r of offered) {
    if (r.type !== 'multipart/related' || !matchesType((r.params.type ?? 'application/dicom').toLowerCase(), 'application/dicom')) continue;
    const asked = r.params['transfer-syntax'] ?? TS.ExplicitVRLittleEndian;
    if (asked !== '*' && canTranscode(stored, asked)) return asked;
  }
  return undefined;
}

export function metadataHandler(ctx: DicomWebContext) {
  return async (req: Request, res: Response): Promise<void> => {
    const accept = parseAccept(req.headers.accept);
    if (!accept.some((r) => ['application/dicom+json', 'application/json'].some((t) => matchesType(r.type, t)))) {
      throw new VeilgateError('not-acceptable', 'metadata is available as application/dicom+json only');
    }
    const { level, scope } = scopeOf(req);
    await sendMetadata(ctx, req, res, level, scope);
  };
}


/** Byte ranges as the store's inclusive spans. */
export function spans(ranges: ByteRange[]) {
  return ranges.map((r) => ({ start: r.offset, end: r.offset + r.length - 1 }));
}

/** Single-part octet-stream only when asked for plainly; multipart/related is the PS3.18 form. */
function wantsSinglePart(accept: MediaRange[]): boolean {
  const first = accept[0];
  return first?.type === 'application/octet-stream';
}

export function bulkdataHandler(ctx: DicomWebContext) {
  return async (req: Request, res: Response): Promise<void> => {
    const { scope } = scopeOf(req);
    const path = String(req.params.path ?? '');
    if (!/^[0-9A-F]{8}(\.\d+\.[0-9A-F]{8})*$/i.test(path)) throw new VeilgateError('bad-request', 'bulk data path is malformed');
    const [inst] = await readView(ctx, req).instances(scope);
    if (!inst) throw new VeilgateError('not-found', 'no such instance');
    const accept = parseAccept(req.headers.accept);
    const single = wantsSinglePart(accept);
    if (!single && !accept.some((r) => ['multipart/related', '*/*', 'multipart/*'].includes(r.type))) {
      throw new VeilgateError('not-acceptable', 'bulk data is available as multipart/related; type="application/octet-stream"');
    }
    const range = inst.bulk[path.toUpperCase()];
    // Encapsulated pixel data has no single byte range: it is sent frame by frame.
    const parts: { type: string; ranges: ByteRange[] }[] = range
      ? [{ type: 'application/octet-stream', ranges: [range] }]
      : path.toUpperCase() === '7FE00010' && inst.frames
        ? inst.frames.map((f) => ({ type: transferSyntax(inst.transferSyntaxUID)?.frameMediaType ?? 'application/octet-stream', ranges: f }))
        : [];
    if (parts.length === 0) throw new VeilgateError('not-found', 'no such bulk data');
    if (single && parts.length === 1) {
      res.status(200).type('application/octet-stream').send(await ctx.store.read(inst.blobKey, spans(parts[0].ranges)));
      return;
    }
    const mp = new MultipartWriter(res);
    res.status(200).setHeader('Content-Type', mp.contentType(parts[0].type));
    for (const p of parts) {
      const body = await ctx.store.read(inst.blobKey, spans(p.ranges));
      const tsParam = p.type === 'application/octet-stream' ? '' : `; transfer-syntax=${inst.transferSyntaxUID}`;
      await mp.part({ 'Content-Type': p.type + tsParam, 'Content-Length': String(body.length) }, body);
    }
    await mp.end();
  };
}

/**
 * Frame numbers of a /frames/{list} path: 1-based, comma-separated, each sent once (a frame
 * named twice is one part, PS3.18 gives the list as a set), and at most `max` of them.
 */
function frameNumbers(list: string, count: number, max: number): number[] {
  if (list.length > max * 12) throw new VeilgateError('bad-request', `a frame list may name at most ${max} frames`);
  const numbers = list.split(',').map((s) => s.trim());
  if (!numbers.every((n) => /^[1-9]\d{0,9}$/.test(n))) throw new VeilgateError('bad-request', 'frame list must be comma-separated frame numbers from 1');
  const out = [...new Set(numbers.map(Number))];
  if (out.length > max) throw new VeilgateError('bad-request', `a frame list may name at most ${max} frames`);
  const beyond = out.find((n) => n > count);
  if (beyond !== undefined) throw new VeilgateError('not-found', `frame ${beyond} does not exist: the instance has ${count} frame(s)`);
  return out;
}

/**
 * Frames as stored (the compressed bitstream, or native pixels), or decoded to native pixels
 * (application/octet-stream, Explicit VR Little Endian) when the client asks for that and the
 * stored syntax can be decoded. Only the requested frames are read and decoded.
 */
export function framesHandler(ctx: DicomWebContext) {
  return async (req: Request, res: Response): Promise<void> => {
    const { scope } = scopeOf(req);
    const [inst] = await readView(ctx, req).instances(scope);
    if (!inst) throw new VeilgateError('not-found', 'no such instance');
    if (!inst.frames) throw new VeilgateError('not-found', 'the instance has no addressable frames');
    const numbers = frameNumbers(String(req.params.frames), inst.frames.length, ctx.config.limits.maxFramesPerRequest);
    const storedType = transferSyntax(inst.transferSyntaxUID)?.frameMediaType ?? 'application/octet-stream';
    const native = storedType === 'application/octet-stream';
    const choice = chooseFrameEncoding(parseAccept(req.headers.accept), inst.transferSyntaxUID, storedType);
    if (!choice) {
      throw new VeilgateError('not-acceptable', `frames are stored as ${storedType} (transfer syntax ${inst.transferSyntaxUID}); accept that, transfer-syntax=*, or application/octet-stream`);
    }
    const decode = choice === 'decoded' && !native;
    const pixels = decode ? pixelDescription(JSON.parse((await readView(ctx, req).metadata(scope))[0]) as DicomJson) : undefined;
    if (pixels) {
      const decoded = Math.ceil((pixels.rows * pixels.columns * pixels.samplesPerPixel * pixels.bitsAllocated) / 8) * numbers.length;
      if (decoded > ctx.config.limits.maxResponseDecodedBytes) {
        throw new VeilgateError('not-acceptable', `the frames decode to ${decoded} bytes, over the ${ctx.config.limits.maxResponseDecodedBytes}-byte limit for one response: ask for fewer frames, or for them as stored`);
      }
    }
    const type = decode ? 'application/octet-stream' : storedType;
    const ts = decode ? TS.ExplicitVRLittleEndian : inst.transferSyntaxUID;
    const send = async () => {
      const mp = new MultipartWriter(res);
      res.status(200).setHeader('Content-Type', mp.contentType(type));
      for (const n of numbers) {
        let body: Uint8Array = await ctx.store.read(inst.blobKey, spans(inst.frames![n - 1]));
        // Decoding runs on a worker thread: the main thread only routes.
        if (decode) [body] = await ctx.workers.run('decode-frames', { frames: [body], transferSyntaxUID: inst.transferSyntaxUID, pixels: pixels! });
        await mp.part({ 'Content-Type': `${type}; transfer-syntax=${ts}`, 'Content-Length': String(body.length) }, body);
      }
      await mp.end();
    };
    await (decode ? ctx.admission.run('decode', send) : send());
  };
}

/** Pick, in the client's order of preference, the stored encoding or decoded native pixels. */
function chooseFrameEncoding(accept: MediaRange[], stored: string, storedType: string): 'stored' | 'decoded' | undefined {
  for (const r of accept) {
    if (r.type === '*/*' || r.type === 'multipart/*') return 'stored';
    if (r.type !== 'multipart/related') continue;
    const ts = r.params['transfer-syntax'];
    const type = (r.params.type ?? 'application/octet-stream').toLowerCase();
    if (ts === '*' || ts === stored) return 'stored';
    if (ts === undefined && storedType !== 'application/octet-stream' && matchesType(type, storedType) && type !== 'application/octet-stream') return 'stored';
    const wantsNative = matchesType(type, 'application/octet-stream') && (ts === undefined || ts === TS.ExplicitVRLittleEndian);
    if (wantsNative) return storedType === 'application/octet-stream' || canDecode(stored) ? 'decoded' : undefined;
  }
  return undefined;
}
