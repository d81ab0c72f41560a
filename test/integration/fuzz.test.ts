/**
 * A seeded mutation fuzzer for the one ingest path, through both of its doors: STOW-RS
 * (single part, multipart, several cases in one body) and C-STORE on real associations.
 *
 * Cases are real files from ../shared/data, given a fresh SOP Instance UID and mutated
 * (test/support/mutations.ts): bit flips, truncations, corrupted element/item/sequence lengths,
 * VR swaps, huge declared counts, deep nesting, deflate damage and bombs, encapsulation damage,
 * duplicated and reordered elements, file meta damage; unmutated controls run among them.
 *
 * Every case must end in a documented failure status (STOW FailureReason or C-STORE status;
 * 0x0110, the gateway's own "processing failure", counts as a crash) or in a stored instance
 * that is intact: served by WADO-RS byte for byte as it is on disk, read by dcmdump without
 * error, its metadata and frames answered. Meanwhile the event loop must keep answering QIDO,
 * RSS must stay bounded, and at the end no file may be without its index row (or the reverse)
 * and nothing may be left in tmp.
 *
 *   FUZZ_SEED=<n>    another seed (default 20261201)
 *   FUZZ_CASES=<n>   another number of cases (default 2500)
 *   FUZZ_KEEP=<dir>  where cases that broke a rule are written for reproduction
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { startTestGateway, TestGateway, SHARED_DATA, multipartBody, parseMultipart, deidentified } from '../support/gateway';
import { loadConfig } from '../../src/config';
import { DEFAULT_LIMITS } from '../../src/limits';
import { Rng, Sample, FuzzCase, MutationClass, Expectation, loadSample, makeCase, applicable, topLevel, FRESH_UID_ROOT } from '../support/mutations';
import { cStoreBatch, StoreOutcome } from '../support/dimse-store';

jest.setTimeout(240_000);

const SEED = Number(process.env.FUZZ_SEED ?? 20261201) >>> 0;
const CASES = Number(process.env.FUZZ_CASES ?? 2500);
const MiB = 1024 * 1024;
const MAX_INSTANCE_BYTES = 4 * MiB;
/** Share of the cases that can go over DIMSE which do. */
const DIMSE_SHARE = 0.45;
const STOW_WORKERS = 3;
const DIMSE_WORKERS = 2;
const DIMSE_BATCH = 20;
/** RSS may grow this much over what it was once the gateway was up and the samples loaded. */
const RSS_HEADROOM_MB = 256;

const SAMPLES = [
  'pydicom/CT_small.dcm', // explicit VR little endian
  'pydicom/MR_small_implicit.dcm', // implicit VR little endian
  'pydicom/MR_small_bigendian.dcm', // explicit VR big endian
  'pydicom/image_dfl.dcm', // deflated
  'pydicom/MR_small_RLE.dcm', // RLE
  'pydicom/SC_rgb_rle_2frame.dcm', // RLE, encapsulated multi-frame
  'dcm_qa_ts/In/5.dcm', // JPEG lossless (process 14, first-order prediction)
  'pydicom/JPEG-lossy.dcm', // JPEG extended
  'pydicom/SC_rgb_jpeg_dcmtk.dcm', // JPEG baseline
  'pydicom/MR_small_jpeg_ls_lossless.dcm', // JPEG-LS
  'pydicom/MR_small_jp2klossless.dcm', // JPEG 2000
  'pydicom/JPEG2000.dcm', // JPEG 2000
  'highdicom/data/test_files/sm_image_jpegls.dcm', // JPEG-LS, 25 frames encapsulated
  'highdicom/data/test_files/sm_image.dcm', // native multi-frame
  'pydicom/rtdose.dcm', // implicit multi-frame
  'pydicom/nested_priv_SQ.dcm', // nested private sequences
  'pydicom/UN_sequence.dcm', // a sequence encoded as UN
  'pydicom/priv_SQ.dcm',
  'pydicom/test-SR.dcm', // comprehensive SR
  'pydicom/reportsi.dcm', // basic text SR
  'highdicom/data/test_files/seg_image_ct_binary.dcm', // SEG, implicit
  'dcmqi/data/segmentations/liver.dcm', // SEG, explicit
];

const WEIGHTS: [MutationClass, number][] = [
  ['control', 5],
  ['bitflip', 14],
  ['truncate', 10],
  ['length', 14],
  ['vr', 8],
  ['counts', 9],
  ['nesting', 8],
  ['deflate', 8],
  ['encapsulation', 10],
  ['reorder', 7],
  ['meta', 7],
];

/** STOW FailureReason / C-STORE failure statuses the gateway documents (README, src/errors.ts). */
const DOCUMENTED_FAILURES = new Map<number, string>([
  [0xc000, 'C000'],
  [0xa900, 'A900'],
  [0xc122, 'C122'],
  [0xa700, 'A700'],
  [0x0111, '0111'],
]);
/** "Our own unexpected failure (a bug), not the sender's" (src/errors.ts). */
const PROCESSING_FAILURE = 0x0110;
const DIMSE_SUCCESS = new Set([0x0000, 0xb000, 0xb006, 0xb007]);

type Json = Record<string, { vr?: string; Value?: unknown[] }>;
type Route = 'stow-single' | 'stow-multipart' | 'stow-batch' | 'dimse';

interface Result {
  c: FuzzCase;
  route: Route;
  outcome: 'stored' | 'refused' | 'crash';
  /** A failure code (C000, A700, HTTP413), or the success kind (0000, B000). */
  code: string;
  /** The stored (de-identified) SOP Instance UID, when stored and known. */
  storedUid?: string;
  observed: string;
  /** Several parts of one multipart request could not be told apart: checked as a group. */
  ambiguous?: boolean;
  /** The request the case went in, for a reproduction: every case of it and the answer. */
  unit?: { ids: number[]; boundary?: string; contentType?: string; response: string };
}

const hex4 = (n: number) => n.toString(16).toUpperCase().padStart(4, '0');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function mix(seed: number, i: number): number {
  let h = (seed ^ Math.imul(i + 0x9e37, 0x85ebca6b)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0;
  return (h ^ (h >>> 15)) >>> 0;
}

function weighted(rng: Rng): MutationClass {
  const total = WEIGHTS.reduce((n, [, w]) => n + w, 0);
  let x = rng.int(total);
  for (const [m, w] of WEIGHTS) if ((x -= w) < 0) return m;
  return 'bitflip';
}

function run(cmd: string, args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => resolve({ code: code ?? 1, stderr }));
  });
}

async function pool<T>(items: T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

/** A text element of the data set itself, as the sample holds it. */
function uidIn(s: Sample, tagHex: string): string | undefined {
  const n = topLevel(s, parseInt(tagHex, 16));
  return n ? s.body.toString('latin1', n.valueOffset, n.valueOffset + n.length).replace(/[\0 ]+$/, '') : undefined;
}

function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath ?? (e as unknown as { path: string }).path, e.name)));
}

describe('ingest fuzzer', () => {
  let gw: TestGateway;
  const limits = { ...DEFAULT_LIMITS };
  /** The gateway runs in this process: anything it throws past its own handlers lands here. */
  const uncaught: string[] = [];
  const onUncaught = (e: unknown) => uncaught.push(String((e as Error)?.stack ?? e));

  beforeAll(async () => {
    process.on('uncaughtException', onUncaught);
    process.on('unhandledRejection', onUncaught);
    gw = await startTestGateway({ maxInstanceBytes: MAX_INSTANCE_BYTES, dimse: { ...loadConfig({}).dimse, port: 0, maxAssociations: 16 } });
  });
  afterAll(async () => {
    await gw?.close();
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onUncaught);
  });

  test(`seed ${SEED}: ${CASES} mutated cases through STOW-RS and C-STORE`, async () => {
    const started = Date.now();
    const options = { maxInstanceBytes: MAX_INSTANCE_BYTES, maxNestingDepth: limits.maxNestingDepth, maxFrames: limits.maxFrames, maxDecodedPixelBytes: limits.maxDecodedPixelBytes };
    const samples: Sample[] = SAMPLES.map((name) => loadSample(SHARED_DATA, name));
    const id = deidentified(gw.dataDir);
    const dimsePort = gw.gateway.dimse!.port;
    const problems: string[] = [];
    const results: Result[] = [];
    const keepDir = process.env.FUZZ_KEEP ?? path.join(os.tmpdir(), `veilgate-fuzz-${SEED}`);

    const units = new Map<number, Result['unit']>();
    const keep = (light: FuzzCase, route: Route) => {
      const c = light.part10.length ? light : caseAt(light.id).c; // results keep no bytes: make the case again
      fs.mkdirSync(keepDir, { recursive: true });
      const base = path.join(keepDir, `case-${c.id}-${c.mutation}`);
      fs.writeFileSync(`${base}.dcm`, c.part10);
      if (c.dimse) fs.writeFileSync(`${base}.dataset-${c.dimse.ts}.bin`, c.dimse.dataset);
      const unit = units.get(c.id);
      let info = `${c.sample}\n${c.mutation}: ${c.detail}\nroute ${route}\nSOP Instance UID ${c.sopInstanceUID}, stored as ${c.sopInstanceUID ? id.uid(c.sopInstanceUID) : '?'}\n`;
      if (unit) {
        info += `request: cases ${unit.ids.join(', ')} (${unit.contentType ?? 'C-STORE, in this order'})\nanswer: ${unit.response}\n`;
        if (unit.contentType?.startsWith('multipart/')) fs.writeFileSync(`${base}.request.bin`, multipartBody(unit.ids.map((i) => caseAt(i).c.part10), unit.boundary).body);
        for (const other of unit.ids) if (other !== c.id) info += `  case ${other}: ${caseAt(other).c.mutation}: ${caseAt(other).c.detail} (${caseAt(other).c.sample}; UID ${caseAt(other).c.sopInstanceUID})\n`;
      }
      fs.writeFileSync(`${base}.txt`, info);
      return base;
    };
    const problem = (c: FuzzCase, route: Route, what: string) => {
      problems.push(`case ${c.id} [${c.mutation}] ${c.sample} via ${route}: ${what}\n    mutation: ${c.detail}\n    saved as ${keep(c, route)}.*`);
    };

    // Each sample unmutated (a fresh SOP Instance UID: the MR_small variants share theirs): which of
    // them the gateway stores. Controls of those must be stored again, by STOW-RS and C-STORE alike.
    const storable = new Set<string>();
    const baselineUids: string[] = [];
    for (const [k, s] of samples.entries()) {
      const control = makeCase(-1 - k, s, 'control', new Rng(mix(SEED, 0x7fff0000 + k)), options)!;
      const res = await fetch(`${gw.url}/studies`, { method: 'POST', headers: { 'Content-Type': 'application/dicom' }, body: control.part10 });
      const json = (await res.json()) as Json;
      const ref = json['00081199']?.Value?.[0] as Json | undefined;
      if (ref) {
        storable.add(s.name);
        baselineUids.push(String(ref['00081155'].Value![0]));
      }
    }

    // The plan: every case is made from its own seed, so it can be made again (here, and when sent).
    const caseAt = (i: number): { c: FuzzCase; rng: Rng } => {
      const rng = new Rng(mix(SEED, i));
      for (let attempt = 0; attempt < 12; attempt++) {
        const m = attempt < 8 ? weighted(rng) : 'bitflip';
        const candidates = samples.filter((s) => applicable(s, m));
        const s = rng.pick(candidates);
        const c = makeCase(i, s, m, rng.fork(attempt), options);
        if (!c) continue;
        if (c.dimse && c.dimse.dataset.length === 0) c.dimse = undefined; // C-STORE always carries a data set
        if (m === 'control' && storable.has(s.name)) c.expect = c.expectUnderLimit = 'stored';
        return { c, rng };
      }
      throw new Error(`no case could be made for index ${i}`);
    };
    const plan: { i: number; route: Route }[] = [];
    {
      const routeRng = new Rng(mix(SEED, 0xffffff));
      for (let i = 0; i < CASES; i++) {
        const { c } = caseAt(i);
        plan.push({ i, route: c.dimse && routeRng.chance(DIMSE_SHARE) ? 'dimse' : 'stow-single' });
      }
      // STOW cases grouped into requests: one part alone, one part in multipart, or several parts.
      const stow = plan.filter((p) => p.route !== 'dimse');
      const groupRng = new Rng(mix(SEED, 0xfffffe));
      for (let k = 0; k < stow.length; ) {
        const x = groupRng.next();
        const n = x < 0.4 ? 1 : x < 0.55 ? 1 : groupRng.range(2, 6);
        const route: Route = x < 0.4 ? 'stow-single' : x < 0.55 ? 'stow-multipart' : 'stow-batch';
        for (const p of stow.slice(k, k + n)) p.route = route;
        (stow[k] as { group?: number[] }).group = stow.slice(k, k + n).map((p) => p.i);
        k += n;
      }
    }
    const stowUnits = plan.filter((p) => (p as { group?: number[] }).group).map((p) => ({ route: p.route, cases: (p as { group?: number[] }).group! }));
    const dimseCases = plan.filter((p) => p.route === 'dimse').map((p) => p.i);
    const dimseUnits: number[][] = [];
    for (let k = 0; k < dimseCases.length; k += DIMSE_BATCH) dimseUnits.push(dimseCases.slice(k, k + DIMSE_BATCH));

    // Watchers: RSS, event loop delay, and QIDO answering throughout.
    global.gc?.();
    const rssStart = process.memoryUsage().rss;
    let rssMax = rssStart;
    const rssTimer = setInterval(() => (rssMax = Math.max(rssMax, process.memoryUsage().rss)), 100);
    const loopDelay = monitorEventLoopDelay({ resolution: 20 });
    loopDelay.enable();
    let running = true;
    const probes: { at: number; ms: number; status: number }[] = [];
    const prober = (async () => {
      while (running) {
        const t0 = performance.now();
        let status = 0;
        try {
          const r = await fetch(`${gw.url}/studies`, { signal: AbortSignal.timeout(10_000) });
          await r.arrayBuffer();
          status = r.status;
        } catch {
          status = -1;
        }
        const t1 = performance.now();
        probes.push({ at: t1, ms: t1 - t0, status });
        await sleep(Math.max(0, 1000 - (t1 - t0)));
      }
    })();
    const runStart = performance.now();

    const record = (r: Result) => {
      results.push(r);
      const e: Expectation | undefined = r.ambiguous ? undefined : r.route === 'dimse' ? dimseExpect(r.c) : r.c.expect;
      if (r.outcome === 'crash') problem(r.c, r.route, `crash: ${r.observed}`);
      else if (e === 'stored' && r.outcome !== 'stored') problem(r.c, r.route, `an unmutated instance that stores as it is was refused: ${r.observed}`);
      else if (e === 'A700' && !(r.code === 'A700' || r.code === 'HTTP413')) problem(r.c, r.route, `expected A700 (over a configured limit), got ${r.outcome} ${r.observed}`);
      else if (e === 'A900' && r.code !== 'A900') problem(r.c, r.route, `expected A900 (meta names another SOP class), got ${r.outcome} ${r.observed}`);
      else if (e === 'not-stored' && r.outcome === 'stored') problem(r.c, r.route, `broken beyond repair, yet stored: ${r.observed}`);
      // Keep what the report needs, not the bytes (they are made again for a reproduction).
      r.c = { ...r.c, part10: Buffer.alloc(0), dimse: r.c.dimse ? { ...r.c.dimse, dataset: Buffer.alloc(0) } : undefined };
    };
    const dimseExpect = (c: FuzzCase): Expectation | undefined => {
      if (c.dimse && c.dimse.dataset.length > MAX_INSTANCE_BYTES) return 'A700';
      if (c.expect === 'A700' && c.part10.length > MAX_INSTANCE_BYTES) return c.expectUnderLimit; // only the file was over the limit, not its data set
      return c.expect;
    };

    // ---------------------------------------------------------------- STOW-RS
    const failureCode = (item: Json): number | undefined => item['00081197']?.Value?.[0] as number | undefined;
    const sendStow = async (unit: { route: Route; cases: number[] }) => {
      const cases = unit.cases.map((i) => caseAt(i).c);
      const single = unit.route === 'stow-single';
      const boundary = `fuzz-${SEED}-${cases[0].id}-a0b1c2d3e4f5`;
      const req = single
        ? { body: cases[0].part10, contentType: 'application/dicom' }
        : multipartBody(cases.map((c) => c.part10), boundary);
      let res: Response;
      let text: string;
      try {
        res = await fetch(`${gw.url}/studies`, { method: 'POST', headers: { 'Content-Type': req.contentType, Accept: 'application/dicom+json' }, body: req.body, signal: AbortSignal.timeout(60_000) });
        text = await res.text();
      } catch (e) {
        for (const c of cases) record({ c, route: unit.route, outcome: 'crash', code: 'NET', observed: `no HTTP answer (${(e as Error).message})` });
        return;
      }
      const http = res.status;
      for (const c of cases) units.set(c.id, { ids: unit.cases, boundary, contentType: req.contentType, response: `HTTP ${http} ${text.slice(0, 4000)}` });
      if (single && http === 413) {
        const c = cases[0];
        const ok = c.part10.length > MAX_INSTANCE_BYTES;
        if (!ok) problem(c, unit.route, `HTTP 413 for ${c.part10.length} bytes, under the ${MAX_INSTANCE_BYTES}-byte limit`);
        record({ c, route: unit.route, outcome: 'refused', code: 'HTTP413', observed: 'HTTP 413' });
        return;
      }
      if (![200, 202, 409, 503].includes(http)) {
        for (const c of cases) record({ c, route: unit.route, outcome: http >= 500 ? 'crash' : 'refused', code: `HTTP${http}`, observed: `HTTP ${http}: ${text.slice(0, 200)}` });
        if (http < 500) for (const c of cases) problem(c, unit.route, `undocumented HTTP ${http} for a STOW-RS request: ${text.slice(0, 200)}`);
        return;
      }
      let json: Json;
      try {
        json = JSON.parse(text) as Json;
      } catch {
        for (const c of cases) record({ c, route: unit.route, outcome: 'crash', code: `HTTP${http}`, observed: `HTTP ${http} with a body that is not JSON: ${text.slice(0, 200)}` });
        return;
      }
      const referenced = (json['00081199']?.Value ?? []) as Json[];
      const failed = (json['00081198']?.Value ?? []) as Json[];
      const where = `HTTP ${http}`;
      if (referenced.length + failed.length !== cases.length) {
        for (const c of cases) problem(c, unit.route, `${where}: ${referenced.length} stored + ${failed.length} failed for ${cases.length} parts`);
      }
      if (http === 503 && !res.headers.get('retry-after')) for (const c of cases) problem(c, unit.route, 'HTTP 503 without Retry-After');
      if (http === 503 && failed.some((f) => failureCode(f) !== 0xa700)) for (const c of cases) problem(c, unit.route, 'HTTP 503 (our fault) with a failure that is not A700');
      if (http === 200 && failed.length) for (const c of cases) problem(c, unit.route, 'HTTP 200 with failed parts');
      if (http === 409 && referenced.length) for (const c of cases) problem(c, unit.route, 'HTTP 409 with stored parts');

      // Which answer is whose. Each sequence keeps part order; parts are matched by UID first, the
      // rest by order: exact when only one assignment keeps both orders, otherwise ambiguous.
      const mapped = cases.map((c) => (c.sopInstanceUID ? id.uid(c.sopInstanceUID) : undefined));
      const uidOf = (item: Json) => item['00081155']?.Value?.[0] as string | undefined;
      const answer: ({ kind: 'ref' | 'fail'; at: number } | undefined)[] = cases.map(() => undefined);
      const taken = { ref: new Set<number>(), fail: new Set<number>() };
      cases.forEach((_, k) => {
        if (!mapped[k]) return;
        for (const [kind, list] of [['ref', referenced], ['fail', failed]] as const) {
          const at = list.findIndex((it, j) => !taken[kind].has(j) && uidOf(it) === mapped[k]);
          if (at >= 0 && !answer[k]) {
            taken[kind].add(at);
            answer[k] = { kind, at };
          }
        }
      });
      const open = cases.map((_, k) => k).filter((k) => !answer[k]);
      const openRefs = referenced.map((_, j) => j).filter((j) => !taken.ref.has(j));
      const openFails = failed.map((_, j) => j).filter((j) => !taken.fail.has(j));
      const ordered = (trial: typeof answer) =>
        (['ref', 'fail'] as const).every((kind) => {
          const byPart = trial.map((a, k) => (a?.kind === kind ? [a.at, k] : undefined)).filter(Boolean) as number[][];
          return byPart.every(([at], i) => i === 0 || byPart[i - 1][0] < at);
        });
      const consistent: (typeof answer)[] = [];
      if (open.length && open.length === openRefs.length + openFails.length) {
        for (let mask = 0; mask < 1 << open.length; mask++) {
          const refsChosen = open.filter((_, i) => mask & (1 << i));
          if (refsChosen.length !== openRefs.length) continue;
          const trial = [...answer];
          let r = 0;
          let f = 0;
          for (const k of open) trial[k] = refsChosen.includes(k) ? { kind: 'ref', at: openRefs[r++] } : { kind: 'fail', at: openFails[f++] };
          if (ordered(trial)) consistent.push(trial);
        }
      }
      const ambiguous = consistent.length > 1;
      if (consistent.length) consistent[0].forEach((a, k) => (answer[k] = a));
      const groupOfAmbiguous: Result[] = [];
      cases.forEach((c, k) => {
        const a = answer[k];
        const base = { c, route: unit.route, ambiguous: ambiguous && open.includes(k) };
        let result: Result;
        if (a?.kind === 'ref') {
          const item = referenced[a.at];
          const warning = item['00081196']?.Value?.[0] as number | undefined;
          result = { ...base, outcome: 'stored', code: warning ? hex4(warning) : '0000', storedUid: uidOf(item), observed: `${where}, stored as ${uidOf(item)}${warning ? ` with warning ${hex4(warning)}` : ''}` };
          const url = item['00081190']?.Value?.[0] as string | undefined;
          if (!url || !url.endsWith(`/instances/${uidOf(item)}`)) problem(c, unit.route, `RetrieveURL ${url} does not name the stored instance ${uidOf(item)}`);
        } else if (a?.kind === 'fail') {
          const code = failureCode(failed[a.at]);
          if (code === PROCESSING_FAILURE) result = { ...base, outcome: 'crash', code: '0110', observed: `${where}, FailureReason 0110 (processing failure: the gateway's own bug)` };
          else {
            if (code === undefined || !DOCUMENTED_FAILURES.has(code)) problem(c, unit.route, `undocumented FailureReason ${code === undefined ? 'missing' : hex4(code)}`);
            result = { ...base, outcome: 'refused', code: code === undefined ? 'none' : hex4(code), observed: `${where}, FailureReason ${code === undefined ? 'missing' : hex4(code)}` };
          }
        } else result = { ...base, outcome: 'crash', code: 'MISSING', observed: `${where}, no answer attributable to this part` };
        record(result);
        if (result.ambiguous) groupOfAmbiguous.push(result);
      });
      if (groupOfAmbiguous.length) {
        // Whose answer is whose is not known; how many were stored is, and must fit what was sent.
        const storedHere = groupOfAmbiguous.filter((r) => r.outcome === 'stored').length;
        const mayStore = groupOfAmbiguous.filter((r) => !['A700', 'A900', 'not-stored'].includes(r.c.expect ?? '')).length;
        const mustStore = groupOfAmbiguous.filter((r) => r.c.expect === 'stored').length;
        if (storedHere > mayStore || storedHere < mustStore) {
          for (const r of groupOfAmbiguous) problem(r.c, unit.route, `${storedHere} of these ${groupOfAmbiguous.length} parts stored; ${mustStore} had to be and at most ${mayStore} could be`);
        }
      }
    };

    // ---------------------------------------------------------------- C-STORE
    const unexplainedDimse: Result[] = [];
    const sendDimse = async (unit: number[]) => {
      const cases = unit.map((i) => caseAt(i).c);
      const { outcomes, association, events } = await cStoreBatch('127.0.0.1', dimsePort, 'FUZZER', 'VEILGATE', cases.map((c) => c.dimse!), 60_000);
      const answer = outcomes.map((o, k) => `${cases[k].id}: ${o.status === undefined ? o.noResponse : hex4(o.status)}`).join(', ');
      for (const c of cases) units.set(c.id, { ids: unit, response: `association ${association}; ${answer}` });
      cases.forEach((c, k) => {
        const o: StoreOutcome = outcomes[k];
        if (o.status === undefined) {
          record({ c, route: 'dimse', outcome: 'crash', code: 'NORESP', observed: `no C-STORE response (${o.noResponse}; association ${association}; ${events.join(', ')})` });
        } else if (DIMSE_SUCCESS.has(o.status)) {
          const r: Result = { c, route: 'dimse', outcome: 'stored', code: hex4(o.status), storedUid: c.sopInstanceUID ? id.uid(c.sopInstanceUID) : undefined, observed: `C-STORE status ${hex4(o.status)}` };
          record(r);
        } else if (o.status === PROCESSING_FAILURE) {
          record({ c, route: 'dimse', outcome: 'crash', code: '0110', observed: `C-STORE status 0110 (processing failure: the gateway's own bug): ${o.comment ?? ''}` });
        } else {
          if (!DOCUMENTED_FAILURES.has(o.status)) problem(c, 'dimse', `undocumented C-STORE status ${hex4(o.status)} (${o.comment ?? ''})`);
          record({ c, route: 'dimse', outcome: 'refused', code: hex4(o.status), observed: `C-STORE status ${hex4(o.status)}: ${o.comment ?? ''}` });
        }
      });
    };

    await Promise.all([pool(stowUnits, STOW_WORKERS, sendStow), pool(dimseUnits, DIMSE_WORKERS, sendDimse)]);
    const runEnd = performance.now();
    running = false;
    await prober;
    loopDelay.disable();

    // ---------------------------------------------------------------- what is stored, and is it intact?
    await sleep(200);
    clearInterval(rssTimer);
    const db = new Database(path.join(gw.dataDir, 'index.sqlite'), { readonly: true, fileMustExist: true });
    const rows = db.prepare('SELECT sop_instance_uid AS sop, series_uid AS series, study_uid AS study, blob_key AS blobKey, size FROM instances').all() as {
      sop: string;
      series: string;
      study: string;
      blobKey: string;
      size: number;
    }[];
    db.close();
    const rowByUid = new Map(rows.map((r) => [r.sop, r]));
    const claimed = new Set<string>(baselineUids);
    for (const r of results) {
      if (r.outcome !== 'stored') continue;
      if (r.storedUid && rowByUid.has(r.storedUid)) claimed.add(r.storedUid);
      else if (r.route === 'dimse') unexplainedDimse.push(r); // the mutation changed its UID: accounted for below
      else problem(r.c, r.route, `acknowledged as stored (${r.storedUid}) but no index row has it`);
    }
    const unclaimed = rows.filter((r) => !claimed.has(r.sop));
    if (unclaimed.length > unexplainedDimse.length) {
      problems.push(`${unclaimed.length} index rows that no acknowledgement accounts for (only ${unexplainedDimse.length} C-STORE successes had an unknown UID): ${unclaimed.slice(0, 5).map((r) => r.sop).join(', ')}`);
    }

    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'veilgate-fuzz-check-'));
    const caseOfUid = new Map<string, Result>();
    for (const r of results) if (r.storedUid) caseOfUid.set(r.storedUid, r);
    const broken: string[] = [];
    // What was sent that must not come back: study and series UIDs, patient names and IDs.
    const sentUids = [...new Set(samples.flatMap((smp) => ['0020000D', '0020000E', '00100010', '00100020'].map((t) => uidIn(smp, t))).filter((u): u is string => !!u && u.length >= 6))];
    const intact = async (row: (typeof rows)[number]) => {
      // A row no answer named (its UID was changed by the mutation): the case whose UID it resembles.
      const tail = row.sop.slice(-16);
      const who = caseOfUid.get(row.sop) ?? results.find((r) => r.outcome === 'stored' && r.c.sopInstanceUID?.includes(tail));
      const fail = (what: string) => {
        if (who) problem(who.c, who.route, `stored instance ${row.sop} is not intact: ${what}`);
        else broken.push(`stored instance ${row.sop} (no case known) is not intact: ${what}`);
      };
      const base = `${gw.url}/studies/${row.study}/series/${row.series}/instances/${row.sop}`;
      const res = await fetch(base, { headers: { Accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' } });
      if (res.status !== 200) return fail(`WADO-RS instance answered ${res.status}`);
      const parts = parseMultipart(Buffer.from(await res.arrayBuffer()), res.headers.get('content-type') ?? '');
      if (parts.length !== 1) return fail(`WADO-RS instance answered ${parts.length} parts`);
      const onDisk = fs.readFileSync(path.join(gw.dataDir, 'files', row.blobKey));
      if (!parts[0].body.equals(onDisk) || onDisk.length !== row.size) return fail('WADO-RS bytes differ from the stored file or its indexed size');
      // De-identified on ingest: no UID that was sent (any made-up SOP Instance UID, any sample's
      // study or series UID) may be in a stored file; every one is remapped to 2.25.…
      const sent = [FRESH_UID_ROOT, ...sentUids];
      const leaked = sent.filter((u) => onDisk.includes(Buffer.from(u, 'latin1')));
      if (leaked.length) {
        const at = onDisk.indexOf(Buffer.from(leaked[0], 'latin1'));
        return fail(`the stored file still holds a value it was sent with (not de-identified): ${onDisk.toString('latin1', at, at + 64).split('\0')[0]}`);
      }
      if (!row.sop.startsWith('2.25.')) return fail(`indexed under ${row.sop}, which is not a remapped UID`);
      const file = path.join(work, `${row.sop}.dcm`);
      fs.writeFileSync(file, parts[0].body);
      const dump = await run('dcmdump', [file]);
      if (dump.code !== 0 || /^E:/m.test(dump.stderr)) return fail(`dcmdump: exit ${dump.code} ${dump.stderr.split('\n').filter((l) => l.startsWith('E:')).slice(0, 3).join(' | ')}`);
      fs.rmSync(file);
      const meta = await fetch(`${base}/metadata`);
      if (meta.status !== 200) return fail(`metadata answered ${meta.status}`);
      const [json] = (await meta.json()) as Json[];
      if (json?.['00080018']?.Value?.[0] !== row.sop) return fail('metadata names another instance');
      if (json['7FE00010']) {
        const frames = Math.max(1, Number(json['00280008']?.Value?.[0] ?? 1) || 1);
        const list = frames > 1 ? `1,${frames}` : '1';
        const fr = await fetch(`${base}/frames/${list}`, { headers: { Accept: 'multipart/related; type="application/octet-stream"; transfer-syntax=*' } });
        const body = Buffer.from(await fr.arrayBuffer());
        if (fr.status >= 500) return fail(`frames/${list} as stored answered ${fr.status}: ${body.toString('latin1').slice(0, 120)}`);
        if (fr.status === 200 && parseMultipart(body, fr.headers.get('content-type') ?? '').length !== list.split(',').length) return fail(`frames/${list} answered the wrong number of parts`);
      }
    };
    await pool(rows, 6, intact);
    fs.rmSync(work, { recursive: true, force: true });
    problems.push(...broken);

    // Orphans: every file has its row, every row its file, nothing in tmp.
    const files = new Set(filesUnder(path.join(gw.dataDir, 'files')));
    const keys = new Set(rows.map((r) => r.blobKey));
    const orphanFiles = [...files].filter((f) => !keys.has(f));
    const missingFiles = [...keys].filter((k) => !files.has(k));
    const tmpFiles = filesUnder(path.join(gw.dataDir, 'tmp'));

    // The process stayed up and answers.
    const last = await fetch(`${gw.url}/studies?limit=1`);

    // ---------------------------------------------------------------- report
    const stored = results.filter((r) => r.outcome === 'stored').length;
    const refused = results.filter((r) => r.outcome === 'refused').length;
    const crashes = results.filter((r) => r.outcome === 'crash').length + uncaught.length;
    const rssMaxMb = Math.round(rssMax / MiB);
    const lines = [`fuzz: ${results.length} cases, stored ${stored}, refused ${refused}, crashes ${crashes}, max RSS ${rssMaxMb} MB`];
    lines.push(`fuzz: seed ${SEED}; ${results.filter((r) => r.route !== 'dimse').length} by STOW-RS (${stowUnits.length} requests), ${results.filter((r) => r.route === 'dimse').length} by C-STORE (${dimseUnits.length} associations); ${((Date.now() - started) / 1000).toFixed(1)} s`);
    lines.push(`fuzz: samples stored as they are: ${storable.size} of ${samples.length}; refused as they are: ${samples.filter((s) => !storable.has(s.name)).map((s) => s.name.split('/').pop()).join(', ')}`);
    lines.push('fuzz: outcome codes by mutation class (stored: 0000 / B000 warning; refused: FailureReason or C-STORE status, HTTP413):');
    const classes = [...new Set(results.map((r) => r.c.mutation))];
    for (const m of classes) {
      const of = results.filter((r) => r.c.mutation === m);
      const tally = new Map<string, number>();
      for (const r of of) {
        const k = `${r.outcome === 'stored' ? 'stored ' : r.outcome === 'crash' ? 'CRASH ' : ''}${r.code}`;
        tally.set(k, (tally.get(k) ?? 0) + 1);
      }
      const parts = [...tally.entries()].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k}×${n}`);
      lines.push(`  ${m.padEnd(13)} ${String(of.length).padStart(4)} cases (${of.filter((r) => r.route === 'dimse').length} C-STORE): ${parts.join('  ')}`);
    }
    const probeOk = probes.filter((p) => p.status === 200 && p.ms < 1000);
    const gaps = [runStart, ...probeOk.map((p) => p.at), runEnd].map((t, k, all) => (k ? t - all[k - 1] : 0));
    const maxGap = Math.max(...gaps);
    const maxProbe = Math.max(...probes.map((p) => p.ms));
    lines.push(
      `fuzz: QIDO during the run: ${probes.length} probes, slowest ${Math.round(maxProbe)} ms, longest wait for an answer under 1 s ${Math.round(maxGap)} ms; event loop delay max ${Math.round(loopDelay.max / 1e6)} ms; RSS ${Math.round(rssStart / MiB)} -> max ${rssMaxMb} MB`,
    );
    lines.push(`fuzz: ${results.filter((r) => r.ambiguous).length} parts of multipart requests whose answers could only be checked as a group`);
    lines.push(`fuzz: ${rows.length} index rows, ${files.size} files, ${orphanFiles.length} files without a row, ${missingFiles.length} rows without a file, ${tmpFiles.length} files in tmp; ${unexplainedDimse.length} C-STORE successes under a UID the mutation changed`);
    if (problems.length) lines.push(`fuzz: ${problems.length} problems; cases written to ${keepDir}`, ...problems.map((p) => `  ${p.split('\n')[0].slice(0, 400)}`));
    process.stdout.write(lines.join('\n') + '\n');

    expect(uncaught).toEqual([]);
    expect(problems.slice(0, 40)).toEqual([]);
    expect(crashes).toBe(0);
    expect(results.length).toBe(CASES);
    expect(stored + refused).toBe(CASES);
    expect(results.filter((r) => r.route === 'dimse').length).toBeGreaterThanOrEqual(Math.min(300, CASES * 0.25));
    expect(last.status).toBe(200);
    expect(maxGap).toBeLessThan(3000);
    expect(rssMax - rssStart).toBeLessThan(RSS_HEADROOM_MB * MiB);
    expect({ orphanFiles, missingFiles, tmpFiles }).toEqual({ orphanFiles: [], missingFiles: [], tmpFiles: [] });
  });
});
