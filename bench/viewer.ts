/**
 * Viewer-grade WADO-RS benchmark: what a zero-footprint viewer asks for when it opens a study.
 * - a frame of a single-frame CT slice (Philips 512×512 from ../shared/data) as stored
 *   (`multipart/related; type="application/octet-stream"; transfer-syntax=*`),
 * - frame 50 of a 100-frame object (a Multi-frame Grayscale Word SC of 512×512×16 bit,
 *   synthesised here with the project's writer: ../shared/data has nothing with 100 frames),
 * - rendered JPEG of the instance and of frame 1 (and of frame 50 of the multi-frame object),
 * - study metadata: the first request after STOW ("cold", one sample), then repeats without
 *   and with If-None-Match (the ETag of the first answer; 304 when the server supports it).
 * Latencies are nearest-rank p50/p95 over N sequential requests after a warm-up, reading the
 * whole body. Where Debian's orthanc and orthanc-dicomweb are installed, the same files go to
 * a throw-away Orthanc on loopback (../shared/tools/orthanc-peer.sh) and the same requests
 * run against its DICOMweb root, as Veilgate / Orthanc ratios (below 1: Veilgate is faster).
 * Each server's UIDs come from its own STOW answer, since Veilgate de-identifies (remaps UIDs).
 * Run with `npm run build && node dist/bench/viewer.js` (VIEWER_BENCH_N to change N).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadConfig } from '../src/config';
import { startGateway } from '../src/server';
import { setLogSink } from '../src/log';
import { Tags } from '../src/dicom/tags';
import { encodeText } from '../src/dicom/values';
import { writePart10 } from '../src/dicom/write';
import { TS } from '../src/dicom/transfer-syntax';
import { syntheticDataset } from '../src/synthetic/instances';
import { hasCommand, ms, mb, multipartBody, percentile, runIfMain } from './util';

const N = Number(process.env.VIEWER_BENCH_N ?? 200);
const WARMUP = 10;
const FRAMES = 100;
const SIZE = 512;
const FRAME_OF_INTEREST = 50;
const PHILIPS_CT = path.resolve(__dirname, '../../../shared/data/dcm_qa_ct/In/Philips/S21570/S2010');
const ORTHANC_PEER = path.resolve(__dirname, '../../../shared/tools/orthanc-peer.sh');
const MULTIFRAME_GRAYSCALE_WORD_SC = '1.2.840.10008.5.1.4.1.1.7.3';

const FRAME_ACCEPT = 'multipart/related; type="application/octet-stream"; transfer-syntax=*';
const JSON_ACCEPT = 'application/dicom+json';
const JPEG_ACCEPT = 'image/jpeg';

/** A 100-frame 512×512 16-bit Multi-frame Grayscale Word SC, and the bytes of one frame to check against. */
export function multiframeFile(): { bytes: Buffer; frame: Buffer } {
  const { dataset: ds, uids, pixelData } = syntheticDataset({ rows: SIZE, columns: SIZE, frames: FRAMES, seriesDescription: 'Synthetic multi-frame', patientID: 'SYNMF' });
  const text = (t: number, vr: string, v: string) => ds.set(t, { tag: t, vr, value: encodeText(v, vr) });
  text(Tags.SOPClassUID, 'UI', MULTIFRAME_GRAYSCALE_WORD_SC);
  text(Tags.ImageType, 'CS', 'DERIVED\\SECONDARY');
  text(0x00080064, 'CS', 'WSD'); // ConversionType
  text(0x00280301, 'CS', 'NO'); // BurnedInAnnotation: Veilgate refuses SC without it
  text(0x00181063, 'DS', '40'); // FrameTime, what the pointer below names
  // FrameIncrementPointer (AT) → FrameTime (0018,1063)
  ds.set(0x00280009, { tag: 0x00280009, vr: 'AT', value: new Uint8Array([0x18, 0x00, 0x63, 0x10]) });
  text(0x00281054, 'LO', 'US'); // RescaleType, required with RescaleIntercept in this IOD
  text(0x20500020, 'CS', 'IDENTITY'); // PresentationLUTShape, required for MONOCHROME2 here
  text(0x00200020, 'CS', ''); // PatientOrientation (Type 2C: no patient-relative orientation)
  text(0x00281050, 'DS', '40'); // WindowCenter / WindowWidth so both servers render the same window
  text(0x00281051, 'DS', '400');
  // Attributes of the CT Image and Image Plane modules that do not belong in an SC image.
  for (const t of [0x00180060, 0x00185100, 0x00180050, 0x00200032, 0x00200037, 0x00200052, 0x00201040, 0x00280030]) ds.delete(t);
  const written = writePart10(ds, { sopClassUID: MULTIFRAME_GRAYSCALE_WORD_SC, sopInstanceUID: uids.sopInstanceUID, transferSyntaxUID: TS.ExplicitVRLittleEndian });
  const frameBytes = SIZE * SIZE * 2;
  const frame = Buffer.from(pixelData.subarray((FRAME_OF_INTEREST - 1) * frameBytes, FRAME_OF_INTEREST * frameBytes));
  return { bytes: Buffer.concat(written.chunks), frame };
}

interface InstanceRef {
  study: string;
  series: string;
  instance: string;
}

/** STOW one Part 10 file; the stored UIDs are taken from the server's answer (RetrieveURL, else the referenced UIDs). */
async function stow(root: string, file: Buffer): Promise<InstanceRef> {
  const { body, contentType } = multipartBody([file]);
  const res = await fetch(`${root}/studies`, { method: 'POST', headers: { 'Content-Type': contentType, Accept: JSON_ACCEPT }, body });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`STOW to ${root}: ${res.status} ${text.slice(0, 500)}`);
  const answer = JSON.parse(text);
  const ref = answer['00081199']?.Value?.[0];
  const url: string | undefined = ref?.['00081190']?.Value?.[0];
  const m = url && /\/studies\/([^/]+)\/series\/([^/]+)\/instances\/([^/?]+)/.exec(url);
  if (m) return { study: m[1], series: m[2], instance: m[3] };
  // No RetrieveURL: ask the server where the referenced instance went (QIDO by SOPInstanceUID).
  const sop: string = ref?.['00081155']?.Value?.[0];
  const studyURL: string | undefined = answer['00081190']?.Value?.[0];
  const study = studyURL && /\/studies\/([^/?]+)/.exec(studyURL)?.[1];
  if (!sop || !study) throw new Error(`STOW to ${root}: no usable reference in ${text.slice(0, 300)}`);
  const found = (await (await fetch(`${root}/studies/${study}/instances?SOPInstanceUID=${sop}`, { headers: { Accept: JSON_ACCEPT } })).json()) as Record<string, { Value: string[] }>[];
  return { study, series: found[0]['0020000E'].Value[0], instance: sop };
}

interface Sample {
  times: number[];
  status: Map<number, number>;
  bytes: number;
  headers?: Headers;
  body?: Buffer;
}

/** One GET reading the whole body. */
async function get(url: string, headers: Record<string, string>): Promise<{ ms: number; status: number; body: Buffer; headers: Headers }> {
  const t0 = performance.now();
  const res = await fetch(url, { headers });
  const body = Buffer.from(await res.arrayBuffer());
  return { ms: performance.now() - t0, status: res.status, body, headers: res.headers };
}

/** Warm-up, then `n` sequential GETs; any status other than `ok` fails the measure. */
async function timeGets(url: string, headers: Record<string, string>, ok: number[], n = N, warmup = WARMUP): Promise<Sample> {
  const s: Sample = { times: [], status: new Map(), bytes: 0 };
  for (let i = 0; i < warmup + n; i++) {
    const r = await get(url, headers);
    if (!ok.includes(r.status)) throw new Error(`GET ${url}: ${r.status} ${r.body.subarray(0, 300).toString()}`);
    if (i < warmup) continue;
    s.times.push(r.ms);
    s.status.set(r.status, (s.status.get(r.status) ?? 0) + 1);
    s.bytes = r.body.length;
    s.headers = r.headers;
    s.body = r.body;
  }
  return s;
}

interface Row {
  label: string;
  p50: number;
  p95: number;
  note: string;
}

type Results = Map<string, Row | string>; // a string: the measure could not be taken (why)

const LABELS = {
  frameCT: 'frame 1 of a CT slice (512x512, as stored)',
  frameMF: `frame ${FRAME_OF_INTEREST} of a ${FRAMES}-frame object`,
  renderedInstance: 'rendered JPEG, CT instance',
  renderedFrame: 'rendered JPEG, CT frames/1',
  renderedMF: `rendered JPEG, frames/${FRAME_OF_INTEREST} of ${FRAMES}-frame`,
  metaCold: 'study metadata, cold (first request, 1 sample)',
  metaRepeat: 'study metadata, repeat (200)',
  metaInm: 'study metadata, repeat with If-None-Match',
};
type Key = keyof typeof LABELS;

function statusNote(s: Sample): string {
  return [...s.status].map(([code, count]) => (s.status.size === 1 ? `${code}` : `${count}×${code}`)).join(' ');
}

/** Every measure against one DICOMweb root. Fails soft per measure, so one unsupported request does not hide the rest. */
async function measureServer(root: string, ct: InstanceRef, ctStudyInstances: number, mf: InstanceRef, expectedFrame: Buffer): Promise<Results> {
  const out: Results = new Map();
  const inst = (r: InstanceRef) => `${root}/studies/${r.study}/series/${r.series}/instances/${r.instance}`;
  const attempt = async (key: Key, fn: () => Promise<Row>) => {
    try {
      out.set(key, await fn());
    } catch (e) {
      out.set(key, `failed: ${(e as Error).message.split('\n')[0].slice(0, 160)}`);
    }
  };
  const row = (key: Key, s: Sample, note: string): Row => ({ label: LABELS[key], p50: percentile(s.times, 0.5), p95: percentile(s.times, 0.95), note });

  // Study metadata first, so the first request is the first this study has seen since STOW.
  const metaURL = `${root}/studies/${ct.study}/metadata`;
  let etag: string | null = null;
  await attempt('metaCold', async () => {
    const r = await get(metaURL, { Accept: JSON_ACCEPT });
    if (r.status !== 200) throw new Error(`${r.status} ${r.body.subarray(0, 200).toString()}`);
    const count = (JSON.parse(r.body.toString()) as unknown[]).length;
    if (count !== ctStudyInstances) throw new Error(`metadata lists ${count} instances, expected ${ctStudyInstances}`);
    etag = r.headers.get('etag');
    return { label: LABELS.metaCold, p50: r.ms, p95: r.ms, note: `${count} instances, ${(r.body.length / 1024).toFixed(0)} KB JSON` };
  });
  await attempt('metaRepeat', async () => {
    const s = await timeGets(metaURL, { Accept: JSON_ACCEPT }, [200]);
    const enc = s.headers?.get('content-encoding');
    return row('metaRepeat', s, `${statusNote(s)}, ${(s.bytes / 1024).toFixed(0)} KB${enc ? ` (${enc} on the wire)` : ''}`);
  });
  await attempt('metaInm', async () => {
    if (!etag) {
      // No ETag to send back: a viewer can only repeat the plain request.
      const s = await timeGets(metaURL, { Accept: JSON_ACCEPT }, [200]);
      return row('metaInm', s, `sends no ETag, so a plain repeat: ${statusNote(s)}`);
    }
    const s = await timeGets(metaURL, { Accept: JSON_ACCEPT, 'If-None-Match': etag }, [200, 304]);
    return row('metaInm', s, statusNote(s));
  });

  await attempt('frameCT', async () => {
    const s = await timeGets(`${inst(ct)}/frames/1`, { Accept: FRAME_ACCEPT }, [200]);
    return row('frameCT', s, `${statusNote(s)}, ${(s.bytes / 1024).toFixed(0)} KB multipart`);
  });
  await attempt('frameMF', async () => {
    const s = await timeGets(`${inst(mf)}/frames/${FRAME_OF_INTEREST}`, { Accept: FRAME_ACCEPT }, [200]);
    const right = s.body!.indexOf(expectedFrame) >= 0;
    if (!right) throw new Error(`frame ${FRAME_OF_INTEREST} answer does not contain the expected pixels`);
    return row('frameMF', s, `${statusNote(s)}, ${(s.bytes / 1024).toFixed(0)} KB, pixels checked`);
  });
  for (const [key, url] of [
    ['renderedInstance', `${inst(ct)}/rendered`],
    ['renderedFrame', `${inst(ct)}/frames/1/rendered`],
    ['renderedMF', `${inst(mf)}/frames/${FRAME_OF_INTEREST}/rendered`],
  ] as [Key, string][]) {
    await attempt(key, async () => {
      const s = await timeGets(url, { Accept: JPEG_ACCEPT }, [200]);
      const jpeg = s.body![0] === 0xff && s.body![1] === 0xd8;
      if (!jpeg) throw new Error(`not a JPEG (${s.headers?.get('content-type')})`);
      return row(key, s, `${statusNote(s)}, ${(s.bytes / 1024).toFixed(0)} KB JPEG`);
    });
  }
  return out;
}

function pad(s: string, n: number, right = false): string {
  return right ? s.padStart(n) : s.padEnd(n);
}

function printTable(ours: Results, theirs: Results | undefined): void {
  const head = ['measure', 'veilgate p50', 'p95', ...(theirs ? ['orthanc p50', 'p95', 'ratio p50', 'ratio p95'] : []), 'notes'];
  const rows: string[][] = [];
  for (const key of Object.keys(LABELS) as Key[]) {
    const a = ours.get(key);
    const b = theirs?.get(key);
    const cells = [LABELS[key]];
    const notes: string[] = [];
    const p95 = (r: Row) => (key === 'metaCold' ? '-' : `${ms(r.p95)} ms`);
    if (typeof a === 'object') cells.push(`${ms(a.p50)} ms`, p95(a)), notes.push(`veilgate ${a.note}`);
    else cells.push('-', '-'), notes.push(`veilgate ${a ?? 'not measured'}`);
    if (theirs) {
      if (typeof b === 'object') cells.push(`${ms(b.p50)} ms`, p95(b)), notes.push(`orthanc ${b.note}`);
      else cells.push('-', '-'), notes.push(`orthanc ${b ?? 'not measured'}`);
      const both = typeof a === 'object' && typeof b === 'object';
      cells.push(both ? (a.p50 / b.p50).toFixed(2) : '-', both && key !== 'metaCold' ? (a.p95 / b.p95).toFixed(2) : '-');
    }
    cells.push(notes.join('; '));
    rows.push(cells);
  }
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => '| ' + cells.map((c, i) => pad(c, i === cells.length - 1 ? 0 : widths[i], i > 0 && i < cells.length - 1)).join(' | ') + ' |';
  console.log(line(head));
  console.log('|' + widths.map((w, i) => '-'.repeat(i === widths.length - 1 ? head[i].length + 2 : w + 2)).join('|') + '|');
  for (const r of rows) console.log(line(r));
}

/** Upload the CT series (one STOW per file, in file order) and the multi-frame object; returns the stored references. */
async function upload(root: string, ctFiles: Buffer[], slice: number, mfFile: Buffer): Promise<{ ct: InstanceRef; mf: InstanceRef; seconds: number }> {
  const t0 = performance.now();
  const refs: InstanceRef[] = [];
  for (const f of ctFiles) refs.push(await stow(root, f));
  const mf = await stow(root, mfFile);
  if (new Set(refs.map((r) => r.study)).size !== 1) throw new Error(`${root}: the CT slices landed in more than one study`);
  return { ct: refs[slice], mf, seconds: (performance.now() - t0) / 1000 };
}

export async function main(): Promise<void> {
  if (!fs.existsSync(PHILIPS_CT)) {
    console.log(`viewer: skipped (${PHILIPS_CT} is missing)`);
    return;
  }
  const ctNames = fs
    .readdirSync(PHILIPS_CT)
    .filter((f) => /^I\d+$/.test(f))
    .sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)));
  const ctFiles = ctNames.map((f) => fs.readFileSync(path.join(PHILIPS_CT, f)));
  const slice = Math.floor(ctFiles.length / 2);
  const mf = multiframeFile();
  console.log(
    `viewer: Philips CT study of ${ctFiles.length} slices (${mb(ctFiles.reduce((n, b) => n + b.length, 0))} MB; frame and rendered requests on ${ctNames[slice]}), ` +
      `synthetic ${FRAMES}-frame ${SIZE}x${SIZE} 16-bit Multi-frame Grayscale Word SC (${mb(mf.bytes.length)} MB); N=${N} after ${WARMUP} warm-up requests, sequential`,
  );

  let errorLines = 0;
  setLogSink((line) => {
    if (line.includes('"level":"error"')) errorLines++;
  });
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'veilgate-bench-viewer-'));
  const gateway = await startGateway(loadConfig({}, { host: '127.0.0.1', port: 0, dataDir: path.join(work, 'data'), dimse: { ...loadConfig({}).dimse, enabled: false } }));
  let ours: Results;
  let theirs: Results | undefined;
  try {
    const root = `${gateway.config.publicUrl}/dicom-web`;
    const up = await upload(root, ctFiles, slice, mf.bytes);
    console.log(`viewer: veilgate (in-process, de-identifying) stored ${ctFiles.length + 1} instances by STOW in ${up.seconds.toFixed(2)} s`);
    ours = await measureServer(root, up.ct, ctFiles.length, up.mf, mf.frame);
  } finally {
    await gateway.close();
    fs.rmSync(work, { recursive: true, force: true });
  }

  if (hasCommand('Orthanc') && fs.existsSync('/usr/share/orthanc/plugins/libOrthancDicomWeb.so') && fs.existsSync(ORTHANC_PEER)) {
    const env = execFileSync('bash', [ORTHANC_PEER, 'start'], { encoding: 'utf8' });
    const vars = Object.fromEntries([...env.matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1], m[2]]));
    try {
      const root = vars.ORTHANC_DICOMWEB;
      const system = (await (await fetch(root.replace(/\/dicom-web$/, '/system'))).json()) as { Version?: string };
      const plugin = await (await fetch(root.replace(/\/dicom-web$/, '/plugins/dicom-web'))).json().catch(() => ({})) as { Version?: string };
      const up = await upload(root, ctFiles, slice, mf.bytes);
      console.log(`viewer: orthanc ${system.Version ?? '?'} with DICOMweb plugin ${plugin.Version ?? '?'} (separate process) stored ${ctFiles.length + 1} instances by STOW in ${up.seconds.toFixed(2)} s`);
      theirs = await measureServer(root, up.ct, ctFiles.length, up.mf, mf.frame);
    } finally {
      execFileSync('bash', [ORTHANC_PEER, 'stop', vars.ORTHANC_PID, vars.ORTHANC_DIR]);
    }
  } else {
    console.log('viewer: orthanc skipped (Debian orthanc and orthanc-dicomweb are not installed: apt-get install -y orthanc orthanc-dicomweb)');
  }
  printTable(ours, theirs);
  if (theirs) console.log('ratios are veilgate / orthanc latency: below 1, veilgate answers faster');
  if (errorLines) console.log(`gateway logged ${errorLines} error line(s)`);
}

runIfMain(module, main);
