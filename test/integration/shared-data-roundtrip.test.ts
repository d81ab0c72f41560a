/**
 * Round trip of the whole shared data set (../shared/data): every file is sent to a real
 * gateway with STOW-RS, one file per request, as it is. The gateway de-identifies on ingest
 * (PS3.15 Annex E, default options); it runs here with acceptBurnedIn so that ultrasound and
 * secondary captures are stored too and the codec sees every file (a separate test checks that
 * the default configuration refuses them). Broken and non-DICOM files must be refused and
 * leave nothing behind; everything else must be stored and retrieved with WADO-RS. Independent
 * readers then check the stored copy against the file sent: pydicom
 * (test/support/pydicom_compare.py, run once for all files with Debian's /usr/bin/python3)
 * finds the same pixels and geometry, the instance UIDs replaced by the gateway's keyed
 * mapping (mapUid with the site secret) and the patient's identity gone; dcmtk's dcmdump reads
 * it; and dicom3tools' dciodvfy finds no IOD conformance error in it that the original does not
 * have.
 */
import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { loadConfig } from '../../src/config';
import { mapUid } from '../../src/deid/keyed';
import { SHARED_DATA, TestGateway, parseMultipart, startTestGateway } from '../support/gateway';
import { baselineOf, dciodvfy, newLines } from '../support/dciodvfy';

jest.setTimeout(120_000);

const PYTHON = '/usr/bin/python3'; // Debian's python3 has pydicom 2.3 and numpy; the pyenv one on PATH does not
const DCMDUMP = '/usr/bin/dcmdump';
const COMPARE_SCRIPT = path.resolve(__dirname, '../support/pydicom_compare.py');
const CANNOT_UNDERSTAND = 0xc000;
const DUPLICATE_CONFLICT = 0x0111; // PS3.7 C.5.8: Duplicate SOP Instance
const SOP_CLASS_MISMATCH = 0xa900;
const RETRIEVE_ACCEPT = 'multipart/related; type="application/dicom"; transfer-syntax=*';

/** The default de-identification, accepting pixel data that may carry burned-in identity. */
const ACCEPTING_BURNED_IN = { deid: { ...loadConfig({}).deid, acceptBurnedIn: true } };

/** The site secret a gateway made on first start (src/deid/secret.ts). */
function siteSecret(dataDir: string): Buffer {
  const hex = fs.readFileSync(path.join(dataDir, 'secret.key'), 'utf8').trim();
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new Error(`${dataDir}/secret.key is not 64 hex digits`);
  return Buffer.from(hex, 'hex');
}

// ----- which files, and what the gateway must do with them -----

const SKIPPED_EXTENSIONS = new Set(['.json', '.nii', '.gz', '.txt', '.md', '.dump', '.bval', '.bvec', '.sh']);
const SKIPPED_NAMES = new Set(['LICENSE', '.gitignore']);

function isSkipped(name: string): boolean {
  return SKIPPED_EXTENSIONS.has(path.extname(name).toLowerCase()) || SKIPPED_NAMES.has(name) || /^README/i.test(name);
}

/** Relative paths (with /) of the files to send, in a stable order (code-unit order). */
function walk(root: string): string[] {
  const out: string[] = [];
  const visit = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      const rel = path.relative(root, full).split(path.sep).join('/');
      if (entry.isDirectory()) {
        if (rel !== 'dicom-standard') visit(full);
      } else if (entry.isFile() && !isSkipped(entry.name)) out.push(rel);
    }
  };
  visit(root);
  return out.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * Files of the data set the gateway must refuse, and why. Anything not listed here must be
 * stored. The truncated files and no_meta.dcm must exist in the data set (checked below), so
 * their rejection cannot pass vacuously. MR_truncated and rtplan_truncated carry the SOP
 * Instance UIDs of MR_small and rtplan, which are stored: only the file count shows that the
 * refused copies left nothing behind.
 */
const EXPECTED_REJECTIONS: { match: RegExp; reason: number; why: string }[] = [
  { match: /^pydicom\/MR_truncated\.dcm$/, reason: CANNOT_UNDERSTAND, why: 'pixel data value cut short by the end of the file' },
  { match: /^pydicom\/rtplan_truncated\.dcm$/, reason: CANNOT_UNDERSTAND, why: 'a sequence runs past the end of the file' },
  { match: /^pydicom\/no_meta\.dcm$/, reason: CANNOT_UNDERSTAND, why: 'no file meta information and a stray byte before the data set: not readable as DICOM' },
  { match: /\.nrrd$/, reason: CANNOT_UNDERSTAND, why: 'NRRD label maps, not DICOM' },
  {
    match: /(^|\/)(DICOMDIR[^/]*|DIRFILE)$/,
    reason: CANNOT_UNDERSTAND,
    why: 'Media Storage Directory (DICOMDIR): no SOP Class/Instance UID in the data set, not a storable instance',
  },
  {
    match: /^pydicom\/(empty_charset_LEI|meta_missing_tsyntax|nested_priv_SQ|priv_SQ|no_meta_group_length|UN_sequence)\.dcm$/,
    reason: CANNOT_UNDERSTAND,
    why: 'pydicom parser fixtures: data set fragments without SOPClassUID',
  },
  {
    match: /^pydicom\/dicomdirtests\/TINY_ALPHA\/PT000000\/ST000000\/SE000000\/IM[0-9A-Z]+$/,
    reason: SOP_CLASS_MISMATCH,
    why: 'CT Image Storage records stripped of Rows, Columns and PixelData (a DICOMDIR fixture): an image SOP class without an image',
  },
];
const MUST_EXIST_AND_BE_REJECTED = ['pydicom/MR_truncated.dcm', 'pydicom/rtplan_truncated.dcm', 'pydicom/no_meta.dcm'];

function expectedRejection(rel: string) {
  return EXPECTED_REJECTIONS.find((r) => r.match.test(rel));
}

/** Deterministic junk (xorshift32), so a failure is reproducible. */
function junk(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** Non-DICOM bodies sent as application/dicom, beside the data set's own files. */
const SYNTHETIC_NON_DICOM: { name: string; bytes: () => Buffer }[] = [
  { name: '(synthetic) pydicom/README.txt posted as application/dicom', bytes: () => fs.readFileSync(path.join(SHARED_DATA, 'pydicom/README.txt')) },
  { name: '(synthetic) dcm_qa_ts/LICENSE posted as application/dicom', bytes: () => fs.readFileSync(path.join(SHARED_DATA, 'dcm_qa_ts/LICENSE')) },
  { name: '(synthetic) 4096 random bytes', bytes: () => junk(4096, 0x5eed) },
  { name: '(synthetic) preamble + DICM + 4096 random bytes', bytes: () => Buffer.concat([Buffer.alloc(128), Buffer.from('DICM'), junk(4096, 0xd1c0)]) },
  { name: '(synthetic) empty body', bytes: () => Buffer.alloc(0) },
];

// ----- STOW-RS -----

type DicomJson = Record<string, { vr: string; Value?: unknown[] }>;

interface Posted {
  name: string;
  /** Absolute path of the file sent; undefined for synthetic bodies. */
  file?: string;
  status: number;
  body: DicomJson | undefined;
  rawBody: string;
}

interface Stored {
  name: string;
  file: string;
  sopInstanceUID: string;
  retrieveURL: string;
  warning?: number;
}

async function stow(url: string, bytes: Buffer): Promise<{ status: number; body: DicomJson | undefined; rawBody: string }> {
  const res = await fetch(`${url}/studies`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/dicom', Accept: 'application/dicom+json' },
    body: bytes,
  });
  const rawBody = await res.text();
  let body: DicomJson | undefined;
  try {
    body = JSON.parse(rawBody) as DicomJson;
  } catch {
    body = undefined;
  }
  return { status: res.status, body, rawBody };
}

function items(body: DicomJson | undefined, tag: string): DicomJson[] {
  return ((body?.[tag]?.Value ?? []) as DicomJson[]).filter((x) => x && typeof x === 'object');
}

function first(item: DicomJson | undefined, tag: string): unknown {
  return item?.[tag]?.Value?.[0];
}

/** A problem with one STOW response, or undefined when it is the expected failure. */
function rejectionProblem(p: Posted, reason: number): string | undefined {
  const failed = items(p.body, '00081198');
  const referenced = items(p.body, '00081199');
  const got = failed.map((f) => first(f, '00081197'));
  if (p.status === 409 && failed.length === 1 && referenced.length === 0 && got[0] === reason) return undefined;
  return `expected 409 with one FailedSOPSequence item, FailureReason 0x${reason.toString(16)}; got HTTP ${p.status}, FailureReason ${JSON.stringify(got.map((r) => (typeof r === 'number' ? '0x' + r.toString(16) : r)))}, ${referenced.length} referenced: ${p.rawBody.slice(0, 300)}`;
}

/** The SOP Instance UID of a part refused because that UID is already stored with other content (0x0111). */
function conflictUid(p: Posted): string | undefined {
  const failed = items(p.body, '00081198');
  if (p.status !== 409 || failed.length !== 1 || first(failed[0], '00081197') !== DUPLICATE_CONFLICT) return undefined;
  return first(failed[0], '00081155') as string | undefined;
}

function storedProblem(p: Posted): string | undefined {
  const failed = items(p.body, '00081198');
  const referenced = items(p.body, '00081199');
  if ((p.status === 200 || p.status === 202) && failed.length === 0 && referenced.length === 1) {
    const ref = referenced[0];
    if (typeof first(ref, '00081155') !== 'string') return 'ReferencedSOPSequence item has no ReferencedSOPInstanceUID';
    if (typeof first(ref, '00081190') !== 'string') return 'ReferencedSOPSequence item has no RetrieveURL';
    return undefined;
  }
  return `expected 200/202 with one ReferencedSOPSequence item; got HTTP ${p.status}: ${p.rawBody.slice(0, 300)}`;
}

// ----- helpers -----

function listFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.join(e.parentPath ?? e.path, e.name));
}

async function mapLimit<T, R>(list: T[], limit: number, fn: (x: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(list.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, list.length) }, async () => {
      while (next < list.length) {
        const i = next++;
        out[i] = await fn(list[i], i);
      }
    }),
  );
  return out;
}

function failWith(title: string, problems: string[]): void {
  if (problems.length) throw new Error(`${title} (${problems.length}):\n  ${problems.join('\n  ')}`);
}

/** WADO-RS retrieve of one instance into `out`; a problem description, or undefined. */
async function retrieveInstance(s: Stored, out: string): Promise<string | undefined> {
  const res = await fetch(s.retrieveURL, { headers: { Accept: RETRIEVE_ACCEPT } });
  const body = Buffer.from(await res.arrayBuffer());
  const type = res.headers.get('content-type') ?? '';
  if (res.status !== 200 || !/^multipart\/related/i.test(type)) {
    return `GET ${s.retrieveURL} gave HTTP ${res.status} ${type}: ${body.subarray(0, 200).toString()}`;
  }
  const parts = parseMultipart(body, type);
  if (parts.length !== 1 || !/^application\/dicom/i.test(parts[0].headers['content-type'] ?? '')) {
    return `expected one application/dicom part, got ${parts.map((p) => p.headers['content-type']).join(', ') || 'none'}`;
  }
  fs.writeFileSync(out, parts[0].body);
  return undefined;
}

/** A stored instance: the file sent and the copy WADO-RS gave back. */
interface Pair {
  name: string;
  original: string;
  retrieved: string;
  /** Site secret of the gateway that stored it. */
  secret: Buffer;
  /** SOP Instance UID the STOW response named. */
  stowUID: string;
}

const INSTANCE_UIDS = ['StudyInstanceUID', 'SeriesInstanceUID', 'SOPInstanceUID'];

interface Comparison {
  name: string;
  mismatches: string[];
  notes: string[];
  /** How the pixel data was compared (see pydicom_compare.py). */
  pixels: string;
  /** Study, Series and SOP Instance UID: [original, retrieved]. */
  uids: Record<string, [string | null, string | null]>;
}

/** The instance UIDs of the stored copy are the gateway's keyed mapping of the originals. */
function uidMismatches(r: Comparison, p: Pair): string[] {
  const out: string[] = [];
  for (const kw of INSTANCE_UIDS) {
    const [original, retrieved] = r.uids?.[kw] ?? [null, null];
    if (!original) {
      out.push(`${kw}: none in the original`);
      continue;
    }
    const expected = mapUid(p.secret, original);
    if (retrieved !== expected) out.push(`${kw} ${JSON.stringify(retrieved)}, expected mapUid(${original}) = ${expected}`);
  }
  const sop = r.uids?.SOPInstanceUID?.[1];
  if (sop !== p.stowUID) out.push(`SOPInstanceUID ${JSON.stringify(sop)} is not the one the STOW response named (${p.stowUID})`);
  return out;
}

/** One pydicom run over all pairs (original, retrieved), then the UID mapping check. */
function compareWithPydicom(pairs: Pair[], pairsFile: string): Comparison[] {
  fs.writeFileSync(pairsFile, JSON.stringify(pairs.map(({ name, original, retrieved }) => ({ name, original, retrieved }))));
  const run = spawnSync(PYTHON, [COMPARE_SCRIPT, pairsFile], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (run.status !== 0) throw new Error(`${COMPARE_SCRIPT} failed (${run.status ?? run.signal}):\n${run.stderr}`);
  const results = JSON.parse(run.stdout) as Comparison[];
  expect(results.map((r) => r.name)).toEqual(pairs.map((p) => p.name));
  results.forEach((r, i) => r.mismatches.push(...uidMismatches(r, pairs[i])));
  return results;
}

function mismatchesOf(results: Comparison[]): string[] {
  return results.filter((r) => r.mismatches.length).map((r) => `${r.name}: ${r.mismatches.join('; ')}`);
}

/** The stored-instance entry of a successful STOW response. */
function storedEntry(p: Posted): Stored {
  const ref = items(p.body, '00081199')[0];
  return {
    name: p.name,
    file: p.file!,
    sopInstanceUID: first(ref, '00081155') as string,
    retrieveURL: first(ref, '00081190') as string,
    warning: first(ref, '00081196') as number | undefined,
  };
}

// ----- dciodvfy (dicom3tools): IOD conformance of the stored copy against the original -----

/**
 * Conformance errors de-identification is known to cause, that the gateway does not fix yet:
 * the file (path in the data set) and a substring of the normalised dciodvfy line. Only the
 * listed error of the listed file is tolerated; any other new error still fails the test.
 * Remove an entry once the gateway is fixed (the test then lists it as no longer seen).
 */
const KNOWN_DEID_CONFORMANCE_GAPS: { file: string; error: string }[] = [];

// ----- the test -----

describe('shared data set: STOW-RS with de-identification, then WADO-RS, checked with pydicom, dcmtk and dciodvfy', () => {
  let gw: TestGateway;
  let workDir: string;
  const files = walk(SHARED_DATA);
  const posted: Posted[] = [];
  const stored = new Map<string, Stored>(); // first copy of each SOP Instance UID
  /** Re-sent SOP Instance UIDs: identical content (a successful duplicate) or other content (refused, 0x0111). */
  const duplicates: (Stored & { firstCopy: string; conflict: boolean })[] = [];
  /** Every file WADO-RS gave back, for dcmdump: name of the original and path of the copy. */
  const retrievedFiles: { name: string; file: string }[] = [];
  const comparisons: Comparison[] = [];
  /** First copies of the main run, for dciodvfy. */
  const mainPairs: Pair[] = [];
  /** New dciodvfy errors of the stored copies, before KNOWN_DEID_CONFORMANCE_GAPS, for the summary. */
  const conformance: { name: string; newErrors: string[]; tolerated: string[] }[] = [];
  const convertedBaselines: string[] = [];
  const abortedOnStored: string[] = [];
  let duplicateRounds = 0;
  const started = Date.now();

  beforeAll(async () => {
    gw = await startTestGateway(ACCEPTING_BURNED_IN);
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'veilgate-roundtrip-'));
    // One request at a time, in a stable order, so "first copy" is well defined.
    for (const rel of files) {
      const file = path.join(SHARED_DATA, rel);
      posted.push({ name: rel, file, ...(await stow(gw.url, fs.readFileSync(file))) });
    }
    for (const s of SYNTHETIC_NON_DICOM) posted.push({ name: s.name, ...(await stow(gw.url, s.bytes())) });
    for (const p of posted) {
      if (!p.file || expectedRejection(p.name)) continue;
      const conflict = conflictUid(p);
      const earlierConflict = conflict ? stored.get(conflict) : undefined;
      if (earlierConflict) {
        duplicates.push({ name: p.name, file: p.file, sopInstanceUID: conflict!, retrieveURL: earlierConflict.retrieveURL, firstCopy: earlierConflict.name, conflict: true });
        continue;
      }
      if (storedProblem(p)) continue;
      const entry = storedEntry(p);
      const earlier = stored.get(entry.sopInstanceUID);
      if (earlier) duplicates.push({ ...entry, firstCopy: earlier.name, conflict: false });
      else stored.set(entry.sopInstanceUID, entry);
    }
  });

  afterAll(async () => {
    await gw?.close();
    if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
  });

  test('the data set is there', () => {
    expect(fs.existsSync(SHARED_DATA)).toBe(true);
    for (const rel of MUST_EXIST_AND_BE_REJECTED) expect(files).toContain(rel);
    expect(files.length).toBeGreaterThan(300);
  });

  test('broken and non-DICOM files are refused with 409 and FailureReason 0xC000 (0xA900 for images without pixels)', () => {
    const problems: string[] = [];
    for (const p of posted) {
      const expected = p.file ? expectedRejection(p.name) : { reason: CANNOT_UNDERSTAND, why: 'not DICOM' };
      if (!expected) continue;
      const problem = rejectionProblem(p, expected.reason);
      if (problem) problems.push(`${p.name} (${expected.why}): ${problem}`);
    }
    failWith('files that should have been refused were not refused as expected', problems);
  });

  test('every other file is stored; a re-sent SOP Instance UID is a duplicate when its content is the same, refused with 0x0111 when not', () => {
    const problems: string[] = [];
    const conflicts = new Set(duplicates.filter((d) => d.conflict).map((d) => d.name));
    for (const p of posted) {
      if (!p.file || expectedRejection(p.name) || conflicts.has(p.name)) continue;
      const problem = storedProblem(p);
      if (problem) problems.push(`${p.name}: ${problem}`);
    }
    failWith('files that should have been stored were not', problems);
    // A duplicate keeps the first copy: its RetrieveURL is the first copy's.
    failWith(
      'duplicates whose RetrieveURL differs from the first stored copy',
      duplicates
        .filter((d) => !d.conflict && d.retrieveURL !== stored.get(d.sopInstanceUID)!.retrieveURL)
        .map((d) => `${d.name}: ${d.retrieveURL} vs ${stored.get(d.sopInstanceUID)!.retrieveURL} (${d.firstCopy})`),
    );
  });

  test('a refused instance leaves no file behind', async () => {
    const dcmFiles = listFiles(path.join(gw.dataDir, 'files')).filter((f) => f.endsWith('.dcm'));
    expect(dcmFiles.length).toBe(stored.size);
    expect(listFiles(path.join(gw.dataDir, 'tmp'))).toEqual([]);
    // The index agrees with the disk.
    for (const s of stored.values()) expect(await gw.gateway.index.findInstance(s.sopInstanceUID)).toBeDefined();
  });

  test('WADO-RS returns every stored instance: pydicom finds the same pixels and geometry, mapped UIDs and no patient identity', async () => {
    const list = [...stored.values()];
    const secret = siteSecret(gw.dataDir);
    const problems: string[] = [];
    const pairs: Pair[] = [];
    await mapLimit(list, 4, async (s, i) => {
      const out = path.join(workDir, `${String(i).padStart(4, '0')}.dcm`);
      const problem = await retrieveInstance(s, out);
      if (problem) problems.push(`${s.name}: ${problem}`);
      else pairs.push({ name: s.name, original: s.file, retrieved: out, secret, stowUID: s.sopInstanceUID });
    });
    failWith('retrieval failures', problems);
    pairs.sort((a, b) => (a.name < b.name ? -1 : 1));
    mainPairs.push(...pairs);
    retrievedFiles.push(...pairs.map((p) => ({ name: p.name, file: p.retrieved })));
    const results = compareWithPydicom(pairs, path.join(workDir, 'pairs.json'));
    comparisons.push(...results);
    failWith('retrieved instances that do not match the originals as de-identification should (pydicom)', mismatchesOf(results));
  });

  /**
   * The main run keeps only the first copy of a re-sent SOP Instance UID, so the other copies
   * (the same instance in other transfer syntaxes: big endian, RLE, JPEG-LS, ...) never reach
   * the store. Send each of them first to a fresh gateway (as many rounds as the largest group
   * of copies needs) and check their round trip the same way.
   */
  test('every duplicate copy, sent first to a fresh gateway, round-trips too', async () => {
    const problems: string[] = [];
    const pairs: Pair[] = [];
    let pending = duplicates.map((d) => d.name);
    while (pending.length) {
      duplicateRounds++;
      const fresh = await startTestGateway(ACCEPTING_BURNED_IN);
      const secret = siteSecret(fresh.dataDir); // each fresh gateway has its own
      const later: string[] = [];
      const seen = new Set<string>();
      try {
        for (const name of pending) {
          const file = path.join(SHARED_DATA, name);
          const p: Posted = { name, file, ...(await stow(fresh.url, fs.readFileSync(file))) };
          if (conflictUid(p) && seen.has(conflictUid(p)!)) {
            later.push(name); // its UID was stored earlier in this round, with other content: next round
            continue;
          }
          const problem = storedProblem(p);
          if (problem) {
            problems.push(`${name}: ${problem}`);
            continue;
          }
          const entry = storedEntry(p);
          if (seen.has(entry.sopInstanceUID)) {
            later.push(name); // a duplicate again in this round: next round
            continue;
          }
          seen.add(entry.sopInstanceUID);
          const out = path.join(workDir, `dup${duplicateRounds}-${pairs.length}.dcm`);
          const retrieveProblem = await retrieveInstance(entry, out);
          if (retrieveProblem) problems.push(`${name}: ${retrieveProblem}`);
          else pairs.push({ name, original: file, retrieved: out, secret, stowUID: entry.sopInstanceUID });
        }
        const dcmFiles = listFiles(path.join(fresh.dataDir, 'files')).filter((f) => f.endsWith('.dcm'));
        if (dcmFiles.length !== seen.size) problems.push(`round ${duplicateRounds}: ${dcmFiles.length} files stored for ${seen.size} instances`);
      } finally {
        await fresh.close();
      }
      if (later.length >= pending.length) throw new Error(`no progress storing duplicates: ${later.join(', ')}`);
      pending = later;
    }
    failWith('duplicate copies not stored or retrieved', problems);
    expect(pairs.length).toBe(duplicates.length);
    retrievedFiles.push(...pairs.map((p) => ({ name: `${p.name} (fresh gateway)`, file: p.retrieved })));
    const results = compareWithPydicom(pairs, path.join(workDir, 'pairs-duplicates.json'));
    comparisons.push(...results);
    failWith('retrieved duplicate copies that do not match the originals as de-identification should (pydicom)', mismatchesOf(results));
  });

  test('dcmdump reads every retrieved file without error', async () => {
    expect(retrievedFiles.length).toBe(stored.size + duplicates.length);
    const run = promisify(execFile);
    const problems: string[] = [];
    await mapLimit(retrievedFiles, 4, async ({ name, file }) => {
      let stderr = '';
      let failed = '';
      try {
        // +fo: a proper PS3.10 file, not a bare data set. Errors (E:) and warnings (W:) go to
        // stderr; the dump itself is not needed.
        ({ stderr } = await run(DCMDUMP, ['+fo', file], { maxBuffer: 256 * 1024 * 1024 }));
      } catch (e) {
        const err = e as { code?: number; stderr?: string };
        failed = `exit status ${err.code}`;
        stderr = err.stderr ?? '';
      }
      const errors = stderr.split('\n').filter((l) => /^E: /.test(l));
      if (failed || errors.length) problems.push(`${name}: ${[failed, ...errors].filter(Boolean).join('; ')}`);
    });
    failWith('dcmdump errors on retrieved files', problems);
  });

  /**
   * De-identification must not make an instance less valid: dciodvfy may find nothing in the
   * stored copy that it does not find in the original (the original's own errors are the
   * baseline). Lines are compared normalised (normaliseDciodvfy), as a multiset.
   */
  test('dciodvfy finds no conformance error in a stored instance that the original does not have', async () => {
    expect(mainPairs.length).toBe(stored.size);
    const problems: string[] = [];
    const knownGapsSeen = new Set<number>();
    await mapLimit(mainPairs, 2, async (p, i) => {
      const before = await baselineOf(p.original, path.join(workDir, `baseline-${i}.dcm`));
      const after = await dciodvfy(p.retrieved);
      if (before.converted) convertedBaselines.push(p.name);
      if (after.aborted) abortedOnStored.push(p.name);
      const added = newLines(before.errors, after.errors);
      if (after.aborted && !before.aborted) added.unshift(`${after.aborted} on the stored copy only`);
      if (!added.length) return;
      const tolerated: string[] = [];
      const untolerated: string[] = [];
      for (const line of added) {
        const gap = KNOWN_DEID_CONFORMANCE_GAPS.findIndex((g) => g.file === p.name && line.includes(g.error));
        if (gap >= 0) {
          knownGapsSeen.add(gap);
          tolerated.push(line);
        } else untolerated.push(line);
      }
      conformance.push({ name: p.name, newErrors: added, tolerated });
      if (untolerated.length) problems.push(`${p.name}:\n      ${untolerated.join('\n      ')}`);
    });
    conformance.sort((a, b) => (a.name < b.name ? -1 : 1));
    convertedBaselines.sort();
    abortedOnStored.sort();
    const stale = KNOWN_DEID_CONFORMANCE_GAPS.filter((_, i) => !knownGapsSeen.has(i));
    if (stale.length) console.log(`KNOWN_DEID_CONFORMANCE_GAPS entries no longer seen (remove them):\n  ${stale.map((g) => `${g.file}: ${g.error}`).join('\n  ')}`);
    failWith('stored instances with dciodvfy errors the original does not have', problems.sort());
  });

  test('summary', () => {
    const fromDataSet = posted.filter((p) => p.file);
    const conflicts = new Set(duplicates.filter((d) => d.conflict).map((d) => d.name));
    const rejected = posted.filter((p) => p.status === 409 && !conflicts.has(p.name));
    const warned = [...stored.values()].filter((s) => s.warning !== undefined).map((s) => s.name);
    const byMethod = new Map<string, number>();
    for (const c of comparisons) byMethod.set(c.pixels || '?', (byMethod.get(c.pixels || '?') ?? 0) + 1);
    const notes = comparisons.filter((c) => c.notes.length).map((c) => `${c.name}: ${c.notes.join('; ')}`);
    console.log(
      [
        `shared data round trip, ${((Date.now() - started) / 1000).toFixed(1)} s:`,
        `  posted ${posted.length} (${fromDataSet.length} files of the data set, ${posted.length - fromDataSet.length} synthetic non-DICOM bodies)`,
        `  stored ${stored.size} instances; ${duplicates.length} re-sent SOP Instance UIDs: ${duplicates.filter((d) => !d.conflict).length} identical (success), ${duplicates.filter((d) => d.conflict).length} with other content (refused, 0x0111)`,
        `  rejected ${rejected.length} (${rejected.filter((p) => p.file).length} from the data set)`,
        `  duplicates re-checked on ${duplicateRounds} fresh gateway(s)`,
        `  pydicom pixel comparisons: ${[...byMethod].map(([k, v]) => `${k} ${v}`).join(', ')}`,
        `  stored with a warning (202): ${warned.join(', ') || 'none'}`,
        `  dciodvfy: ${conformance.length} of ${mainPairs.length} stored instances with new errors` +
          ` (${conformance.reduce((n, c) => n + c.tolerated.length, 0)} new error lines tolerated as KNOWN_DEID_CONFORMANCE_GAPS)`,
        `    baseline also from dcmconv +te (dciodvfy cannot read the original whole): ${convertedBaselines.join(', ') || 'none'}`,
        `    dciodvfy did not finish on the stored copy (nor on the original): ${abortedOnStored.join(', ') || 'none'}`,
        ...conformance.map((c) => `    ${c.name}:\n${c.newErrors.map((l) => `      ${c.tolerated.includes(l) ? '(known) ' : ''}${l}`).join('\n')}`),
        ...(notes.length ? ['  comparison notes:', ...notes.map((n) => `    ${n}`)] : []),
      ].join('\n'),
    );
    expect(stored.size + duplicates.length + rejected.length).toBe(posted.length);
    expect(comparisons.length).toBe(stored.size + duplicates.length);
  });
});

/**
 * With the default configuration (acceptBurnedIn false), images whose pixels may carry the
 * patient's identity (ultrasound, secondary capture) are refused, and nothing of them is
 * kept; an ordinary CT image is stored by the same gateway, so the refusals are not vacuous.
 */
describe('default configuration: ultrasound and secondary captures are refused', () => {
  const REFUSED = [
    'pydicom/SC_rgb_rle.dcm', // Secondary Capture, Modality OT
    'pydicom/SC_jpeg_no_color_transform.dcm', // Secondary Capture, no Modality
    'pydicom/JPEG2000.dcm', // Secondary Capture, Modality NM
    'pydicom/ExplVR_BigEnd.dcm', // Ultrasound Image, big endian
  ];
  const ACCEPTED = 'pydicom/CT_small.dcm';
  let gw: TestGateway;

  beforeAll(async () => {
    expect(loadConfig({}).deid.acceptBurnedIn).toBe(false);
    gw = await startTestGateway();
  });

  afterAll(async () => {
    await gw?.close();
  });

  test('each is refused with 409 and FailureReason 0xC000, and leaves nothing stored', async () => {
    const problems: string[] = [];
    for (const rel of REFUSED) {
      const file = path.join(SHARED_DATA, rel);
      const p: Posted = { name: rel, file, ...(await stow(gw.url, fs.readFileSync(file))) };
      const problem = rejectionProblem(p, CANNOT_UNDERSTAND);
      if (problem) problems.push(`${rel}: ${problem}`);
    }
    failWith('images with possibly burned-in identity that were not refused', problems);
    expect(listFiles(path.join(gw.dataDir, 'files')).filter((f) => f.endsWith('.dcm'))).toEqual([]);
    expect(listFiles(path.join(gw.dataDir, 'tmp'))).toEqual([]);
    expect(await gw.gateway.index.counts()).toEqual({ studies: 0, series: 0, instances: 0 });
  });

  test('an ordinary CT image is stored by the same gateway', async () => {
    const file = path.join(SHARED_DATA, ACCEPTED);
    const p: Posted = { name: ACCEPTED, file, ...(await stow(gw.url, fs.readFileSync(file))) };
    expect(storedProblem(p)).toBeUndefined();
    expect(listFiles(path.join(gw.dataDir, 'files')).filter((f) => f.endsWith('.dcm'))).toHaveLength(1);
    expect(await gw.gateway.index.counts()).toEqual({ studies: 1, series: 1, instances: 1 });
  });
});
