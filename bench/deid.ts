/**
 * De-identification benchmark: the cost of deidentify() per instance (a synthetic CT header,
 * real Philips CT slices from ../shared/data, and the worst case of a token in every Table
 * E.1-1 attribute), and the STOW-RS rate with de-identification on and off.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadConfig } from '../src/config';
import { startGateway } from '../src/server';
import { setLogSink } from '../src/log';
import { parsePart10 } from '../src/dicom/parse';
import { Dataset } from '../src/dicom/dataset';
import { deidentify, DeidParams } from '../src/deid/deidentify';
import { DEFAULT_DEID_OPTIONS } from '../src/deid/options';
import { randomUid, syntheticDataset, syntheticInstance } from '../src/synthetic/instances';
import { identifyingInstance } from '../src/synthetic/identifying';
import { mb, multipartBody, runIfMain } from './util';
import { SHIPPED_RECIPES } from '../src/deid/pixel-recipes';
import { PixelTextReader } from '../src/deid/ocr';
import { pixelDescriptionOf } from '../src/imaging/native-pixels';
import { drawText } from '../src/synthetic/deid-corpus/font';
import { Tags } from '../src/dicom/tags';
import { stringElement, uint16Element } from '../src/dicom/values';
import { scoreCorpus } from './deid-score';
import { formatReport } from './deid-scorer/report';

const PHILIPS_CT = path.resolve(__dirname, '../../../shared/data/dcm_qa_ct/In/Philips/S21570/S2010');
const STOW_INSTANCES = 300;
const STOW_BATCH = 50;

function timePerCall(label: string, datasets: Dataset[], params: DeidParams, repeats: number): void {
  for (const ds of datasets) deidentify(ds, params); // warm-up
  const t0 = performance.now();
  for (let r = 0; r < repeats; r++) for (const ds of datasets) deidentify(ds, params);
  const per = ((performance.now() - t0) * 1000) / (repeats * datasets.length);
  console.log(`deidentify ${label}: ${per.toFixed(0)} µs/instance (${datasets.length * repeats} calls)`);
}

async function stowRate(url: string, bodies: { body: Buffer; contentType: string }[], bytes: number): Promise<number> {
  const t0 = performance.now();
  for (const b of bodies) {
    const res = await fetch(`${url}/studies`, { method: 'POST', headers: { 'Content-Type': b.contentType }, body: b.body });
    if (res.status !== 200) throw new Error(`STOW ${res.status}: ${await res.text()}`);
  }
  const s = (performance.now() - t0) / 1000;
  const rate = (bodies.length * STOW_BATCH) / s;
  console.log(`  ${bodies.length * STOW_BATCH} instances, ${mb(bytes)} MB in ${s.toFixed(2)} s -> ${rate.toFixed(1)} instances/s`);
  return rate;
}

function stowBodies(): { bodies: { body: Buffer; contentType: string }[]; bytes: number } {
  const studyUID = randomUid();
  const seriesUID = randomUid();
  const bodies = [];
  let bytes = 0;
  for (let b = 0; b < STOW_INSTANCES / STOW_BATCH; b++) {
    const parts = Array.from({ length: STOW_BATCH }, (_, i) =>
      syntheticInstance({ studyUID, seriesUID, instanceNumber: b * STOW_BATCH + i + 1, rows: 512, columns: 512 }).bytes,
    );
    bytes += parts.reduce((n, p) => n + p.length, 0);
    bodies.push(multipartBody(parts));
  }
  return { bodies, bytes };
}

/** A 640×480 RGB ultrasound frame with a patient banner, as the shipped GE 640x480 recipe expects. */
function ultrasoundFrames(frames: number): Dataset {
  const { dataset } = syntheticDataset({ modality: 'US', rows: 480, columns: 640 });
  const pixels = new Uint8Array(480 * 640 * 3 * frames);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 31) & 0x7f;
  const frame = { data: pixels.subarray(0, 480 * 640 * 3), columns: 640, rows: 480, samplesPerPixel: 3 };
  drawText(frame, 'KOWALCZYK AGNIESZKA 48213377 14/03/1987', 8, 8, [255, 255, 255]);
  const set = (t: number, vr: string, v: string) => dataset.set(t, stringElement(t, vr, v));
  set(Tags.SOPClassUID, 'UI', '1.2.840.10008.5.1.4.1.1.6.1');
  set(Tags.Manufacturer, 'LO', 'GE Healthcare');
  set(Tags.PhotometricInterpretation, 'CS', 'RGB');
  if (frames > 1) set(Tags.NumberOfFrames, 'IS', String(frames));
  for (const [t, v] of [[Tags.SamplesPerPixel, 3], [Tags.BitsAllocated, 8], [Tags.BitsStored, 8], [0x00280102, 7], [Tags.PlanarConfiguration, 0]] as const) {
    dataset.set(t, uint16Element(t, [v]));
  }
  dataset.set(Tags.PixelData, { tag: Tags.PixelData, vr: 'OB', value: pixels });
  return dataset;
}

/** Burned-in pixel cleaning by the shipped GE ultrasound recipe: per frame of 640×480 RGB. */
async function pixelCleaningCost(params: DeidParams): Promise<void> {
  const frames = 20;
  const ds = ultrasoundFrames(frames);
  const withRecipes = { ...params, pixelRecipes: SHIPPED_RECIPES };
  deidentify(ds, withRecipes);
  const t0 = performance.now();
  for (let r = 0; r < 10; r++) deidentify(ds, withRecipes);
  console.log(`burned-in pixel cleaning (native 640x480 RGB, shipped GE recipe): ${((performance.now() - t0) / (10 * frames)).toFixed(2)} ms/frame`);
}

/** The optional OCR check: tesseract.js per 640×480 frame (the first call also loads the model). */
async function ocrCost(): Promise<void> {
  const reader = new PixelTextReader({ enabled: true, maxFrames: 3, workers: 1 });
  try {
    const ds = ultrasoundFrames(1);
    const p = pixelDescriptionOf(ds);
    const pixels = ds.get(Tags.PixelData)!.value!;
    let t0 = performance.now();
    await reader.readFrame(pixels, p, 'US');
    const first = performance.now() - t0;
    const n = 5;
    t0 = performance.now();
    for (let i = 0; i < n; i++) await reader.readFrame(pixels, p, 'US');
    console.log(`OCR check (tesseract.js, one worker): ${((performance.now() - t0) / n).toFixed(0)} ms/frame of 640x480 (first call with model load ${first.toFixed(0)} ms)`);
  } finally {
    await reader.close();
  }
}

export async function main(): Promise<void> {
  const params: DeidParams = { secret: Buffer.alloc(32, 1), options: DEFAULT_DEID_OPTIONS, acceptBurnedIn: false };
  timePerCall('synthetic CT header', [syntheticDataset({ rows: 512, columns: 512 }).dataset], params, 2000);
  if (fs.existsSync(PHILIPS_CT)) {
    const real = fs
      .readdirSync(PHILIPS_CT)
      .map((f) => fs.readFileSync(path.join(PHILIPS_CT, f)))
      .flatMap((b) => {
        try {
          return [parsePart10(b).dataset];
        } catch {
          return [];
        }
      })
      .filter((ds) => ds.has(0x7fe00010));
    timePerCall(`Philips CT slices (${real.length} real headers with private groups)`, real, params, 50);
  }
  timePerCall('worst case (a token in every Table E.1-1 attribute, 3 levels deep)', [identifyingInstance().dataset], params, 20);
  await pixelCleaningCost(params);
  await ocrCost();
  const score = await scoreCorpus({ instances: 1000, seed: 20240 });
  const swept = Object.values(score.stow.sweptPaths).reduce((n, c) => n + c, 0);
  console.log(`deid-score corpus (1000 instances): score ${score.score.toFixed(2)}%, ${score.leakCount} leaks, ${swept} values cleaned by the last sweep (rules the table missed)`);
  if (score.leakCount) console.log(formatReport(score).split('\n').filter((l) => /leak/i.test(l)).slice(0, 12).join('\n'));

  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'veilgate-bench-deid-'));
  setLogSink(() => undefined);
  const gateway = await startGateway(loadConfig({}, { host: '127.0.0.1', port: 0, dataDir }));
  try {
    const url = `${gateway.config.publicUrl}/dicom-web`;
    // Alternate on, off, on, off: the first batches also pay for warm-up and a cold file system.
    const rates = { on: [] as number[], off: [] as number[] };
    const deid = gateway.ingestDeps.deid;
    for (const mode of ['on', 'off', 'on', 'off'] as const) {
      const { bodies, bytes } = stowBodies();
      gateway.ingestDeps.deid = mode === 'on' ? deid : null; // only the benchmark turns it off, to measure its cost
      console.log(`stow with de-identification ${mode}:`);
      rates[mode].push(await stowRate(url, bodies, bytes));
    }
    const best = (r: number[]) => Math.max(...r);
    console.log(`stow rate with de-identification / without (best of 2 each): ${(best(rates.on) / best(rates.off)).toFixed(2)}`);
  } finally {
    await gateway.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

runIfMain(module, main);
