/**
 * Conversion benchmark: series → NIfTI through the gateway next to Debian's native dcm2niix
 * on the same series, measured in the same run, as ratios.
 *
 * Each gateway conversion runs in a fresh child process (a gateway started on the prepared
 * data directory and warmed up on four small series of its own), so no conversion is served from a
 * cache and the memory figure is what the conversion adds: the peak RSS (VmHWM, reset just
 * before the request) minus the RSS at that moment. The time is curl's (a separate client
 * process, body to /dev/null): from sending GET …/nifti?format=nii to the last byte, so it
 * includes the HTTP transfer. Native dcm2niix runs under /usr/bin/time -v (whole-process
 * maximum RSS), writing its .nii and .json. Each figure is the median of RUNS runs.
 *
 * Plain single-frame stacks (the direct path) aim at ≤ 1.0× time and ≤ 1.5× memory; series
 * dcm2niix itself converts (tilt, enhanced multi-frame) at ≤ 1.5×. For the plain stacks the
 * forced WebAssembly dcm2niix path is measured too, for comparison (no HTTP in that figure).
 */
import { execFile, spawn } from 'node:child_process';
import readline from 'node:readline';
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
import { seriesNifti } from '../src/convert/series-nifti';
import { syntheticDataset, randomUid } from '../src/synthetic/instances';
import { writePart10 } from '../src/dicom/write';
import { TS } from '../src/dicom/transfer-syntax';
import { stringElement } from '../src/dicom/values';

const execFileAsync = promisify(execFile);
const SHARED = path.resolve(__dirname, '../../../shared/data');
const RUNS = Number(process.env.NIFTI_BENCH_RUNS ?? 3);
const NATIVE = '/usr/bin/dcm2niix';

/** auto: the HTTP API (curl); convert: the same conversion called in the process; direct, dcm2niix: forced. */
type Converter = 'auto' | 'convert' | 'direct' | 'dcm2niix';

interface Figure {
  seconds: number;
  peakMb: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const medianFigure = (fs: Figure[]): Figure => ({ seconds: median(fs.map((f) => f.seconds)), peakMb: median(fs.map((f) => f.peakMb)) });

function status(field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/**
 * The child: a gateway on the prepared data directory, warmed up on a few small series
 * (a server is long-running), then one conversion. The parent drives it over stdin/stdout:
 * "ready <url>" → "go" → "armed" → (the parent's GET, or our own call) → "report" → "done {…}".
 */
async function child(dataDir: string, warm: string, study: string, series: string, converter: Converter): Promise<void> {
  setLogSink(() => undefined);
  const config = loadConfig({}, { host: '127.0.0.1', port: 0, dataDir, dimse: { ...loadConfig({}).dimse, enabled: false } });
  const gateway = await startGateway(config);
  const lines = readline.createInterface({ input: process.stdin });
  const queue: string[] = [];
  const waiting: ((l: string) => void)[] = [];
  lines.on('line', (l) => (waiting.length ? waiting.shift()!(l) : queue.push(l)));
  const next = () => new Promise<string>((resolve) => (queue.length ? resolve(queue.shift()!) : waiting.push(resolve)));
  try {
    for (const w of warm.split(',')) {
      const [warmStudy, warmSeries] = w.split('/');
      if (converter === 'auto') await drain(`${gateway.config.publicUrl}/api/studies/${warmStudy}/series/${warmSeries}/nifti?format=nii`);
      else await seriesNifti(gateway.index, gateway.store, warmStudy, warmSeries, converter === 'convert' ? { workers: gateway.workers } : { converter });
    }
    process.stdout.write(`ready ${gateway.config.publicUrl}\n`);
    await next();
    global.gc?.();
    const baseline = status('VmRSS');
    try {
      fs.writeFileSync('/proc/self/clear_refs', '5'); // reset VmHWM to the current RSS
    } catch {
      /* older kernels: the peak then includes start-up */
    }
    let seconds = NaN;
    if (converter !== 'auto') {
      const t0 = performance.now();
      await seriesNifti(gateway.index, gateway.store, study, series, converter === 'convert' ? { workers: gateway.workers } : { converter });
      seconds = (performance.now() - t0) / 1000;
      process.stdout.write('armed\n');
    } else {
      process.stdout.write('armed\n');
    }
    await next();
    process.stdout.write(`done ${JSON.stringify({ seconds, peakMb: status('VmHWM') - baseline })}\n`);
  } finally {
    lines.close();
    await gateway.close();
  }
}

/** GET a URL and count its body without keeping it. */
async function drain(url: string): Promise<number> {
  const res = await fetch(url);
  if (res.status !== 200 || !res.body) throw new Error(`${url}: ${res.status} ${await res.text()}`);
  let bytes = 0;
  for await (const chunk of res.body) bytes += (chunk as Uint8Array).byteLength;
  return bytes;
}

async function viaChild(dataDir: string, warm: string, study: string, series: string, converter: Converter): Promise<Figure> {
  const runs: Figure[] = [];
  for (let i = 0; i < RUNS; i++) {
    const proc = spawn(process.execPath, ['--expose-gc', __filename, '--child', dataDir, warm, study, series, converter], { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines = readline.createInterface({ input: proc.stdout! });
    const queue: string[] = [];
    const waiters: ((l: string) => void)[] = [];
    lines.on('line', (l) => (waiters.length ? waiters.shift()!(l) : queue.push(l)));
    const expect = (prefix: string) =>
      new Promise<string>((resolve, reject) => {
        const take = (l: string) => (l.startsWith(prefix) ? resolve(l.slice(prefix.length).trim()) : reject(new Error(`child said ${l}`)));
        if (queue.length) take(queue.shift()!);
        else waiters.push(take);
      });
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    const url = await expect('ready');
    proc.stdin!.write('go\n');
    await expect('armed');
    let seconds = NaN;
    if (converter === 'auto') {
      // The client is curl, a process of its own: time from the request to the last byte.
      const { stdout } = await execFileAsync('curl', ['-sS', '-f', '-o', '/dev/null', '-w', '%{time_total}', `${url}/api/studies/${study}/series/${series}/nifti?format=nii`]);
      seconds = Number(stdout.trim());
    }
    proc.stdin!.write('report\n');
    const done = JSON.parse(await expect('done')) as Figure;
    proc.stdin!.end();
    await exited;
    runs.push({ seconds: converter === 'auto' ? seconds : done.seconds, peakMb: done.peakMb });
  }
  return medianFigure(runs);
}

async function native(dir: string, work: string): Promise<Figure> {
  const runs: Figure[] = [];
  for (let i = 0; i < RUNS; i++) {
    const out = fs.mkdtempSync(path.join(work, 'native-'));
    const t0 = performance.now();
    const { stderr } = await execFileAsync('/usr/bin/time', ['-v', NATIVE, '-o', out, '-z', 'n', '-b', 'y', '-ba', 'y', '-f', '%s_%p', dir], { maxBuffer: 64 * 2 ** 20 });
    const seconds = (performance.now() - t0) / 1000;
    const kb = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(stderr)?.[1]);
    runs.push({ seconds, peakMb: kb / 1024 });
    fs.rmSync(out, { recursive: true, force: true });
  }
  return medianFigure(runs);
}

interface Case {
  label: string;
  /** The original files, for native dcm2niix. */
  folder: string;
  study: string;
  series: string;
  plain: boolean;
}

async function seriesList(gateway: Gateway): Promise<{ study: string; series: string }[]> {
  const list = (await (await fetch(`${gateway.config.publicUrl}/dicom-web/series?limit=1000`)).json()) as Record<string, { Value: string[] }>[];
  return list.map((s) => ({ study: s['0020000D'].Value[0], series: s['0020000E'].Value[0] }));
}

/** Ingest a folder (or a generator of files) and return the one series it added. */
async function added(gateway: Gateway, load: () => Promise<void>): Promise<{ study: string; series: string }> {
  const before = new Set((await seriesList(gateway)).map((s) => s.series));
  await load();
  const fresh = (await seriesList(gateway)).filter((s) => !before.has(s.series));
  if (fresh.length !== 1) throw new Error(`expected one new series, got ${fresh.length}`);
  return fresh[0];
}

/** A synthetic stack written to `folder` and ingested: CT 512×512 or a 2D MR (MR Image Storage, echo and repetition times). */
async function synthetic(gateway: Gateway, folder: string, kind: 'CT' | 'MR', slices: number, size: number): Promise<void> {
  fs.mkdirSync(folder, { recursive: true });
  const studyUID = randomUid();
  const seriesUID = randomUid();
  for (let i = 1; i <= slices; i++) {
    const { dataset, uids } = syntheticDataset({ studyUID, seriesUID, instanceNumber: i, rows: size, columns: size, modality: kind, seriesDescription: `Synthetic ${kind}` });
    let sopClassUID = '1.2.840.10008.5.1.4.1.1.2';
    if (kind === 'MR') {
      sopClassUID = '1.2.840.10008.5.1.4.1.1.4';
      for (const [t, vr, v] of [
        [0x00080016, 'UI', sopClassUID],
        [0x00180080, 'DS', '2000'],
        [0x00180081, 'DS', '30'],
        [0x00180023, 'CS', '2D'],
        [0x00181312, 'CS', 'COL'],
        [0x00281052, 'DS', '0'],
      ] as const) dataset.set(t, stringElement(t, vr, v));
    }
    const written = writePart10(dataset, { sopClassUID, sopInstanceUID: uids.sopInstanceUID, transferSyntaxUID: TS.ExplicitVRLittleEndian });
    const bytes = Buffer.concat(written.chunks);
    fs.writeFileSync(path.join(folder, `${i}.dcm`), bytes);
    const r = await ingest({ kind: 'part10', bytes }, { origin: { kind: 'import', address: 'bench' } }, gateway.ingestDeps);
    if (!r.ok) throw r.error;
  }
}

function line(label: string, ours: Figure, theirs: Figure, plain: boolean, alone: Figure, wasm?: Figure): string {
  const t = ours.seconds / theirs.seconds;
  const m = ours.peakMb / theirs.peakMb;
  const goal = plain ? 'goal ≤ 1.0 time, ≤ 1.5 memory' : 'goal ≤ 1.5';
  const met = plain ? t <= 1.0 && m <= 1.5 : t <= 1.5 && m <= 1.5;
  let extra = `; conversion alone (no HTTP) ${alone.seconds.toFixed(2)} s / ${alone.peakMb.toFixed(0)} MB, ratio time ${(alone.seconds / theirs.seconds).toFixed(2)}, memory ${(alone.peakMb / theirs.peakMb).toFixed(2)}`;
  if (wasm) extra += `; forced dcm2niix WebAssembly ${wasm.seconds.toFixed(2)} s / ${wasm.peakMb.toFixed(0)} MB`;
  return (
    `nifti ${label}: veilgate ${ours.seconds.toFixed(2)} s / peak RSS ${ours.peakMb.toFixed(0)} MB, native dcm2niix ${theirs.seconds.toFixed(2)} s / ${theirs.peakMb.toFixed(0)} MB, ` +
    `ratio time ${t.toFixed(2)}, memory ${m.toFixed(2)} (${goal}: ${met ? 'met' : 'NOT met'})${extra}`
  );
}

export async function main(): Promise<void> {
  if (process.argv[2] === '--child') {
    const [dataDir, warm, study, series, converter] = process.argv.slice(3);
    await child(dataDir, warm, study, series, converter as Converter);
    process.exit(0); // nothing else to wait for (open keep-alive sockets would hold the process)
  }
  if (!fs.existsSync(NATIVE) || !fs.existsSync('/usr/bin/time')) {
    console.log('nifti: skipped (needs /usr/bin/dcm2niix and /usr/bin/time)');
    return;
  }
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'veilgate-bench-nifti-'));
  const dataDir = path.join(work, 'data');
  setLogSink(() => undefined);
  const cases: Case[] = [];
  let warm = '';
  const gateway = await startGateway(loadConfig({}, { host: '127.0.0.1', port: 0, dataDir, dimse: { ...loadConfig({}).dimse, enabled: false } }));
  try {
    // Small stacks each child converts first, so that timings are those of a warm server (a
    // conversion is cached, so each warm-up is a series of its own).
    const warmups: string[] = [];
    for (let i = 0; i < 4; i++) {
      const w = await added(gateway, () => synthetic(gateway, path.join(work, `warm-up-${i}`), i % 2 ? 'MR' : 'CT', 8, 128));
      warmups.push(`${w.study}/${w.series}`);
    }
    warm = warmups.join(',');
    const shared: [string, string, boolean][] = [
      ['Philips CT 512x512x28', 'dcm_qa_ct/In/Philips/S21570/S2010', true],
      ['GE CT tilt + uneven 512x512x28 (dcm2niix)', 'dcm_qa_ct/In/GE', false],
      ['Philips enhanced MR (dcm2niix)', 'dcm_qa_enh/In/Philips', false],
    ];
    for (const [label, rel, plain] of shared) {
      const folder = path.join(SHARED, rel);
      if (!fs.existsSync(folder)) continue;
      cases.push({ label, folder, plain, ...(await added(gateway, () => importFolder(folder, gateway.config).then(() => undefined))) });
    }
    const ct = path.join(work, 'synthetic-ct');
    cases.push({ label: 'synthetic CT 512x512x300', folder: ct, plain: true, ...(await added(gateway, () => synthetic(gateway, ct, 'CT', 300, 512))) });
    const mr = path.join(work, 'synthetic-mr');
    cases.push({ label: 'synthetic MR 256x256x60', folder: mr, plain: true, ...(await added(gateway, () => synthetic(gateway, mr, 'MR', 60, 256))) });
  } finally {
    await gateway.close();
  }
  try {
    for (const c of cases) {
      const theirs = await native(c.folder, work);
      const ours = await viaChild(dataDir, warm, c.study, c.series, 'auto');
      const alone = await viaChild(dataDir, warm, c.study, c.series, 'convert');
      const wasm = c.plain ? await viaChild(dataDir, warm, c.study, c.series, 'dcm2niix') : undefined;
      console.log(line(c.label, ours, theirs, c.plain, alone, wasm));
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

// Run directly: exit when done (open keep-alive sockets and pool threads would hold the process).
if (require.main === module) {
  main().then(
    () => process.exit(0),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
