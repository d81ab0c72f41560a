/**
 * Export bundles end to end. On the 28-slice Philips CT and a bone SEG made of it by a segment
 * job: an export by query is unpacked (unzip, tar) and checked — image.nii.gz equals GET …/nifti
 * byte for byte, image.json is GET …/nifti.json plus the UIDs, every sha256 and size in the
 * manifest matches its file, nibabel reads labels.nii.gz with the SEG's labels on exactly the
 * image's affine and voxels (the bone threshold of the image itself), Range requests answer the
 * right bytes (206) or 416, the CLI writes the same contents. Then a gateway in a child process
 * exports 1,000 instances (10 series of 100, 256×256, with their DICOM files) while its RSS is
 * sampled: the peak growth stays bounded, well under the bundle's size; the bundle then expires
 * (410), the sweep deletes it, and after a restart the record (read at start) says expired.
 * Records are held in memory and written behind: the file follows, and GET reads none. With AUTH=keys, an export is deleted by its owner or an admin
 * only: another reader who sees it gets 403, a reader of another project 404.
 */
import type { ManifestFile } from '../../src/export/bundle';
import { execFile, execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startTestGateway, TestGateway, SHARED_DATA, multipartBody } from '../support/gateway';
import { importFolder } from '../../src/cli/import';
import { ROOT, ensureBuilt, freePort, startServer, ServerProcess } from '../support/server-process';
import { syntheticInstance, randomUid } from '../../src/synthetic/instances';
import { AuthWorld, startAuthWorld } from '../support/auth-world';
import { readAuditMessages } from '../support/audit-files';

jest.setTimeout(600_000);
const exec = promisify(execFile);

type Json = Record<string, { Value?: unknown[] }>;
interface ExportView {
  id: string;
  state: string;
  progress: { seriesDone: number; seriesTotal: number };
  bytes?: number;
  sha256?: string;
  bundle?: string;
  error?: string;
  skipped?: unknown[];
  expires?: string;
}

const sha = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');

async function until<T>(what: string, get: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 180_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await get();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`${what}: still ${JSON.stringify(v).slice(0, 500)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Every file under a folder, by relative path. */
function tree(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath ?? (e as unknown as { path: string }).path, e.name)))
    .sort();
}

describe('export bundles', () => {
  let gw: TestGateway;
  let origin: string;
  let study: string;
  let series: string;
  let seg: string;
  let work: string;

  const api = (p: string, init?: RequestInit) => fetch(`${origin}/api${p}`, init);
  const post = (body: unknown) => api('/exports', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  const finished = (id: string) =>
    until(
      `export ${id}`,
      async () => (await (await api(`/exports/${id}`)).json()) as ExportView,
      (e) => ['done', 'failed', 'cancelled'].includes(e.state),
    );

  beforeAll(async () => {
    ensureBuilt();
    gw = await startTestGateway();
    origin = gw.url.replace(/\/dicom-web$/, '');
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'veilgate-export-'));
    await importFolder(path.join(SHARED_DATA, 'dcm_qa_ct/In/Philips/S21570/S2010'), gw.gateway.config);
    const [s] = (await (await fetch(`${gw.url}/series`)).json()) as Json[];
    study = String(s['0020000D'].Value![0]);
    series = String(s['0020000E'].Value![0]);
    const job = await api('/jobs', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ op: 'segment', input: { study, series }, params: { method: 'threshold', preset: 'bone' } }) });
    expect(job.status).toBe(202);
    const { id } = (await job.json()) as { id: string };
    const done = await until(
      'segment job',
      async () => (await (await api(`/jobs/${id}`)).json()) as { state: string; result?: { seriesInstanceUID: string }[] },
      (j) => ['done', 'failed'].includes(j.state),
    );
    expect(done.state).toBe('done');
    seg = done.result![0].seriesInstanceUID;
  });
  afterAll(async () => {
    await gw?.close();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  test('refuses bad requests before anything is queued', async () => {
    expect((await post({})).status).toBe(400);
    expect((await post({ query: { Modality: 'CT' }, studies: [study] })).status).toBe(400);
    expect((await post({ query: { Modality: 'CT' }, format: 'rar' })).status).toBe(400);
    expect((await post({ query: { NoSuchKey: 'x' } })).status).toBe(400);
    expect((await post({ studies: ['2.25.1'] })).status).toBe(404);
    expect((await post({ query: { Modality: 'MR' } })).status).toBe(404);
    expect((await api('/exports/00000000-0000-4000-8000-000000000000')).status).toBe(404);
    expect((await api('/exports/nope')).status).toBe(400);
  });

  let zipDir: string;
  let zipManifest: { files: ManifestFile[]; skipped: unknown[] };
  let zipFile: Buffer;
  let zipView: ExportView;

  test('an export by query: layout, the NIfTI equals GET …/nifti, every sha256 matches, Range and 416', async () => {
    const res = await post({ query: { Modality: 'CT' } });
    expect(res.status).toBe(202);
    const queued = (await res.json()) as ExportView;
    expect(res.headers.get('location')).toBe(`${origin}/api/exports/${queued.id}`);
    expect(queued.progress).toEqual({ seriesDone: 0, seriesTotal: 2 }); // the CT and its SEG
    zipView = await finished(queued.id);
    expect(zipView.state).toBe('done');
    expect(zipView.progress).toEqual({ seriesDone: 2, seriesTotal: 2 });
    expect(zipView.skipped).toBeUndefined();
    expect(Date.parse(zipView.expires!) - Date.now()).toBeGreaterThan(23 * 3600_000);

    const got = await fetch(zipView.bundle!);
    expect(got.status).toBe(200);
    expect(got.headers.get('content-type')).toBe('application/zip');
    expect(got.headers.get('accept-ranges')).toBe('bytes');
    zipFile = Buffer.from(await got.arrayBuffer());
    expect(zipFile.length).toBe(zipView.bytes);
    expect(sha(zipFile)).toBe(zipView.sha256);
    // On disk as DATA_DIR/exports/<id>.zip, nothing left of the temporary file.
    expect(fs.readdirSync(path.join(gw.dataDir, 'exports')).filter((f) => !f.endsWith('.json'))).toEqual([`${queued.id}.zip`]);

    zipDir = path.join(work, 'zip');
    fs.writeFileSync(path.join(work, 'bundle.zip'), zipFile);
    execFileSync('unzip', ['-q', path.join(work, 'bundle.zip'), '-d', zipDir]);
    const meta = (await (await fetch(`${gw.url}/studies/${study}/series/${series}/metadata`)).json()) as Json[];
    const pseudonym = String(meta[0]['00100020'].Value![0]);
    const files = tree(zipDir);
    expect(files).toEqual(
      [
        'DEIDENTIFICATION.md',
        'manifest.csv',
        'manifest.json',
        `${pseudonym}/${study}/${series}/image.json`,
        `${pseudonym}/${study}/${series}/image.nii.gz`,
        `${pseudonym}/${study}/${seg}/labels.json`,
        `${pseudonym}/${study}/${seg}/labels.nii.gz`,
      ].sort(),
    );
    const at = (p: string) => fs.readFileSync(path.join(zipDir, p));
    // The same bytes as GET …/nifti, and the sidecar GET …/nifti.json answers plus the UIDs.
    const nifti = Buffer.from(await (await fetch(`${origin}/api/studies/${study}/series/${series}/nifti`)).arrayBuffer());
    expect(sha(at(`${pseudonym}/${study}/${series}/image.nii.gz`))).toBe(sha(nifti));
    expect(at(`${pseudonym}/${study}/${series}/image.nii.gz`).equals(nifti)).toBe(true);
    const sidecar = (await (await fetch(`${origin}/api/studies/${study}/series/${series}/nifti.json`)).json()) as Record<string, unknown>;
    expect(JSON.parse(at(`${pseudonym}/${study}/${series}/image.json`).toString())).toEqual({ ...sidecar, StudyInstanceUID: study, SeriesInstanceUID: series });

    // The manifest: every other file, each sha256 and size right; the CSV says the same.
    zipManifest = JSON.parse(at('manifest.json').toString());
    expect(zipManifest.files.map((f) => f.path).sort()).toEqual(files.filter((f) => !f.startsWith('manifest.')));
    for (const f of zipManifest.files) expect([f.path, sha(at(f.path)), at(f.path).length]).toEqual([f.path, f.sha256, f.bytes]);
    const image = zipManifest.files.find((f) => f.path.endsWith('image.nii.gz'))!;
    expect(image).toMatchObject({ pseudonym, study, series, modality: 'CT' });
    expect(zipManifest.files.find((f) => f.path.endsWith('labels.nii.gz'))).toMatchObject({ pseudonym, study, series: seg, modality: 'SEG' });
    const csv = at('manifest.csv').toString().trim().split('\r\n');
    expect(csv[0]).toBe('pseudonym,study,series,modality,path,sha256,bytes');
    expect(csv.slice(1).sort()).toEqual(zipManifest.files.map((f) => [f.pseudonym, f.study, f.series, f.modality, f.path, f.sha256, f.bytes].join(',')).sort());
    const note = at('DEIDENTIFICATION.md').toString();
    expect(note).toContain('Basic Application Confidentiality Profile (DCM 113100)');
    expect(note).toContain('Retain Longitudinal Temporal Information Modified Dates Option (DCM 113107)');
    expect(note).toContain('| cleanDescriptors | true |');

    // Range: one span (206 with Content-Range), the tail, and a range past the end (416).
    const size = zipFile.length;
    const part = await fetch(zipView.bundle!, { headers: { Range: 'bytes=100-1099' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 100-1099/${size}`);
    expect(Buffer.from(await part.arrayBuffer()).equals(zipFile.subarray(100, 1100))).toBe(true);
    const tail = await fetch(zipView.bundle!, { headers: { Range: 'bytes=-500' } });
    expect(tail.status).toBe(206);
    expect(Buffer.from(await tail.arrayBuffer()).equals(zipFile.subarray(size - 500))).toBe(true);
    const beyond = await fetch(zipView.bundle!, { headers: { Range: `bytes=${size + 10}-${size + 20}` } });
    expect(beyond.status).toBe(416);
    expect(beyond.headers.get('content-range')).toBe(`bytes */${size}`);
    await beyond.arrayBuffer();
  });

  test('nibabel reads the label map: the SEG’s labels, on the image’s affine and voxels', async () => {
    const meta = (await (await fetch(`${gw.url}/studies/${study}/series/${seg}/metadata`)).json()) as Json[];
    const segments = (meta[0]['00620002'].Value as Json[]).map((s) => ({ label: Number(s['00620004'].Value![0]), name: String(s['00620005'].Value![0]) }));
    const dir = path.dirname(zipManifest.files.find((f) => f.path.endsWith('labels.nii.gz'))!.path);
    const table = JSON.parse(fs.readFileSync(path.join(zipDir, dir, 'labels.json'), 'utf8')) as { referencedSeriesInstanceUID: string; image: string; labels: { label: number; segmentLabel: string; segmentedPropertyType: { code: string; scheme: string } ; voxels: number }[] };
    expect(table.referencedSeriesInstanceUID).toBe(series);
    expect(fs.existsSync(path.join(zipDir, table.image))).toBe(true);
    expect(table.labels.map((l) => ({ label: l.label, name: l.segmentLabel }))).toEqual(segments);
    expect(table.labels[0].segmentedPropertyType).toMatchObject({ code: '272673000', scheme: 'SCT' });
    const script = `
import json, sys, numpy as np, nibabel as nib
img = nib.load(sys.argv[1]); lab = nib.load(sys.argv[2])
a = np.asanyarray(lab.dataobj); v = img.get_fdata()
mask = (v >= 300) & (v <= 3000)
print(json.dumps({
  "shape": [list(img.shape), list(lab.shape)],
  "affineEqual": bool(np.array_equal(img.affine, lab.affine)),
  "dtype": str(a.dtype),
  "labels": sorted(int(x) for x in np.unique(a)),
  "count": int((a == 1).sum()),
  "maskEqual": bool(np.array_equal(a == 1, mask)),
  "intent": lab.header.get_intent()[0],
}))`;
    const { stdout } = await exec('/usr/bin/python3', ['-c', script, path.join(zipDir, table.image), path.join(zipDir, dir, 'labels.nii.gz')]);
    const r = JSON.parse(stdout) as { shape: number[][]; affineEqual: boolean; dtype: string; labels: number[]; count: number; maskEqual: boolean; intent: string };
    expect(r.shape[1]).toEqual(r.shape[0].slice(0, 3));
    expect(r.affineEqual).toBe(true);
    expect(r.dtype).toBe('uint8');
    expect(r.labels).toEqual([0, ...segments.map((s) => s.label)]);
    expect(r.intent).toBe('label');
    // The bone threshold of the image itself, voxel for voxel: geometry survived SEG and back.
    expect(r.maskEqual).toBe(true);
    expect(r.count).toBe(table.labels[0].voxels);
    expect(r.count).toBeGreaterThan(1000);
  });

  test('a tar of the study list holds the same files; the CLI writes the same contents', async () => {
    const res = await post({ studies: [study], format: 'tar' });
    expect(res.status).toBe(202);
    const t = await finished(((await res.json()) as ExportView).id);
    expect(t.state).toBe('done');
    const got = await fetch(t.bundle!);
    expect(got.headers.get('content-type')).toBe('application/x-tar');
    fs.writeFileSync(path.join(work, 'bundle.tar'), Buffer.from(await got.arrayBuffer()));
    const tarDir = path.join(work, 'tar');
    fs.mkdirSync(tarDir);
    execFileSync('tar', ['-xf', path.join(work, 'bundle.tar'), '-C', tarDir]);
    const tarManifest = JSON.parse(fs.readFileSync(path.join(tarDir, 'manifest.json'), 'utf8')) as { files: ManifestFile[] };
    const sums = (m: { files: ManifestFile[] }) => m.files.filter((f) => f.path !== 'DEIDENTIFICATION.md').map((f) => `${f.path} ${f.sha256}`).sort();
    expect(sums(tarManifest)).toEqual(sums(zipManifest));
    expect(tree(tarDir)).toEqual(tree(zipDir));

    // The CLI, beside the running server, on the same data directory.
    const out = path.join(work, 'cli.zip');
    const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'veilgate-cli-'));
    const { stdout } = await exec(process.execPath, [path.join(ROOT, 'dist/src/cli/main.js'), 'export', '--query', 'Modality=CT', '--out', out], {
      cwd,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: cwd, DATA_DIR: gw.dataDir },
    });
    fs.rmSync(cwd, { recursive: true, force: true });
    expect(JSON.parse(stdout)).toMatchObject({ out, series: 2, skipped: [] });
    const cliDir = path.join(work, 'cli');
    execFileSync('unzip', ['-q', out, '-d', cliDir]);
    expect(tree(cliDir)).toEqual(tree(zipDir));
    for (const f of tree(zipDir).filter((p) => !['manifest.json', 'manifest.csv', 'DEIDENTIFICATION.md'].includes(p))) {
      expect([f, sha(fs.readFileSync(path.join(cliDir, f)))]).toEqual([f, sha(fs.readFileSync(path.join(zipDir, f)))]);
    }
    expect(sums(JSON.parse(fs.readFileSync(path.join(cliDir, 'manifest.json'), 'utf8')))).toEqual(sums(zipManifest));
  });

  test("a download is audited at a caller's first fetch whatever its range, and at every whole fetch", async () => {
    const res = await post({ studies: [study] });
    expect(res.status).toBe(202);
    const e = await finished(((await res.json()) as ExportView).id);
    expect(e.state).toBe('done');
    const uri = `${origin}/api/exports/${e.id}/bundle`;
    const downloads = () => readAuditMessages(gw.dataDir).filter((l) => l.includes('csd-code="110106"') && l.includes(uri)).length;
    const settled = async (n: number) => until(`${n} export audit messages`, async () => downloads(), (c) => c >= n);
    // A suffix range as large as the bundle is the whole bundle: the first fetch, audited.
    const suffix = await fetch(e.bundle!, { headers: { Range: `bytes=-${e.bytes}` } });
    expect(suffix.status).toBe(206);
    expect(Buffer.from(await suffix.arrayBuffer()).length).toBe(e.bytes);
    expect(await settled(1)).toBe(1);
    // The same caller fetching in ranges is the same download.
    for (const r of ['bytes=0-99', 'bytes=100-']) expect((await fetch(e.bundle!, { headers: { Range: r } })).status).toBe(206);
    const whole = await fetch(e.bundle!);
    expect(whole.status).toBe(200);
    await whole.arrayBuffer();
    expect(await settled(2)).toBe(2);
  });

  test('records are held in memory and written behind: the file follows the change, and GET reads none', async () => {
    const file = path.join(gw.dataDir, 'exports', `${zipView.id}.json`);
    // Written behind the change (a temporary file renamed over it): it says done, as GET did.
    const onDisk = await until('the record file', async () => JSON.parse(fs.readFileSync(file, 'utf8')) as { state: string; sha256?: string }, (r) => r.state === 'done', 10_000);
    expect(onDisk.sha256).toBe(zipView.sha256);
    expect(fs.readdirSync(path.dirname(file)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    // GET and the list answer from memory: with the file moved away, the record is still there.
    fs.renameSync(file, `${file}.away`);
    try {
      const res = await api(`/exports/${zipView.id}`);
      expect(res.status).toBe(200);
      expect(((await res.json()) as ExportView).sha256).toBe(zipView.sha256);
      expect(((await (await api('/exports')).json()) as ExportView[]).map((e) => e.id)).toContain(zipView.id);
    } finally {
      fs.renameSync(`${file}.away`, file);
    }
  });

  test('DELETE removes the bundle and its record', async () => {
    const res = await api(`/exports/${zipView.id}`, { method: 'DELETE' });
    expect(res.status).toBe(204);
    expect((await api(`/exports/${zipView.id}`)).status).toBe(404);
    expect((await fetch(zipView.bundle!)).status).toBe(404);
    expect(fs.existsSync(path.join(gw.dataDir, 'exports', `${zipView.id}.zip`))).toBe(false);
  });

  describe('1,000 instances in a child gateway', () => {
    let proc: ServerProcess | undefined;
    let dataDir: string;
    afterAll(async () => {
      await proc?.kill();
      if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
    });

    test('memory stays flat while the bundle streams; then it expires (410) and the sweep deletes it', async () => {
      dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'veilgate-export-mem-'));
      // 10.8 s: long enough to download the bundle, short enough to watch it expire.
      proc = await startServer({ dataDir, port: await freePort(), dimsePort: await freePort(), env: { EXPORT_TTL_HOURS: '0.003' } });
      const base = proc.url.replace(/\/dicom-web$/, '');
      const studyUID = randomUid();
      for (let s = 0; s < 10; s++) {
        const seriesUID = randomUid();
        const parts = Array.from({ length: 100 }, (_, i) => syntheticInstance({ studyUID, seriesUID, patientID: 'MEM-1', seriesNumber: s + 1, instanceNumber: i + 1, rows: 256, columns: 256, seed: s * 1000 + i }).bytes);
        const { body, contentType } = multipartBody(parts);
        const stow = await fetch(`${proc.url}/studies`, { method: 'POST', headers: { 'Content-Type': contentType }, body });
        expect(stow.status).toBe(200);
        await stow.arrayBuffer();
      }
      const rss = () => Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${proc!.pid}/status`, 'utf8'))![1]) * 1024;
      await new Promise((r) => setTimeout(r, 1000));
      const baseline = rss();
      let peak = baseline;
      const sampler = setInterval(() => (peak = Math.max(peak, rss())), 25);
      const t0 = Date.now();
      let view: ExportView;
      try {
        const res = await fetch(`${base}/api/exports`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ query: { Modality: 'CT' }, includeDicom: true }) });
        expect(res.status).toBe(202);
        const { id } = (await res.json()) as ExportView;
        view = await until(
          'the 1,000-instance export',
          async () => (await (await fetch(`${base}/api/exports/${id}`)).json()) as ExportView,
          (e) => ['done', 'failed'].includes(e.state),
          300_000,
        );
      } finally {
        clearInterval(sampler);
      }
      const seconds = (Date.now() - t0) / 1000;
      expect(view.state).toBe('done');
      expect(view.progress).toEqual({ seriesDone: 10, seriesTotal: 10 });
      const growth = peak - baseline;
      const MB = 1024 * 1024;
      console.log(`export of 1,000 instances: bundle ${(view.bytes! / MB).toFixed(1)} MB in ${seconds.toFixed(1)} s; RSS baseline ${(baseline / MB).toFixed(0)} MB, peak ${(peak / MB).toFixed(0)} MB, growth ${(growth / MB).toFixed(1)} MB`);
      expect(view.bytes!).toBeGreaterThan(125 * MB);
      // Bounded, and well under the bundle (buffering it would add all of it; 30 such series measured 46 MB).
      expect(growth).toBeLessThan(100 * MB);

      // The bundle as a client sees it: 1,000 DICOM files, 10 volumes and sidecars, the manifests.
      const file = path.join(dataDir, 'downloaded.zip');
      const got = await fetch(view.bundle!);
      expect(got.status).toBe(200);
      fs.writeFileSync(file, Buffer.from(await got.arrayBuffer()));
      expect(sha(fs.readFileSync(file))).toBe(view.sha256);
      const listing = execFileSync('unzip', ['-Z1', file]).toString().trim().split('\n');
      expect(listing.filter((l) => l.endsWith('.dcm'))).toHaveLength(1000);
      expect(listing.filter((l) => l.endsWith('image.nii.gz'))).toHaveLength(10);
      fs.rmSync(file);

      // Expiry: 410 Gone, and the sweep deletes the file (the record stays, as a tombstone).
      await until('expiry', async () => (await fetch(view.bundle!)).status, (s) => s === 410, 30_000);
      expect(((await (await fetch(`${base}/api/exports/${view.id}`)).json()) as ExportView).state).toBe('expired');
      await until('the sweep', async () => fs.existsSync(path.join(dataDir, 'exports', `${view.id}.zip`)), (x) => !x, 30_000);
      expect((await fetch(view.bundle!)).status).toBe(410);

      // The records are read at start: after a restart the tombstone is still there.
      await proc.kill();
      proc = await startServer({ dataDir, port: await freePort(), dimsePort: await freePort(), env: { EXPORT_TTL_HOURS: '0.003' } });
      const again = await fetch(`${proc.url.replace(/\/dicom-web$/, '')}/api/exports/${view.id}`);
      expect(again.status).toBe(200);
      expect(((await again.json()) as ExportView).state).toBe('expired');
    });
  });
});

describe('who may delete an export (AUTH=keys)', () => {
  let w: AuthWorld;
  beforeAll(async () => {
    w = await startAuthWorld();
  });
  afterAll(async () => {
    await w?.close();
  });

  test('its owner or an admin deletes it; another reader of the project gets 403, another project 404', async () => {
    const colleague = (await w.gw.gateway.keys.add('readA-colleague', ['read'], ['A'])).key;
    const status = async (key: string, p: string, init?: RequestInit) => {
      const res = await w.request(key, p, init);
      await res.arrayBuffer();
      return res.status;
    };
    const submit = async () => {
      const res = await w.request(w.keys.readA, '/api/exports', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ studies: [w.A.study] }) });
      expect(res.status).toBe(202);
      return ((await res.json()) as ExportView).id;
    };
    const DELETE = { method: 'DELETE' };
    const [mine, other] = [await submit(), await submit()];
    const done = await until('the owner’s export', async () => (await (await w.request(w.keys.readA, `/api/exports/${mine}`)).json()) as ExportView, (e) => ['done', 'failed'].includes(e.state));
    expect(done.state).toBe('done');
    // The colleague sees it, may download it, and may not delete it.
    expect(await status(colleague, `/api/exports/${mine}`)).toBe(200);
    expect(await status(colleague, `/api/exports/${mine}/bundle`)).toBe(200);
    expect(await status(colleague, `/api/exports/${mine}`, DELETE)).toBe(403);
    expect(await status(w.keys.readB, `/api/exports/${mine}`, DELETE)).toBe(404);
    expect(await status(w.keys.ingestA, `/api/exports/${mine}`, DELETE)).toBe(403);
    expect(await status(w.keys.readA, `/api/exports/${mine}/bundle`)).toBe(200); // untouched
    expect(await status(w.keys.readA, `/api/exports/${mine}`, DELETE)).toBe(204);
    expect(await status(w.keys.readA, `/api/exports/${mine}`)).toBe(404);
    expect(fs.existsSync(path.join(w.gw.dataDir, 'exports', `${mine}.zip`))).toBe(false);
    // An admin deletes anyone's.
    expect(await status(w.keys.adminAll, `/api/exports/${other}`, DELETE)).toBe(204);
    expect(await status(w.keys.readA, `/api/exports/${other}`)).toBe(404);
  });
});
