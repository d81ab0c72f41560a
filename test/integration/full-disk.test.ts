/**
 * A data directory on a small tmpfs, filled by STOW-RS until it is full.
 *
 * Full, the gateway must say it is its own fault and temporary: FailureReason 0xA700 with HTTP
 * 503 and Retry-After for STOW-RS (never 0xC000, "cannot understand"), status 0xA700 for
 * C-STORE, and GET /health not ready (503). Nothing may be half-written: every file under
 * files/ has its index row and every row its file, and tmp/ holds nothing. Once space returns
 * (a filler file this test put on the tmpfs is deleted), the same process stores again, and
 * everything acknowledged before is still retrievable and intact.
 *
 * Mounting needs root (CI runs as root); otherwise the test is skipped and says why.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import dicomParser from 'dicom-parser';
import { startTestGateway, TestGateway, multipartBody, parseMultipart } from '../support/gateway';
import { loadConfig } from '../../src/config';
import { DEFAULT_LIMITS } from '../../src/limits';
import { syntheticInstance, randomUid } from '../../src/synthetic/instances';
import { cStoreBatch } from '../support/dimse-store';
import { filesUnder, mappedUid } from '../support/server-process';

jest.setTimeout(120_000);

const MiB = 1024 * 1024;
const TMPFS_SIZE = '24m';
const FILLER_BYTES = 3 * MiB;
/** Readiness fails below this much free space; the default (512 MiB) is more than the whole tmpfs. */
const MIN_FREE = 1 * MiB;
const CT_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.2';
const EXPLICIT_LE = '1.2.840.10008.1.2.1';

const isRoot = process.getuid?.() === 0;
if (!isRoot) process.stdout.write('full-disk: skipped: mounting a tmpfs needs root (CI runs as root)\n');
const describeAsRoot = isRoot ? describe : describe.skip;

type Json = Record<string, { Value?: unknown[] }>;

interface Sent {
  sop: string;
  study: string;
  series: string;
  pixels: Buffer;
}

/** The data set bytes of a Part 10 file written by our writer (preamble, DICM, meta group). */
function datasetOf(file: Buffer): Buffer {
  return file.subarray(144 + file.readUInt32LE(140));
}

describeAsRoot('a full disk under the data directory', () => {
  let mnt: string;
  let gw: TestGateway | undefined;
  let mounted = false;

  beforeAll(() => {
    mnt = fs.mkdtempSync(path.join(os.tmpdir(), 'veilgate-full-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${TMPFS_SIZE},mode=0700`, 'tmpfs', mnt]);
    mounted = true;
  });

  afterAll(async () => {
    await gw?.close({ keepData: true });
    if (mounted) {
      try {
        execFileSync('umount', [mnt]);
      } catch {
        execFileSync('umount', ['-l', mnt]); // something still holds it open: detach now, freed when released
      }
    }
    fs.rmSync(mnt, { recursive: true, force: true });
  });

  test('STOW-RS and C-STORE answer A700 (503 + Retry-After) when full, leave nothing half-written, and store again once space returns', async () => {
    const dataDir = path.join(mnt, 'data');
    const filler = path.join(mnt, 'filler.bin');
    fs.writeFileSync(filler, Buffer.alloc(FILLER_BYTES, 1));
    gw = await startTestGateway({ dataDir, limits: { ...DEFAULT_LIMITS, minFreeDiskBytes: MIN_FREE }, dimse: { ...loadConfig({}).dimse, port: 0 } });
    const url = gw.url;
    const health = async () => {
      const r = await fetch(`${gw!.url.replace(/\/dicom-web$/, '')}/health`);
      return { status: r.status, retryAfter: r.headers.get('retry-after'), body: (await r.json()) as { status: string; checks: Record<string, { ok: boolean; detail?: string }> } };
    };
    expect((await health()).status).toBe(200);

    const study = randomUid();
    const series = randomUid();
    let n = 0;
    /** About 256 KiB each (a few dozen fill what the filler leaves), or about 1 KiB to top it off. */
    const instance = (size: 'large' | 'small' = 'large') =>
      syntheticInstance({ studyUID: study, seriesUID: series, instanceNumber: ++n, rows: size === 'large' ? 362 : 8, columns: size === 'large' ? 362 : 8, seed: n });
    const acked: Sent[] = [];
    const stow = async (parts: ReturnType<typeof instance>[]) => {
      const { body, contentType } = parts.length === 1 && n % 2 ? { body: parts[0].bytes, contentType: 'application/dicom' } : multipartBody(parts.map((p) => p.bytes));
      const res = await fetch(`${url}/studies`, { method: 'POST', headers: { 'Content-Type': contentType, Accept: 'application/dicom+json' }, body });
      const json = (await res.json()) as Json;
      for (const item of (json['00081199']?.Value ?? []) as Json[]) {
        const sop = String(item['00081155'].Value![0]);
        const sent = parts.find((p) => mappedUid(dataDir, p.sopInstanceUID) === sop)!;
        acked.push({ sop, study: mappedUid(dataDir, study), series: mappedUid(dataDir, series), pixels: Buffer.from(sent.pixelData) });
      }
      const failures = ((json['00081198']?.Value ?? []) as Json[]).map((f) => Number(f['00081197']?.Value?.[0]));
      return { status: res.status, retryAfter: res.headers.get('retry-after'), failures, stored: ((json['00081199']?.Value ?? []) as Json[]).length };
    };

    // Fill it with large instances until one no longer fits, then top it off with small ones, so
    // that the last writes to fail are the index's as well as the files'.
    const fill = async (size: 'large' | 'small', most: number) => {
      const answers: Awaited<ReturnType<typeof stow>>[] = [];
      for (let i = 0; i < most; i++) {
        const a = await stow([instance(size)]);
        answers.push(a);
        if (a.status !== 200) break;
      }
      return answers;
    };
    // First enough small instances for SQLite to pass an automatic checkpoint (1000 WAL pages):
    // from then on the WAL reuses its own space, as it does on any running gateway, so commits
    // can still succeed when the files no longer fit.
    const walSize = () => (fs.existsSync(path.join(dataDir, 'index.sqlite-wal')) ? fs.statSync(path.join(dataDir, 'index.sqlite-wal')).size : 0);
    let warm = 0;
    const WAL_AUTOCHECKPOINT_BYTES = 1000 * 4096; // SQLite's default: 1000 pages of 4 KiB
    for (let extra = 0; warm < 2000 && extra < 5; warm++) {
      if ((await stow([instance('small')])).status !== 200) break;
      if (walSize() >= WAL_AUTOCHECKPOINT_BYTES) extra++; // past the checkpoint: a few more start the WAL over
    }
    const large = await fill('large', 200);
    const small = await fill('small', 5000);
    expect(large.length).toBeGreaterThan(3); // some fitted before it was full
    expect(large[large.length - 1].status).not.toBe(200);
    expect(small[small.length - 1].status).not.toBe(200);

    // Full: every STOW-RS answer is ours and temporary, single part and multipart alike.
    const whenFull = [large[large.length - 1], small[small.length - 1]];
    for (let i = 0; i < 4; i++) whenFull.push(await stow(i % 2 ? [instance(), instance('small'), instance('small')] : [instance('small')]));
    const dimse = await cStoreBatch(
      '127.0.0.1',
      gw.gateway.dimse!.port,
      'FULLDISK',
      'VEILGATE',
      [instance(), instance('small')].map((p) => ({ dataset: datasetOf(p.bytes), ts: EXPLICIT_LE, sopClassUID: CT_IMAGE_STORAGE, sopInstanceUID: p.sopInstanceUID })),
    );
    const full = await health();
    const free = fs.statfsSync(mnt).bavail * fs.statfsSync(mnt).bsize;

    // Nothing half-written.
    const invariants = () => {
      const db = new Database(path.join(dataDir, 'index.sqlite'), { readonly: true, fileMustExist: true });
      const rows = db.prepare('SELECT sop_instance_uid AS sop, blob_key AS blobKey, size FROM instances').all() as { sop: string; blobKey: string; size: number }[];
      db.close();
      const files = new Set(filesUnder(path.join(dataDir, 'files')));
      const keys = new Set(rows.map((r) => r.blobKey));
      return {
        rowsWithoutFile: rows.filter((r) => !files.has(r.blobKey)).map((r) => r.sop),
        // A file shorter (or longer) than its row says is half-written.
        rowsWithOtherSize: rows
          .filter((r) => files.has(r.blobKey) && fs.statSync(path.join(dataDir, 'files', r.blobKey)).size !== r.size)
          .map((r) => `${r.sop}: indexed ${r.size} bytes, file ${fs.statSync(path.join(dataDir, 'files', r.blobKey)).size}`),
        filesWithoutRow: [...files].filter((f) => !keys.has(f)),
        tmp: filesUnder(path.join(dataDir, 'tmp')),
        rows: rows.length,
      };
    };
    const atFull = invariants();

    const summary = [
      `full-disk: ${warm} small, then ${large.length - 1} large and ${small.length - 1} small instances stored before the ${TMPFS_SIZE} tmpfs was full (${free} bytes left; WAL ${walSize()} bytes);`,
      `  STOW-RS when full: ${whenFull.map((a) => `HTTP ${a.status} [${a.failures.map((f) => f.toString(16).toUpperCase().padStart(4, '0')).join(',')}] Retry-After ${a.retryAfter}`).join('; ')}`,
      `  C-STORE when full: ${dimse.outcomes.map((o) => (o.status === undefined ? `no response (${o.noResponse})` : `${o.status.toString(16).toUpperCase().padStart(4, '0')} ${o.comment ?? ''}`)).join('; ')}`,
      `  /health when full: ${full.status} ${JSON.stringify(full.body.checks)} Retry-After ${full.retryAfter}`,
      `  at full: ${atFull.rows} rows, ${atFull.rowsWithoutFile.length} rows without a file, ${atFull.rowsWithOtherSize.length} files of another size than indexed, ${atFull.filesWithoutRow.length} files without a row, ${atFull.tmp.length} files in tmp`,
    ];

    const codes = new Map<string, number>();
    for (const l of gw.logLines) if (l.includes('"ingest-error"')) codes.set(JSON.parse(l).code ?? 'none', (codes.get(JSON.parse(l).code ?? 'none') ?? 0) + 1);
    summary.push(`  errors behind the refusals: ${[...codes].map(([c, k]) => `${c}×${k}`).join(', ')}`);

    // Space returns: the same process stores again.
    fs.rmSync(filler);
    const after = await health();
    const again = [await stow([instance()]), await stow([instance(), instance()])];
    const dimseAgain = await cStoreBatch('127.0.0.1', gw.gateway.dimse!.port, 'FULLDISK', 'VEILGATE', [instance()].map((p) => {
      acked.push({ sop: mappedUid(dataDir, p.sopInstanceUID), study: mappedUid(dataDir, study), series: mappedUid(dataDir, series), pixels: Buffer.from(p.pixelData) });
      return { dataset: datasetOf(p.bytes), ts: EXPLICIT_LE, sopClassUID: CT_IMAGE_STORAGE, sopInstanceUID: p.sopInstanceUID };
    }));
    summary.push(`  after the filler was deleted: /health ${after.status}; STOW-RS ${again.map((a) => `HTTP ${a.status}`).join(', ')}; C-STORE ${dimseAgain.outcomes.map((o) => o.status?.toString(16).padStart(4, '0') ?? o.noResponse).join(', ')}`);

    // Everything acknowledged, retrievable and intact.
    const lost: string[] = [];
    const res = await fetch(`${url}/studies/${acked[0].study}/series/${acked[0].series}`, { headers: { Accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' } });
    const parts = res.status === 200 ? parseMultipart(Buffer.from(await res.arrayBuffer()), res.headers.get('content-type') ?? '') : [];
    const bySop = new Map<string, Buffer>();
    for (const p of parts) {
      try {
        bySop.set(dicomParser.parseDicom(new Uint8Array(p.body)).string('x00080018') ?? '', p.body);
      } catch (e) {
        lost.push(`a part of ${p.body.length} bytes in the series retrieve does not parse: ${String((e as { exception?: string }).exception ?? (e as Error).message ?? e).slice(0, 120)}`);
      }
    }
    for (const a of acked) {
      const file = bySop.get(a.sop);
      if (!file) {
        lost.push(`${a.sop}: not retrievable intact`);
        continue;
      }
      const el = dicomParser.parseDicom(new Uint8Array(file)).elements.x7fe00010;
      if (!file.subarray(el.dataOffset, el.dataOffset + el.length).equals(a.pixels)) lost.push(`${a.sop}: other pixel data`);
    }
    const end = invariants();
    summary.push(`  at the end: ${acked.length} acknowledged, ${lost.length} lost or damaged; ${end.rows} rows, ${end.rowsWithoutFile.length} rows without a file, ${end.rowsWithOtherSize.length} files of another size than indexed, ${end.filesWithoutRow.length} files without a row, ${end.tmp.length} files in tmp`);
    for (const l of [...end.rowsWithOtherSize, ...lost].slice(0, 5)) summary.push(`    ${l}`);
    process.stdout.write(summary.join('\n') + '\n');

    // When full: A700, 503 + Retry-After, never C000.
    for (const a of whenFull) {
      expect(a.stored).toBe(0);
      expect(a.failures.length).toBeGreaterThan(0);
      expect(a.failures.every((f) => f === 0xa700)).toBe(true);
      expect(a.status).toBe(503);
      expect(Number(a.retryAfter)).toBeGreaterThan(0);
    }
    expect(dimse.outcomes.map((o) => o.status)).toEqual([0xa700, 0xa700]);
    expect(full.status).toBe(503);
    expect(full.body.status).toBe('not ready');
    expect(Number(full.retryAfter)).toBeGreaterThan(0);
    expect({ rowsWithoutFile: atFull.rowsWithoutFile, rowsWithOtherSize: atFull.rowsWithOtherSize, filesWithoutRow: atFull.filesWithoutRow, tmp: atFull.tmp }).toEqual({ rowsWithoutFile: [], rowsWithOtherSize: [], filesWithoutRow: [], tmp: [] });

    // Space back: ready and storing again, without a restart; nothing lost.
    expect(after.status).toBe(200);
    expect(again.map((a) => a.status)).toEqual([200, 200]);
    expect(dimseAgain.outcomes.map((o) => o.status)).toEqual([0x0000]);
    expect(lost).toEqual([]);
    expect({ rowsWithoutFile: end.rowsWithoutFile, rowsWithOtherSize: end.rowsWithOtherSize, filesWithoutRow: end.filesWithoutRow, tmp: end.tmp }).toEqual({ rowsWithoutFile: [], rowsWithOtherSize: [], filesWithoutRow: [], tmp: [] });
  });
});
