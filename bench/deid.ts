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
