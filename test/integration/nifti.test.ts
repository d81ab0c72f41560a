/**
 * Series → NIfTI through the gateway, against Debian's native dcm2niix on the original
 * files (nibabel compares: dimensions, affine within 1e-3 mm, voxels after scaling); NIfTI
 * back to a derived DICOM series (round trip, dciodvfy), and refusals.
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { startTestGateway, TestGateway, SHARED_DATA } from '../support/gateway';
import { importFolder } from '../../src/cli/import';
import { readNifti, writeNifti } from '../../src/convert/nifti';
import { loadConfig } from '../../src/config';

jest.setTimeout(300_000);
const exec = promisify(execFile);
const PYTHON = '/usr/bin/python3';

type Json = Record<string, { Value?: unknown[] }>;

/**
 * Reference: Debian's dcm2niix on the original files, or the Ref/ NIfTIs shipped with the data
 * where Debian's build cannot read them (it has no JPEG-LS decoder).
 */
const CASES: { name: string; folder: string; reference?: string }[] = [
  { name: 'GE CT, gantry tilt and uneven spacing', folder: 'dcm_qa_ct/In/GE' },
  { name: 'Philips CT', folder: 'dcm_qa_ct/In/Philips/S21570/S2010' },
  { name: 'MR in nine transfer syntaxes', folder: 'dcm_qa_ts/In', reference: 'dcm_qa_ts/Ref' },
  { name: 'Philips enhanced MR', folder: 'dcm_qa_enh/In/Philips' },
  { name: 'Siemens XA enhanced MR', folder: 'dcm_qa_enh/In/Siemens/XA10' },
  { name: 'GE MR (NIH)', folder: 'dcm_qa_nih/In/20180918GE/mr_0004' },
];

/** dcm2niix's best outputs, as the gateway chooses them: corrected volumes replace their raw ones. */
function referenceVolumes(dir: string): string[] {
  const niis = fs.readdirSync(dir).filter((f) => f.endsWith('.nii'));
  const corrected = new Set(niis.filter((n) => /_(Tilt_Eq|Eq)_\d+\.nii$/.test(n)).map((n) => n.replace(/_(Tilt_Eq|Eq)_\d+\.nii$/, '.nii')));
  return niis.filter((n) => !corrected.has(n) && !/_Tilt_\d+\.nii$/.test(n)).map((n) => path.join(dir, n));
}

describe('series ⇄ NIfTI', () => {
  let gw: TestGateway;
  let work: string;
  const seriesOf = new Map<string, { study: string; series: string }>();

  async function seriesList(): Promise<{ study: string; series: string }[]> {
    const all = (await (await fetch(`${gw.url}/series?limit=1000`)).json()) as Json[];
    return all.map((s) => ({ study: String(s['0020000D'].Value![0]), series: String(s['0020000E'].Value![0]) }));
  }

  async function getVolume(study: string, series: string, volume: number, file: string): Promise<number> {
    const res = await fetch(`${gw.url.replace('/dicom-web', '/api')}/studies/${study}/series/${series}/nifti?format=nii&volume=${volume}`);
    expect(res.status).toBe(200);
    fs.writeFileSync(file, Buffer.from(await res.arrayBuffer()));
    return Number(res.headers.get('x-volume-count'));
  }

  beforeAll(async () => {
    // Retain Safe Private keeps the Siemens mosaic slice count (0019,xx0A) that dcm_qa_ts needs.
    gw = await startTestGateway({ deid: { ...loadConfig({}).deid, options: { ...loadConfig({}).deid.options, retainSafePrivate: true } } });
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'veilgate-nifti-'));
    for (const c of CASES) {
      const before = new Set((await seriesList()).map((s) => s.series));
      await importFolder(path.join(SHARED_DATA, c.folder), gw.gateway.config);
      const added = (await seriesList()).filter((s) => !before.has(s.series));
      expect([c.name, added.length]).toEqual([c.name, 1]);
      seriesOf.set(c.name, added[0]);
    }
  });
  afterAll(async () => {
    await gw.close();
    fs.rmSync(work, { recursive: true, force: true });
  });

  test('every series converts to what native dcm2niix makes of the original files', async () => {
    const cases = [];
    for (const c of CASES) {
      const { study, series } = seriesOf.get(c.name)!;
      const dir = path.join(work, c.name.replace(/\W+/g, '_'));
      fs.mkdirSync(path.join(dir, 'ref'), { recursive: true });
      if (c.reference) {
        for (const f of fs.readdirSync(path.join(SHARED_DATA, c.reference)).filter((n) => n.endsWith('.nii'))) {
          fs.copyFileSync(path.join(SHARED_DATA, c.reference, f), path.join(dir, 'ref', f));
        }
      } else {
        execFileSync('dcm2niix', ['-o', path.join(dir, 'ref'), '-z', 'n', '-b', 'y', '-f', '%s_%p', path.join(SHARED_DATA, c.folder)], { stdio: 'ignore' });
      }
      const ours: string[] = [];
      const count = await getVolume(study, series, 0, path.join(dir, 'ours_0.nii'));
      ours.push(path.join(dir, 'ours_0.nii'));
      for (let v = 1; v < count; v++) {
        await getVolume(study, series, v, path.join(dir, `ours_${v}.nii`));
        ours.push(path.join(dir, `ours_${v}.nii`));
      }
      cases.push({ case: c.name, ours, reference: referenceVolumes(path.join(dir, 'ref')) });
    }
    const result = spawnSync(PYTHON, [path.join(__dirname, '../support/nifti_compare.py')], { input: JSON.stringify(cases), encoding: 'utf8' });
    expect(result.stderr).toBe('');
    const report = JSON.parse(result.stdout) as { case: string; problems: string[]; matched: number }[];
    for (const r of report) expect({ case: r.case, problems: r.problems }).toEqual({ case: r.case, problems: [] });
    expect(report.map((r) => r.matched).reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(CASES.length);
  });

  test('gzip by default, the BIDS sidecar from the de-identified header, and clear errors', async () => {
    const { study, series } = seriesOf.get('Philips CT')!;
    const api = gw.url.replace('/dicom-web', '/api');
    const gz = await fetch(`${api}/studies/${study}/series/${series}/nifti`);
    expect(gz.headers.get('content-type')).toBe('application/gzip');
    const nii = readNifti(gunzipSync(Buffer.from(await gz.arrayBuffer())));
    expect(nii.dims.slice(0, 3)).toEqual([512, 512, 28]);
    const sidecar = (await (await fetch(`${api}/studies/${study}/series/${series}/nifti.json`)).json()) as Record<string, unknown>;
    expect(sidecar.Modality).toBe('CT');
    expect(JSON.stringify(sidecar)).not.toMatch(/PatientName|PatientID|PatientBirthDate/);
    expect((await fetch(`${api}/studies/${study}/series/${series}/nifti?volume=7`)).status).toBe(400);
    expect((await fetch(`${api}/studies/${study}/series/${series}/nifti?format=mgz`)).status).toBe(400);
    expect((await fetch(`${api}/studies/${study}/series/2.25.1/nifti`)).status).toBe(404);
    expect((await fetch(`${api}/studies/${study}/series/${series}/nifti`, { headers: { Accept: 'text/html' } })).status).toBe(406);
  });

  test('round trip: NIfTI posted back becomes a derived series that converts to the same voxels and affine', async () => {
    const api = gw.url.replace('/dicom-web', '/api');
    for (const name of ['Philips CT', 'MR in nine transfer syntaxes', 'Philips enhanced MR']) {
      const { study, series } = seriesOf.get(name)!;
      const dir = path.join(work, `roundtrip_${name.replace(/\W+/g, '_')}`);
      fs.mkdirSync(dir);
      await getVolume(study, series, 0, path.join(dir, 'source.nii'));
      const post = await fetch(`${api}/studies/${study}/series/${series}/nifti?description=round%20trip`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/octet-stream' },
        body: fs.readFileSync(path.join(dir, 'source.nii')),
      });
      expect([name, post.status, post.status === 201 ? '' : await post.text()]).toEqual([name, 201, '']);
      const created = (await post.json()) as { seriesInstanceUID: string; instances: number; kind: string; retrieveURL: string };
      // The derived series is in QIDO with its source's study, as DERIVED\SECONDARY.
      const inStudy = (await (await fetch(`${gw.url}/studies/${study}/series?SeriesInstanceUID=${created.seriesInstanceUID}&includefield=00080008`)).json()) as Json[];
      expect(inStudy).toHaveLength(1);
      await getVolume(study, created.seriesInstanceUID, 0, path.join(dir, 'again.nii'));
      const cmp = spawnSync(PYTHON, [path.join(__dirname, '../support/nifti_compare.py')], {
        // Philips precise values are reals far beyond 16 bits: they come back within one quantum.
        input: JSON.stringify([{ case: name, ours: [path.join(dir, 'again.nii')], reference: [path.join(dir, 'source.nii')], quantised: name === 'Philips enhanced MR' }]),
        encoding: 'utf8',
      });
      expect(JSON.parse(cmp.stdout)[0].problems).toEqual([]);
      // Every created instance passes dciodvfy without errors.
      const instances = (await (await fetch(`${gw.url}/studies/${study}/series/${created.seriesInstanceUID}/instances`)).json()) as Json[];
      expect(instances).toHaveLength(created.instances);
      const sample = instances.filter((_, i) => i % Math.ceil(instances.length / 4) === 0);
      for (const inst of sample) {
        const url = `${gw.url}/studies/${study}/series/${created.seriesInstanceUID}/instances/${inst['00080018'].Value![0]}`;
        const res = await fetch(url, { headers: { Accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' } });
        const body = Buffer.from(await res.arrayBuffer());
        const start = body.indexOf(Buffer.from('DICM')) - 128;
        const end = body.lastIndexOf(Buffer.from('\r\n--'));
        const file = path.join(dir, 'instance.dcm');
        fs.writeFileSync(file, body.subarray(start, end));
        const { stderr } = await exec('dciodvfy', [file]).catch((e) => e as { stderr: string });
        expect([name, stderr.split('\n').filter((l) => l.startsWith('Error'))]).toEqual([name, []]);
      }
    }
  });

  test('a volume on another grid is refused with 422 and stores nothing', async () => {
    const { study, series } = seriesOf.get('Philips CT')!;
    const file = path.join(work, 'shifted.nii');
    await getVolume(study, series, 0, file);
    const v = readNifti(fs.readFileSync(file));
    v.affine[2][3] += 0.37; // off the slice grid by a fraction of a slice
    const before = await gw.gateway.index.counts();
    const res = await fetch(`${gw.url.replace('/dicom-web', '/api')}/studies/${study}/series/${series}/nifti`, { method: 'POST', body: writeNifti(v) });
    expect(res.status).toBe(422);
    expect(await res.text()).toMatch(/grid/);
    expect(await gw.gateway.index.counts()).toEqual(before);
    // A 4D series (fMRI time points) cannot come back as one derived image series.
    const nih = seriesOf.get('GE MR (NIH)')!;
    const fourD = path.join(work, 'fourD.nii');
    await getVolume(nih.study, nih.series, 0, fourD);
    const res4d = await fetch(`${gw.url.replace('/dicom-web', '/api')}/studies/${nih.study}/series/${nih.series}/nifti`, { method: 'POST', body: fs.readFileSync(fourD) });
    expect(res4d.status).toBe(422);
    expect(await res4d.text()).toMatch(/only a 3D volume/);
    const garbage = await fetch(`${gw.url.replace('/dicom-web', '/api')}/studies/${study}/series/${series}/nifti`, { method: 'POST', body: Buffer.from('not a nifti') });
    expect(garbage.status).toBe(400);
  });
});

describe('a Siemens mosaic de-identified without its private slice count', () => {
  test('is refused with the reason, not cut into a guessed number of slices', async () => {
    const gw = await startTestGateway();
    try {
      await importFolder(path.join(SHARED_DATA, 'dcm_qa_ts/In'), gw.gateway.config);
      const [s] = (await (await fetch(`${gw.url}/series`)).json()) as Json[];
      const res = await fetch(`${gw.url.replace('/dicom-web', '/api')}/studies/${s['0020000D'].Value![0]}/series/${s['0020000E'].Value![0]}/nifti`);
      expect(res.status).toBe(422);
      expect(await res.text()).toMatch(/NumberOfImagesInMosaic.*Retain Safe Private/);
    } finally {
      await gw.close();
    }
  });
});
