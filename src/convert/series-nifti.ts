/**
 * A stored series as NIfTI. Plain stacks of single-frame slices are written directly from
 * the stored frames (direct-nifti.ts), with the header dcm2niix would give them; everything
 * else (enhanced and multi-frame objects, mosaics, gantry tilt, uneven spacing, 4D, compressed
 * pixel data, vendor specifics) goes to dcm2niix, the best output is chosen, and a conversion
 * that would silently misplace voxels is refused. The last few conversions are kept, since a
 * client asks for the volume and its sidecar one after the other (exports keep none: cache false).
 */
import { movable } from '../workers/transfer';
import { ReadIndex, StoredInstance } from '../index/index';
import { BlobStore } from '../store/blob-store';
import { VeilgateError } from '../errors';
import type { DicomJson } from '../dicom/json';
import { Dcm2niixFile, niftiOutputs, runDcm2niix } from './dcm2niix';
import { directStack } from './direct-eligibility';
import { FrameFlipper, writeDirectNifti } from './direct-nifti';
import type { WorkerPool } from '../workers/pool';

export interface SeriesNifti {
  volumes: { nii: Dcm2niixFile; json?: Dcm2niixFile; bval?: Dcm2niixFile; bvec?: Dcm2niixFile }[];
  log: string[];
  /** Which converter made the volumes and, for dcm2niix, why the direct way was not taken. */
  converter?: { path: 'direct' } | { path: 'dcm2niix'; reason: string };
}

export interface SeriesNiftiOptions {
  /**
   * 'auto' (default): direct for plain stacks, dcm2niix otherwise. 'dcm2niix' forces the
   * WebAssembly dcm2niix; 'direct' refuses (422) a series the direct way cannot write.
   */
  converter?: 'auto' | 'direct' | 'dcm2niix';
  /** Where the direct path puts frames in order: the request worker threads, so this thread only reads files and copies. */
  workers?: WorkerPool;
  /**
   * false: a conversion already kept is used, but this one is not kept (an export converts one
   * series after another, once each: keeping them would hold two volumes for nothing).
   */
  cache?: boolean;
}

/** Frames put in order on a worker thread: moved there and back (each is the whole of its own buffer). */
function flipperOn(workers: WorkerPool): FrameFlipper {
  return (input) => workers.run('place-slices', input, movable(input.frames));
}

const CACHE_SIZE = 2;
const cache = new Map<string, Promise<SeriesNifti>>();

async function viaDcm2niix(store: BlobStore, instances: StoredInstance[], reason: string): Promise<SeriesNifti> {
  const files = await Promise.all(instances.map(async (i) => ({ name: i.sopInstanceUID, data: await store.read(i.blobKey, [{ start: 0, end: i.size - 1 }]) })));
  const result = await runDcm2niix(files);
  const volumes = niftiOutputs(result);
  const problems = result.log.filter((l) => /error|warning/i.test(l)).map((l) => l.replace(/\/(in|out)\/[^\s]*/g, '').trim());
  if (result.exitCode !== 0 || volumes.length === 0) {
    throw new VeilgateError('unprocessable', `the series cannot be converted to NIfTI: ${problems.slice(0, 5).join('; ') || `dcm2niix exit ${result.exitCode}`}`);
  }
  // Without its private slice count a Siemens mosaic is cut into as many tiles as fit: refuse the guess.
  if (result.log.some((l) => /Guessing this is a mosaic/i.test(l))) {
    throw new VeilgateError(
      'unprocessable',
      'Siemens mosaic without NumberOfImagesInMosaic (0019,xx0A): de-identification removed it; store the series with Retain Safe Private on (DEID_OPTIONS=retainSafePrivate) to convert it',
    );
  }
  // Uneven slice spacing is only acceptable once dcm2niix has resampled it to even spacing (_Eq).
  const uneven = result.log.some((l) => /Interslice distance varies|Missing images/i.test(l));
  if (uneven && !/_(Tilt_)?Eq_\d+\.nii$/.test(volumes[0].nii.name)) {
    throw new VeilgateError('unprocessable', `slice spacing varies or slices are missing, and no evenly spaced volume could be made: ${problems.slice(0, 5).join('; ')}`);
  }
  return { volumes, log: result.log, converter: { path: 'dcm2niix', reason } };
}

async function convert(index: ReadIndex, store: BlobStore, study: string, series: string, instances: StoredInstance[], mode: NonNullable<SeriesNiftiOptions['converter']>, workers?: WorkerPool): Promise<SeriesNifti> {
  let reason = 'dcm2niix requested';
  if (mode !== 'dcm2niix') {
    const metadata = (await index.metadata({ study, series })).map((m) => JSON.parse(m) as DicomJson);
    const eligible = directStack(instances, metadata);
    if (eligible.ok) {
      const made = await writeDirectNifti(store, eligible.stack, workers && flipperOn(workers));
      if (made.ok) return { volumes: [{ nii: made.nii, json: made.json }], log: [], converter: { path: 'direct' } };
      reason = made.reason;
    } else reason = eligible.reason;
    if (mode === 'direct') throw new VeilgateError('unprocessable', `the series cannot be written directly: ${reason}`);
  }
  return viaDcm2niix(store, instances, reason);
}

export async function seriesNifti(index: ReadIndex, store: BlobStore, study: string, series: string, options: SeriesNiftiOptions = {}): Promise<SeriesNifti> {
  const instances = await index.instances({ study, series });
  if (instances.length === 0) throw new VeilgateError('not-found', 'no such series');
  const mode = options.converter ?? 'auto';
  // A series that gained instances is converted again.
  const key = `${study}/${series}/${instances.length}/${mode}`;
  let p = cache.get(key);
  if (!p && options.cache === false) return convert(index, store, study, series, instances, mode, options.workers);
  if (!p) {
    p = convert(index, store, study, series, instances, mode, options.workers);
    cache.set(key, p);
    p.catch(() => cache.delete(key));
    while (cache.size > CACHE_SIZE) cache.delete(cache.keys().next().value as string);
  }
  return p;
}
