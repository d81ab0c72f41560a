/**
 * Processing benchmark: time and peak memory of each operation on a synthetic 512×512×300 CT
 * volume (0.7 × 0.7 × 1.5 mm), in this process: resampling to 1 mm, Gaussian, median,
 * Otsu, connected components, and writing a DICOM Segmentation of a mask on 300 slices.
 */
import { performance } from 'node:perf_hooks';
import { Volume } from '../src/processing/volume';
import { gridAtSpacing, resample } from '../src/processing/resample';
import { gaussian, median } from '../src/processing/filters';
import { connectedComponents, otsu, threshold } from '../src/processing/segment';
import { labelsToSegmentation } from '../src/convert/segmentation';
import { dicomGridAffine, flipXY } from '../src/convert/geometry';
import { SliceStack } from '../src/convert/series-geometry';
import { randomUid } from '../src/synthetic/instances';
import { writePart10 } from '../src/dicom/write';
import { runIfMain } from './util';

const [NX, NY, NZ] = [512, 512, 300];

/** A body-like phantom: an ellipse of soft tissue with bone inside, and noise. */
function phantom(): Volume {
  const data = new Float32Array(NX * NY * NZ);
  let seed = 1;
  const noise = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32 - 0.5) * 40;
  for (let z = 0; z < NZ; z++)
    for (let y = 0; y < NY; y++)
      for (let x = 0; x < NX; x++) {
        const r = ((x - 256) / 200) ** 2 + ((y - 256) / 150) ** 2;
        const bone = ((x - 256) / 40) ** 2 + ((y - 300) / 30) ** 2 < 1;
        data[x + NX * (y + NY * z)] = (r < 1 ? (bone ? 700 : 40) : -1000) + noise();
      }
  const affine = flipXY(dicomGridAffine([-179, -179, 0], [1, 0, 0, 0, 1, 0], [0.7, 0.7], [0, 0, 1.5]));
  return { dims: [NX, NY, NZ], affine, data };
}

async function measure<T>(label: string, fn: () => T): Promise<T> {
  global.gc?.();
  const before = process.memoryUsage().rss;
  let peak = before;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
  const t0 = performance.now();
  // Let the sampler run once before the synchronous work starts.
  await new Promise((r) => setTimeout(r, 15));
  const result = fn();
  const seconds = (performance.now() - t0 - 15) / 1000;
  peak = Math.max(peak, process.memoryUsage().rss);
  clearInterval(timer);
  console.log(`processing ${label}: ${seconds.toFixed(2)} s, peak RSS ${(peak / 2 ** 20).toFixed(0)} MB (+${((peak - before) / 2 ** 20).toFixed(0)} MB)`);
  return result;
}

export async function main(): Promise<void> {
  const volume = await measure('synthetic volume 512x512x300', phantom);
  await measure('resample to 1 mm (trilinear)', () => resample(volume, gridAtSpacing(volume, [1, 1, 1]), 'linear'));
  await measure('Gaussian sigma 1 mm', () => gaussian(volume, 1));
  await measure('median radius 1', () => median(volume, 1));
  await measure('Otsu', () => otsu(volume));
  const mask = threshold(volume, 300, 3000);
  await measure('connected components', () => connectedComponents(mask));
  const stack: SliceStack = {
    slices: Array.from({ length: NZ }, (_, k) => ({ sopInstanceUID: randomUid(), sopClassUID: '1.2.840.10008.5.1.4.1.1.2', position: [-179, -179, 1.5 * k] })),
    rows: NY,
    columns: NX,
    rowDirection: [1, 0, 0],
    columnDirection: [0, 1, 0],
    affine: dicomGridAffine([-179, -179, 0], [1, 0, 0, 0, 1, 0], [0.7, 0.7], [0, 0, 1.5]),
    uneven: false,
  };
  await measure('DICOM SEG of the bone mask (300 frames)', () => {
    const seg = labelsToSegmentation({
      labels: mask,
      segments: [{ number: 1, label: 'Bone', algorithm: 'AUTOMATIC', algorithmName: 'threshold', category: { value: '91723000', meaning: 'Anatomical Structure' }, type: { value: '272673000', meaning: 'Bone' } }],
      stack,
      sourceMetadata: { '00280030': { vr: 'DS', Value: [0.7, 0.7] } },
      sourceSeriesUID: randomUid(),
      seriesDescription: 'bench',
      seriesNumber: 1,
    });
    return writePart10(seg, { sopClassUID: '1.2.840.10008.5.1.4.1.1.66.4', sopInstanceUID: randomUid(), transferSyntaxUID: '1.2.840.10008.1.2.1' }).size;
  });
}

runIfMain(module, main);
