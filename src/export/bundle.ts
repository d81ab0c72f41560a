/**
 * Writing an export bundle (zip or tar), streamed to a file one series at a time; never the whole
 * bundle in memory. Per series, under <pseudonymous PatientID>/<StudyInstanceUID>/<SeriesInstanceUID>/:
 *   image.nii.gz   the same bytes GET …/nifti answers (volume 0; image_v<N>.nii.gz for more volumes)
 *   image.json     the sidecar GET …/nifti.json answers, plus the pseudonymous Study/Series UIDs
 *   labels.nii.gz  for a SEG: a label map on its referenced image series' grid (labels.ts)
 *   labels.json    label number → SegmentLabel and codes
 *   dicom/*.dcm    with includeDicom: the stored (de-identified) instances
 * At the top: DEIDENTIFICATION.md, then (last) manifest.csv and manifest.json, with a sha256 and
 * size for every other file.
 *
 * The heavy parts run off this thread: NIfTI conversion on the request worker threads (the
 * existing NIfTI path), gzip and zip deflate on libuv's pool, SEG → labels on a worker thread
 * of its own. This thread hashes and moves bytes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { Worker } from 'node:worker_threads';
import archiver from 'archiver';
import type { ReadIndex } from '../index/index';
import type { BlobStore } from '../store/blob-store';
import type { WorkerPool } from '../workers/pool';
import type { Config } from '../config';
import type { DicomJson } from '../dicom/json';
import { seriesNifti } from '../convert/series-nifti';
import { sliceStack } from '../convert/series-geometry';
import { VeilgateError, messageOf } from '../errors';
import { projectRoot } from '../paths';
import { deidentificationNote } from './deid-note';
import type { PlannedSeries } from './selection';
import type { LabelMapInput, LabelMapOutput } from './labels';

const gzipAsync = promisify(gzip);

export type BundleFormat = 'zip' | 'tar';

export interface ManifestFile {
  pseudonym: string;
  study: string;
  series: string;
  modality: string;
  path: string;
  sha256: string;
  bytes: number;
}

export interface BundleResult {
  bytes: number;
  sha256: string;
  files: number;
  skipped: { study: string; series: string; reason: string }[];
  /** Instances put in the bundle (as files or as volumes), by study and SOP class: the audit's tally. */
  tally: { study: string; sopClassUid: string; count: number }[];
}

export interface BundleDeps {
  view: ReadIndex;
  store: BlobStore;
  workers: WorkerPool;
  config: Pick<Config, 'deid' | 'dataDir'>;
}

export interface BundleOptions {
  id: string;
  format: BundleFormat;
  includeDicom: boolean;
  created: Date;
  /** What was asked for, recorded in manifest.json. */
  request: Record<string, unknown>;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

const UNCOMPRESSED = new Set(['1.2.840.10008.1.2', '1.2.840.10008.1.2.1']);
const SEG_CLASSES = new Set(['1.2.840.10008.5.1.4.1.1.66.4', '1.2.840.10008.5.1.4.1.1.66.7']);

const first = (j: DicomJson | undefined, tag: string): unknown => j?.[tag]?.Value?.[0];
const folderName = (v: string): string => v.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_').slice(0, 64) || 'unknown';
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** The compiled worker: beside this file when running from dist/, else in dist/ (tests run the sources). */
function labelsWorkerFile(): string {
  return __filename.endsWith('.ts') ? path.join(projectRoot(), 'dist', 'src', 'export', 'labels-worker.js') : path.join(__dirname, 'labels-worker.js');
}

function labelMapOnWorker(input: LabelMapInput): Promise<LabelMapOutput> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(labelsWorkerFile(), { workerData: input });
    let settled = false;
    worker.once('message', (m: { ok: true; out: LabelMapOutput } | { ok: false; message: string }) => {
      settled = true;
      if (m.ok) resolve({ ...m.out, niiGz: new Uint8Array(m.out.niiGz) });
      else reject(new VeilgateError('unprocessable', m.message));
    });
    worker.once('error', (e) => {
      settled = true;
      reject(e);
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new Error(`the label-map worker ended with code ${code}`));
    });
  });
}

/** The instances' metadata documents, parsed. */
async function metadataOf(view: ReadIndex, study: string, series: string): Promise<DicomJson[]> {
  return (await view.metadata({ study, series })).map((m) => JSON.parse(m) as DicomJson);
}

export function csvCell(v: string | number): string {
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Write the bundle of `plan` to `outFile` (created or replaced). */
export async function writeBundle(deps: BundleDeps, plan: PlannedSeries[], o: BundleOptions, outFile: string): Promise<BundleResult> {
  const { view, store } = deps;
  const archive = o.format === 'zip' ? archiver('zip', { zlib: { level: 6 }, zip64: true } as archiver.ArchiverOptions) : archiver('tar');
  const hash = createHash('sha256');
  let written = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _e, cb) {
      hash.update(chunk);
      written += chunk.length;
      cb(null, chunk);
    },
  });
  let failure: Error | undefined;
  archive.on('warning', (e) => (failure ??= e));
  archive.on('error', (e) => (failure ??= e));
  const done = pipeline(archive, meter, fs.createWriteStream(outFile, { mode: 0o600 }));
  done.catch((e: Error) => (failure ??= e));
  const date = o.created;
  const manifest: ManifestFile[] = [];
  const skipped: BundleResult['skipped'] = [];
  const tally = new Map<string, { study: string; sopClassUid: string; count: number }>();
  // Frames placed on the request worker threads; each volume let go once its series is written.
  const niftiOptions = { workers: deps.workers, cache: false };
  const check = () => {
    if (o.signal?.aborted) throw new VeilgateError('refused', 'the export was cancelled');
    if (failure) throw failure;
  };

  /** One entry, waited for: the archive never queues more than one. */
  const add = async (source: Buffer | Readable, name: string, extra: { store?: boolean; size?: number } = {}) => {
    check();
    const entered = new Promise<void>((resolve, reject) => {
      const ok = () => {
        archive.off('error', bad);
        resolve();
      };
      const bad = (e: Error) => {
        archive.off('entry', ok);
        reject(e);
      };
      archive.once('entry', ok);
      archive.once('error', bad);
    });
    // A stream with its size is streamed into a tar too (without it archiver collects it first).
    const stats = extra.size === undefined ? undefined : ({ size: extra.size, mode: 0o100644, mtime: date, isFile: () => true, isDirectory: () => false, isSymbolicLink: () => false } as unknown as fs.Stats);
    archive.append(source, { name, date, mode: 0o644, store: extra.store, ...(stats ? { stats } : {}) } as archiver.EntryData);
    await entered;
  };
  const addFile = async (row: Omit<ManifestFile, 'sha256' | 'bytes'>, bytes: Buffer, storeOnly = false) => {
    await add(bytes, row.path, { store: storeOnly });
    manifest.push({ ...row, sha256: sha256(bytes), bytes: bytes.length });
  };

  try {
    const note = Buffer.from(deidentificationNote(deps.config, { id: o.id, created: date.toISOString() }));
    await addFile({ pseudonym: '', study: '', series: '', modality: '', path: 'DEIDENTIFICATION.md' }, note);
    for (const [n, p] of plan.entries()) {
      check();
      const instances = await view.instances({ study: p.study, series: p.series });
      if (!instances.length) {
        skipped.push({ study: p.study, series: p.series, reason: 'no longer stored (or not visible)' });
        o.onProgress?.(n + 1, plan.length);
        continue;
      }
      const metadata = await metadataOf(view, p.study, p.series);
      const pseudonym = String(first(metadata[0], '00100020') ?? '');
      const modality = String(first(metadata[0], '00080060') ?? p.modality);
      const dir = `${folderName(pseudonym)}/${p.study}/${p.series}`;
      const row = { pseudonym, study: p.study, series: p.series, modality };
      const isSeg = modality === 'SEG' || instances.every((i) => SEG_CLASSES.has(i.sopClassUID));
      let made = false;
      try {
        if (isSeg) made = await addLabels(p, instances, metadata, dir, row);
        else made = await addImage(p, dir, row);
      } catch (e) {
        if (!(e instanceof VeilgateError) || e.kind === 'refused') throw e;
        skipped.push({ study: p.study, series: p.series, reason: messageOf(e) });
      }
      if (o.includeDicom) {
        for (const inst of instances) {
          const fileHash = createHash('sha256');
          let bytes = 0;
          const tap = new Transform({
            transform(chunk: Buffer, _e, cb) {
              fileHash.update(chunk);
              bytes += chunk.length;
              cb(null, chunk);
            },
          });
          const source = store.stream(inst.blobKey);
          source.once('error', (e) => tap.destroy(e));
          const name = `${dir}/dicom/${inst.sopInstanceUID}.dcm`;
          await add(source.pipe(tap), name, { store: true, size: inst.size });
          if (bytes !== inst.size) throw new VeilgateError('processing-failure', 'a stored instance file changed size while it was exported');
          manifest.push({ ...row, path: name, sha256: fileHash.digest('hex'), bytes });
        }
        made = true;
      }
      if (made) {
        for (const inst of instances) {
          const key = `${inst.studyUID}\n${inst.sopClassUID}`;
          const t = tally.get(key) ?? { study: inst.studyUID, sopClassUid: inst.sopClassUID, count: 0 };
          t.count++;
          tally.set(key, t);
        }
      }
      o.onProgress?.(n + 1, plan.length);
    }

    const csv = ['pseudonym,study,series,modality,path,sha256,bytes', ...manifest.map((m) => [m.pseudonym, m.study, m.series, m.modality, m.path, m.sha256, m.bytes].map(csvCell).join(','))].join('\r\n') + '\r\n';
    const json = JSON.stringify({ export: o.id, created: date.toISOString(), format: o.format, includeDicom: o.includeDicom, request: o.request, files: manifest, skipped }, null, 2) + '\n';
    await add(Buffer.from(csv), 'manifest.csv');
    await add(Buffer.from(json), 'manifest.json');
    check();
    await archive.finalize();
    await done;
    if (failure) throw failure;
  } catch (e) {
    // abort() ends the archive but may leave the pipeline waiting on a stream it detached:
    // destroying it settles the pipeline, so a cancelled build always ends.
    archive.abort();
    archive.destroy();
    await done.catch(() => undefined);
    fs.rmSync(outFile, { force: true });
    throw e;
  }
  return { bytes: written, sha256: hash.digest('hex'), files: manifest.length + 2, skipped, tally: [...tally.values()] };

  async function addImage(p: PlannedSeries, dir: string, row: Omit<ManifestFile, 'sha256' | 'bytes' | 'path'>): Promise<boolean> {
    const conversion = await seriesNifti(view, store, p.study, p.series, niftiOptions);
    for (const [v, volume] of conversion.volumes.entries()) {
      const base = v === 0 ? 'image' : `image_v${v}`;
      // GET …/nifti's bytes: the same gzip (level 6) of the same volume.
      const nii = volume.nii.data;
      const gz = await gzipAsync(Buffer.from(nii.buffer, nii.byteOffset, nii.byteLength), { level: 6 });
      await addFile({ ...row, path: `${dir}/${base}.nii.gz` }, gz, true);
      if (volume.json) {
        const sidecar = JSON.parse(Buffer.from(volume.json.data).toString('utf8')) as Record<string, unknown>;
        const text = JSON.stringify({ ...sidecar, StudyInstanceUID: p.study, SeriesInstanceUID: p.series }, null, '\t') + '\n';
        await addFile({ ...row, path: `${dir}/${base}.json` }, Buffer.from(text));
      }
      for (const [ext, file] of [['bval', volume.bval], ['bvec', volume.bvec]] as const) {
        if (file) await addFile({ ...row, path: `${dir}/${base}.${ext}` }, Buffer.from(file.data));
      }
    }
    return true;
  }

  async function addLabels(p: PlannedSeries, instances: Awaited<ReturnType<ReadIndex['instances']>>, metadata: DicomJson[], dir: string, row: Omit<ManifestFile, 'sha256' | 'bytes' | 'path'>): Promise<boolean> {
    const ref = (first(metadata[0], '00081115') as DicomJson | undefined)?.['0020000E']?.Value?.[0];
    if (typeof ref !== 'string') throw new VeilgateError('unprocessable', 'the segmentation names no referenced series');
    if (!(await view.exists('series', { study: p.study, series: ref }))) throw new VeilgateError('unprocessable', 'the segmentation\'s referenced series is not stored (or not visible)');
    const stack = sliceStack(await metadataOf(view, p.study, ref));
    if (!stack) throw new VeilgateError('unprocessable', 'the referenced series is no stack of single-frame slices');
    const conversion = await seriesNifti(view, store, p.study, ref, niftiOptions);
    const imageHeader = new Uint8Array(conversion.volumes[0].nii.data.subarray(0, 352));
    const segments: LabelMapInput['segments'] = [];
    for (const [i, inst] of instances.entries()) {
      if (!UNCOMPRESSED.has(inst.transferSyntaxUID)) throw new VeilgateError('unprocessable', `a segmentation stored as ${inst.transferSyntaxUID} is not read (uncompressed only)`);
      const range = inst.bulk['7FE00010'];
      if (!range) throw new VeilgateError('unprocessable', 'a segmentation instance has no pixel data');
      const pixels = await store.read(inst.blobKey, [{ start: range.offset, end: range.offset + range.length - 1 }]);
      segments.push({ metadata: metadata[i], pixels: new Uint8Array(pixels.buffer, pixels.byteOffset, pixels.byteLength) });
    }
    const out = await labelMapOnWorker({ segments, stack, imageHeader });
    await addFile({ ...row, path: `${dir}/labels.nii.gz` }, Buffer.from(out.niiGz.buffer, out.niiGz.byteOffset, out.niiGz.byteLength), true);
    const table = {
      StudyInstanceUID: p.study,
      SeriesInstanceUID: p.series,
      referencedSeriesInstanceUID: ref,
      image: `${folderName(row.pseudonym)}/${p.study}/${ref}/image.nii.gz`,
      labels: out.labels,
      overlappingVoxels: out.overlappingVoxels,
    };
    await addFile({ ...row, path: `${dir}/labels.json` }, Buffer.from(JSON.stringify(table, null, 2) + '\n'));
    return true;
  }
}
