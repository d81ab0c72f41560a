/**
 * Conversion benchmark: series → NIfTI through the gateway (dcm2niix WebAssembly in a worker)
 * for the 28-slice Philips CT and a synthetic 512×512×300 CT, time and peak memory, next to
 * Debian's native dcm2niix on the same files, as a ratio.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { loadConfig } from '../src/config';
import { startGateway, Gateway } from '../src/server';
import { setLogSink } from '../src/log';
import { ingest } from '../src/ingest/ingest';
import { importFolder } from '../src/cli/import';
import { runIfMain } from './util';
import { randomUid, syntheticInstance } from '../src/synthetic/instances';

const execFileAsync = promisify(execFile);
const PHILIPS_CT = path.resolve(__dirname, '../../../shared/data/dcm_qa_ct/In/Philips/S21570/S2010');

/** Wall time and the highest resident set size seen while `fn` runs (sampled every 20 ms). */
async function measure<T>(fn: () => Promise<T>): Promise<{ seconds: number; peakMb: number; result: T }> {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  const t0 = performance.now();
  try {
    const result = await fn();
    return { seconds: (performance.now() - t0) / 1000, peakMb: Math.max(peak, process.memoryUsage().rss) / 2 ** 20, result };
  } finally {
    clearInterval(timer);
  }
}

async function native(dir: string, out: string): Promise<{ seconds: number; peakMb?: number }> {
  fs.mkdirSync(out, { recursive: true });
  const t0 = performance.now();
  const hasTime = fs.existsSync('/usr/bin/time');
  const { stderr } = hasTime
    ? await execFileAsync('/usr/bin/time', ['-f', 'maxrss %M', 'dcm2niix', '-o', out, '-z', 'n', '-f', '%s', dir], { maxBuffer: 64 * 2 ** 20 })
    : await execFileAsync('dcm2niix', ['-o', out, '-z', 'n', '-f', '%s', dir], { maxBuffer: 64 * 2 ** 20 });
  const seconds = (performance.now() - t0) / 1000;
  const kb = /maxrss (\d+)/.exec(stderr)?.[1];
  return { seconds, peakMb: kb ? Number(kb) / 1024 : undefined };
}

async function viaGateway(gateway: Gateway, study: string, series: string) {
  return measure(async () => {
    const res = await fetch(`${gateway.config.publicUrl}/api/studies/${study}/series/${series}/nifti?format=nii`);
    if (res.status !== 200) throw new Error(`nifti: ${res.status} ${await res.text()}`);
    return (await res.arrayBuffer()).byteLength;
  });
}

async function seriesOf(gateway: Gateway): Promise<{ study: string; series: string }[]> {
  const list = (await (await fetch(`${gateway.config.publicUrl}/dicom-web/series`)).json()) as Record<string, { Value: string[] }>[];
  return list.map((s) => ({ study: s['0020000D'].Value[0], series: s['0020000E'].Value[0] }));
}

function report(label: string, ours: { seconds: number; peakMb: number; result: number }, theirs: { seconds: number; peakMb?: number }): void {
  console.log(
    `nifti ${label}: gateway ${ours.seconds.toFixed(2)} s, peak RSS ${ours.peakMb.toFixed(0)} MB (${(ours.result / 2 ** 20).toFixed(1)} MB .nii); ` +
      `native dcm2niix ${theirs.seconds.toFixed(2)} s${theirs.peakMb ? `, peak RSS ${theirs.peakMb.toFixed(0)} MB` : ''}; time ratio ${(ours.seconds / theirs.seconds).toFixed(2)}`,
  );
}

export async function main(): Promise<void> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'veilgate-bench-nifti-'));
  setLogSink(() => undefined);
  const gateway = await startGateway(loadConfig({}, { host: '127.0.0.1', port: 0, dataDir: path.join(work, 'data'), dimse: { ...loadConfig({}).dimse, enabled: false } }));
  try {
    const hasNative = await execFileAsync('sh', ['-c', 'command -v dcm2niix']).then(() => true, () => false);
    if (fs.existsSync(PHILIPS_CT)) {
      await importFolder(PHILIPS_CT, gateway.config);
      const [ct] = await seriesOf(gateway);
      const ours = await viaGateway(gateway, ct.study, ct.series);
      report('Philips CT 512x512x28', ours, hasNative ? await native(PHILIPS_CT, path.join(work, 'native-ct')) : { seconds: NaN });
    }
    // A synthetic 512×512×300 CT: the files for native dcm2niix, and the same through ingest.
    const folder = path.join(work, 'synthetic');
    fs.mkdirSync(folder);
    const studyUID = randomUid();
    const seriesUID = randomUid();
    for (let i = 1; i <= 300; i++) {
      const inst = syntheticInstance({ studyUID, seriesUID, instanceNumber: i, rows: 512, columns: 512 });
      fs.writeFileSync(path.join(folder, `${i}.dcm`), inst.bytes);
      await ingest({ kind: 'part10', bytes: inst.bytes }, { source: 'bench' }, gateway.ingestDeps);
    }
    const all = await seriesOf(gateway);
    const target = all[all.length - 1]; // storage order: the synthetic series came last
    const ours = await viaGateway(gateway, target.study, target.series);
    report('synthetic CT 512x512x300', ours, hasNative ? await native(folder, path.join(work, 'native-synthetic')) : { seconds: NaN });
  } finally {
    await gateway.close();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

runIfMain(module, main);
