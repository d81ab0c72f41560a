/**
 * A stored series as NIfTI: its files go to dcm2niix, the best output is chosen, and a
 * conversion that would silently misplace voxels is refused. The last few conversions
 * are kept, since a client asks for the volume and its sidecar one after the other.
 */
import { ReadIndex, StoredInstance } from '../index/index';
import { BlobStore } from '../store/blob-store';
import { VeilgateError } from '../errors';
import { Dcm2niixFile, niftiOutputs, runDcm2niix } from './dcm2niix';

export interface SeriesNifti {
  volumes: { nii: Dcm2niixFile; json?: Dcm2niixFile; bval?: Dcm2niixFile; bvec?: Dcm2niixFile }[];
  log: string[];
}

const CACHE_SIZE = 2;
const cache = new Map<string, Promise<SeriesNifti>>();

async function convert(store: BlobStore, instances: StoredInstance[]): Promise<SeriesNifti> {
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
  return { volumes, log: result.log };
}

export async function seriesNifti(index: ReadIndex, store: BlobStore, study: string, series: string): Promise<SeriesNifti> {
  const instances = await index.instances({ study, series });
  if (instances.length === 0) throw new VeilgateError('not-found', 'no such series');
  // A series that gained instances is converted again.
  const key = `${study}/${series}/${instances.length}`;
  let p = cache.get(key);
  if (!p) {
    p = convert(store, instances);
    cache.set(key, p);
    p.catch(() => cache.delete(key));
    while (cache.size > CACHE_SIZE) cache.delete(cache.keys().next().value as string);
  }
  return p;
}
