/**
 * Processing benchmark on a synthetic 512×512×300 CT volume (0.7 × 0.7 × 1.5 mm): resampling
 * to 1 mm, Gaussian, median, connected components (each as a ratio against scipy.ndimage on
 * the same volume, measured in the same run through /usr/bin/python3), Otsu, and writing a
 * DICOM Segmentation of a bone mask on 300 slices.
 *
 * The volume is written once to a temporary raw file; every operation runs in a process of its
 * own that reads it, so each peak RSS is that operation's alone. The input's own size is
 * printed beside it (the goal: peak at most twice the input).
 *
 *   node dist/bench/processing.js                  all rows
 *   BENCH_OPS=gaussian,median node dist/bench/...   some rows
 *   BENCH_SCIPY=0                                   without the scipy runs
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { LabelVolume, Volume } from '../src/processing/volume';
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
const SPACING: [number, number, number] = [0.7, 0.7, 1.5];
const MiB = 2 ** 20;

/** A body-like phantom: an ellipse of soft tissue with bone inside, and noise. */
function phantom(): Float32Array {
  const data = new Float32Array(NX * NY * NZ);
  let seed = 1;
  for (let z = 0, p = 0; z < NZ; z++)
    for (let y = 0; y < NY; y++)
      for (let x = 0; x < NX; x++, p++) {
        seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
        const noise = (seed / 2 ** 32 - 0.5) * 40;
        const r = ((x - 256) / 200) ** 2 + ((y - 256) / 150) ** 2;
        const bone = ((x - 256) / 40) ** 2 + ((y - 300) / 30) ** 2 < 1;
        data[p] = (r < 1 ? (bone ? 700 : 40) : -1000) + noise;
      }
  return data;
}

const affine = () => flipXY(dicomGridAffine([-179, -179, 0], [1, 0, 0, 0, 1, 0], [SPACING[1], SPACING[0]], [0, 0, SPACING[2]]));

function stack(): SliceStack {
  return {
    slices: Array.from({ length: NZ }, (_, k) => ({ sopInstanceUID: randomUid(), sopClassUID: '1.2.840.10008.5.1.4.1.1.2', position: [-179, -179, SPACING[2] * k] })),
    rows: NY,
    columns: NX,
    rowDirection: [1, 0, 0],
    columnDirection: [0, 1, 0],
    affine: dicomGridAffine([-179, -179, 0], [1, 0, 0, 0, 1, 0], [SPACING[1], SPACING[0]], [0, 0, SPACING[2]]),
    uneven: false,
  };
}

/** What one operation does in its own process (the volume is read from `file`): set-up, then the timed work. */
const OPS: Record<string, (v: Volume) => () => unknown> = {
  resample: (v) => () => resample(v, gridAtSpacing(v, [1, 1, 1]), 'linear'),
  gaussian: (v) => () => gaussian(v, 1),
  median: (v) => () => median(v, 1),
  label: (v) => {
    const mask = threshold(v, 300, 3000);
    return () => connectedComponents(mask);
  },
  otsu: (v) => () => otsu(v),
  seg: (v) => {
    const mask = threshold(v, 300, 3000);
    const slices = stack();
    return () => writeSeg(mask, slices);
  },
};

function writeSeg(labels: LabelVolume, slices: SliceStack): number {
  {
    const seg = labelsToSegmentation({
      labels,
      segments: [{ number: 1, label: 'Bone', algorithm: 'AUTOMATIC', algorithmName: 'threshold', category: { value: '91723000', meaning: 'Anatomical Structure' }, type: { value: '272673000', meaning: 'Bone' } }],
      stack: slices,
      sourceMetadata: { '00280030': { vr: 'DS', Value: [SPACING[1], SPACING[0]] } },
      sourceSeriesUID: randomUid(),
      seriesDescription: 'bench',
      seriesNumber: 1,
    });
    return writePart10(seg, { sopClassUID: '1.2.840.10008.5.1.4.1.1.66.4', sopInstanceUID: randomUid(), transferSyntaxUID: '1.2.840.10008.1.2.1' }).size;
  }
}

/**
 * The labelled rows, in order: scipy's call (on `a`, a (z, y, x) float32 array) when there is
 * a peer, and the goal (a ratio against the peer, or seconds without one).
 */
const ROWS: { op: string; label: string; scipy?: string; goal: number }[] = [
  { op: 'resample', label: 'resample to 1 mm (trilinear) vs zoom(order=1)', scipy: `ndimage.zoom(a, (${SPACING[2]}, ${SPACING[1]}, ${SPACING[0]}), order=1)`, goal: 1 },
  { op: 'gaussian', label: 'Gaussian sigma 1 mm vs gaussian_filter', scipy: `ndimage.gaussian_filter(a, sigma=(${1 / SPACING[2]}, ${1 / SPACING[1]}, ${1 / SPACING[0]}), mode='reflect', truncate=4.0)`, goal: 1 },
  { op: 'median', label: 'median radius 1 vs median_filter(size=3)', scipy: `ndimage.median_filter(a, size=3, mode='reflect')`, goal: 0.25 },
  { op: 'label', label: 'connected components of the bone mask vs label', scipy: `ndimage.label((a >= 300) & (a <= 3000))`, goal: 1 },
  { op: 'otsu', label: 'Otsu', goal: 0.3 },
  { op: 'seg', label: 'DICOM SEG of the bone mask (300 frames)', goal: 1 },
];

/** The child: read the volume, run one operation, report its time and this process's peak RSS. */
function child(op: string, file: string): void {
  const runtime = process.memoryUsage().rss; // Node itself, before the input is read
  const buffer = fs.readFileSync(file);
  const data = new Float32Array(buffer.buffer, buffer.byteOffset, buffer.byteLength / 4);
  const volume: Volume = { dims: [NX, NY, NZ], affine: affine(), data };
  const work = OPS[op](volume);
  global.gc?.();
  const before = process.memoryUsage().rss;
  const t0 = performance.now();
  work();
  const seconds = (performance.now() - t0) / 1000;
  // ru_maxrss is in KiB: the high-water mark of the whole process, input included.
  const peak = process.resourceUsage().maxRSS * 1024;
  process.stdout.write(JSON.stringify({ seconds, peak, before, runtime, input: data.byteLength }));
}

const SCIPY = `
import json, resource, sys, time
import numpy as np
from scipy import ndimage
job = json.load(sys.stdin)
a = np.fromfile(job["file"], dtype=np.float32).reshape((job["nz"], job["ny"], job["nx"]))
t0 = time.perf_counter()
eval(job["call"])
print(json.dumps({"seconds": time.perf_counter() - t0, "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
`;

function scipyTime(call: string, file: string): { seconds: number; peak: number } {
  const r = spawnSync('/usr/bin/python3', ['-c', SCIPY], { input: JSON.stringify({ file, call, nx: NX, ny: NY, nz: NZ }), encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`scipy: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

function veilgateTime(op: string, file: string): { seconds: number; peak: number; before: number; runtime: number; input: number } {
  const out = execFileSync(process.execPath, ['--expose-gc', __filename, '--child', op, file], { encoding: 'utf8', maxBuffer: 1 << 20 });
  return JSON.parse(out);
}

export async function main(): Promise<void> {
  const wanted = process.env.BENCH_OPS ? process.env.BENCH_OPS.split(',') : ROWS.map((r) => r.op);
  const withScipy = process.env.BENCH_SCIPY !== '0' && fs.existsSync('/usr/bin/python3');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'veilgate-bench-processing-'));
  const file = path.join(dir, 'volume.f32');
  try {
    const t0 = performance.now();
    fs.writeFileSync(file, phantom());
    console.log(`processing synthetic volume ${NX}x${NY}x${NZ} (${(NX * NY * NZ * 4) / MiB} MiB float32): made in ${((performance.now() - t0) / 1000).toFixed(2)} s; ${os.availableParallelism()} cores`);
    for (const row of ROWS.filter((r) => wanted.includes(r.op))) {
      const ours = veilgateTime(row.op, file);
      const memory = `peak RSS ${(ours.peak / MiB).toFixed(0)} MiB: ${((ours.peak - ours.runtime) / ours.input).toFixed(2)}× the input above Node's own ${(ours.runtime / MiB).toFixed(0)} MiB (goal ≤ 2)`;
      if (row.scipy && withScipy) {
        const peer = scipyTime(row.scipy, file);
        const ratio = ours.seconds / peer.seconds;
        console.log(`processing ${row.label}: veilgate ${ours.seconds.toFixed(2)} s, scipy ${peer.seconds.toFixed(2)} s, ratio ${ratio.toFixed(2)} (goal ≤ ${row.goal}); ${memory}, scipy ${(peer.peak / MiB).toFixed(0)} MiB`);
      } else if (row.scipy) {
        console.log(`processing ${row.label}: veilgate ${ours.seconds.toFixed(2)} s, scipy not run; ${memory}`);
      } else {
        console.log(`processing ${row.label}: veilgate ${ours.seconds.toFixed(2)} s (goal < ${row.goal} s); ${memory}`);
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--child') child(process.argv[3], process.argv[4]);
else runIfMain(module, main);
