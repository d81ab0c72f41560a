/**
 * Runs a corpus through a real gateway, in process, the way test/support/gateway.ts starts
 * one: a fresh data directory, a free port, DIMSE off, the log captured. Everything the
 * gateway then holds is collected for scoring: every file under the data directory (the
 * SQLite index and its journal included, read while the gateway still runs), the STOW-RS,
 * QIDO-RS and metadata answers, and the log lines.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config';
import { startGateway } from '../../src/server';
import { setLogSink } from '../../src/log';
import { DeidOptions } from '../../src/deid/options';
import { CorpusInstance, Region } from '../../src/synthetic/deid-corpus';
import { multipartBody } from '../util';
import { readSiteSecret } from './uid-map';

/** A site's pixel recipe: which images carry burned-in text, and where (deid.pixelRecipes). */
export interface PixelRecipe {
  name: string;
  match: Record<string, string | number | { contains: string } | { startsWith: string } | { matches: string }>;
  regions: Region[];
}

export interface GatewayRunOptions {
  /** De-identification options on top of the defaults (the failing-scorer test keeps everything). */
  deidOptions?: Partial<DeidOptions>;
  pixelRecipes: PixelRecipe[];
  batchSize?: number;
  /** Leave the data directory in place (its path is in the output) for a closer look. */
  keepDataDir?: boolean;
}

/** A text the gateway gave out: a response body or a log line, with where it came from. */
export interface Answer {
  label: string;
  text: string;
}

export interface StowSummary {
  sent: number;
  stored: number;
  /** Failed instances by FailureReason, as hex ("0xC000"). */
  refused: Record<string, number>;
  /** Rejection reasons the log gives, by kind. */
  rejectedKinds: Record<string, number>;
  /** FailureReason of each failed instance, by the SOP Instance UID the response names. */
  failedBySop: Map<string, string>;
  /** Values the gateway's last sweep changed (each a rule the profile table missed), by tag path. */
  sweptPaths: Record<string, number>;
}

export interface GatewayOutput {
  dataDir: string;
  secret: Buffer;
  stow: StowSummary;
  /** Every file under the data directory but the site secret, relative path and bytes. */
  files: { name: string; bytes: Buffer }[];
  answers: Answer[];
  logLines: string[];
}

type Json = Record<string, { vr: string; Value?: unknown[] }>;

function filesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

async function getText(url: string): Promise<string> {
  const res = await fetch(url, { headers: { Accept: 'application/dicom+json' } });
  if (res.status !== 200 && res.status !== 204) throw new Error(`GET ${url}: ${res.status}`);
  return res.status === 204 ? '[]' : res.text();
}

/** Every page of a QIDO-RS search. */
async function qidoAll(base: string, level: string, answers: Answer[]): Promise<Json[]> {
  const all: Json[] = [];
  for (let offset = 0; ; offset += 1000) {
    const text = await getText(`${base}/${level}?includefield=all&limit=1000&offset=${offset}`);
    answers.push({ label: `QIDO ${level} offset ${offset}`, text });
    const page = JSON.parse(text) as Json[];
    all.push(...page);
    if (page.length < 1000) return all;
  }
}

async function stowAll(url: string, corpus: CorpusInstance[], batchSize: number, answers: Answer[]): Promise<Omit<StowSummary, 'rejectedKinds' | 'sweptPaths'>> {
  const summary = { sent: corpus.length, stored: 0, refused: {} as Record<string, number>, failedBySop: new Map<string, string>() };
  for (let i = 0; i < corpus.length; i += batchSize) {
    const { body, contentType } = multipartBody(corpus.slice(i, i + batchSize).map((c) => c.bytes));
    const res = await fetch(`${url}/studies`, { method: 'POST', headers: { 'Content-Type': contentType, Accept: 'application/dicom+json' }, body });
    const text = await res.text();
    answers.push({ label: `STOW-RS response ${i / batchSize + 1}`, text });
    if (![200, 202, 409].includes(res.status)) throw new Error(`STOW-RS answered ${res.status}: ${text.slice(0, 200)}`);
    const json = JSON.parse(text) as Record<string, { Value?: Json[] }>;
    summary.stored += json['00081199']?.Value?.length ?? 0;
    for (const failed of json['00081198']?.Value ?? []) {
      const reason = `0x${Number(failed['00081197']?.Value?.[0] ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
      summary.refused[reason] = (summary.refused[reason] ?? 0) + 1;
      const sop = failed['00081155']?.Value?.[0];
      if (typeof sop === 'string') summary.failedBySop.set(sop, reason);
    }
  }
  return summary;
}

/** The de-identification warnings of the last sweep, by tag path with item numbers folded. */
function sweptPaths(logLines: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of logLines) {
    if (!line.includes('"event":"deid-sweep"')) continue;
    const path = String((JSON.parse(line) as { path?: string }).path ?? '').replace(/\[\d+\]/g, '[]');
    out[path] = (out[path] ?? 0) + 1;
  }
  return out;
}

function rejectedKinds(logLines: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of logLines) {
    if (!line.includes('"rejected"')) continue;
    const reason = String((JSON.parse(line) as { reason?: string }).reason ?? 'unknown');
    out[reason] = (out[reason] ?? 0) + 1;
  }
  return out;
}

export async function runThroughGateway(corpus: CorpusInstance[], options: GatewayRunOptions): Promise<GatewayOutput> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'veilgate-deid-score-'));
  const logLines: string[] = [];
  setLogSink((line) => logLines.push(line));
  const base = loadConfig({});
  // pixelRecipes rides along in deid; a gateway that does not know it yet ignores it.
  const deid = { ...base.deid, options: { ...base.deid.options, ...options.deidOptions }, pixelRecipes: options.pixelRecipes };
  const config = loadConfig({}, { host: '127.0.0.1', port: 0, dataDir, dimse: { ...base.dimse, enabled: false }, deid });
  const gateway = await startGateway(config);
  const answers: Answer[] = [];
  try {
    const url = `${gateway.config.publicUrl}/dicom-web`;
    const stow = await stowAll(url, corpus, options.batchSize ?? 50, answers);
    const studies = await qidoAll(url, 'studies', answers);
    await qidoAll(url, 'series', answers);
    await qidoAll(url, 'instances', answers);
    for (const s of studies) {
      const uid = String(s['0020000D']?.Value?.[0] ?? '');
      answers.push({ label: `metadata of study ${uid}`, text: await getText(`${url}/studies/${uid}/metadata`) });
    }
    // Read while the gateway runs, so the SQLite write-ahead log is still there.
    const files = filesUnder(dataDir)
      .filter((f) => path.basename(f) !== 'secret.key')
      .map((f) => ({ name: path.relative(dataDir, f), bytes: fs.readFileSync(f) }));
    return { dataDir, secret: readSiteSecret(dataDir), stow: { ...stow, rejectedKinds: rejectedKinds(logLines), sweptPaths: sweptPaths(logLines) }, files, answers, logLines };
  } finally {
    await gateway.close();
    setLogSink((line) => process.stdout.write(line + '\n'));
    if (!options.keepDataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  }
}
