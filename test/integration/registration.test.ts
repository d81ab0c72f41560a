/**
 * Registration (elastix in WebAssembly on the job's thread) on a pair made here: the 28-slice
 * Philips CT, and the same CT moved by a known rigid transform (scipy.ndimage.affine_transform,
 * posted back as a series on the same grid). The rigid registration must recover the transform
 * (points within 1 mm, rotation within 1°); its result is a derived series on the fixed grid,
 * in the fixed frame of reference, closer to the fixed series than the moving one was, valid for
 * dciodvfy, with the transform in DerivationDescription.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startTestGateway, TestGateway, SHARED_DATA, parseMultipart } from '../support/gateway';
import { applyRigid, eulerMatrix, rigidOf } from '../../src/processing/register';

jest.setTimeout(300_000);

const exec = promisify(execFile);
type Json = Record<string, { Value?: unknown[] }>;
type Vec = [number, number, number];

/** The known transform, LPS mm, as elastix reports one: x ↦ R(x − c) + c + t, fixed points to moving points. */
const TRUE_ANGLES: Vec = [0, 0, (4 * Math.PI) / 180];
const TRUE_TRANSLATION: Vec = [6, -4, 3];

const MOVE = `
import sys, json, numpy as np, nibabel as nib
from scipy import ndimage
src, out, angles, t, c = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4]), json.loads(sys.argv[5])
img = nib.load(src); data = np.asarray(img.dataobj, dtype=np.float32); A = img.affine
rx, ry, rz = angles
Rx = np.array([[1,0,0],[0,np.cos(rx),-np.sin(rx)],[0,np.sin(rx),np.cos(rx)]])
Ry = np.array([[np.cos(ry),0,np.sin(ry)],[0,1,0],[-np.sin(ry),0,np.cos(ry)]])
Rz = np.array([[np.cos(rz),-np.sin(rz),0],[np.sin(rz),np.cos(rz),0],[0,0,1]])
R = Rz @ Rx @ Ry
T = np.eye(4); T[:3,:3] = R; T[:3,3] = np.array(c) + np.array(t) - R @ np.array(c)
F = np.diag([-1.0, -1.0, 1.0, 1.0])
# moving(q) = fixed(T^-1 q): the output voxel's input voxel, through RAS -> LPS -> T^-1 -> RAS.
M = np.linalg.inv(A) @ F @ np.linalg.inv(T) @ F @ A
moved = ndimage.affine_transform(data, M[:3,:3], offset=M[:3,3], order=1, cval=float(data.min()))
nib.save(nib.Nifti1Image(moved.astype(np.int16), A, img.header), out)
`;

const CORRELATION = `
import sys, numpy as np, nibabel as nib
a = np.asarray(nib.load(sys.argv[1]).dataobj, dtype=np.float64).ravel(); b = np.asarray(nib.load(sys.argv[2]).dataobj, dtype=np.float64).ravel()
print(np.corrcoef(a, b)[0, 1])
`;

async function python(script: string, ...args: string[]): Promise<string> {
  const { stdout } = await exec('/usr/bin/python3', ['-c', script, ...args], { maxBuffer: 1 << 24 });
  return stdout.trim();
}

describe('registration', () => {
  const report: string[] = [];
  let gw: TestGateway;
  let work: string;
  const api = () => gw.url.replace(/\/dicom-web$/, '/api');

  beforeAll(async () => {
    gw = await startTestGateway();
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'veilgate-register-'));
  });
  afterAll(async () => {
    if (report.length) console.log(`registration (rigid, elastix): ${report.join('; ')}`);
    await gw?.close();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  test('a known rigid transform is recovered and the moving series lands on the fixed grid', async () => {
    const folder = path.join(SHARED_DATA, 'dcm_qa_ct/In/Philips/S21570/S2010');
    for (const f of fs.readdirSync(folder).filter((n) => n !== 'DIRFILE')) {
      expect((await fetch(`${gw.url}/studies`, { method: 'POST', headers: { 'Content-Type': 'application/dicom' }, body: fs.readFileSync(path.join(folder, f)) })).status).toBe(200);
    }
    const [fixedRow] = (await (await fetch(`${gw.url}/series`)).json()) as Json[];
    const study = String(fixedRow['0020000D'].Value![0]);
    const fixedSeries = String(fixedRow['0020000E'].Value![0]);
    const fixedNii = path.join(work, 'fixed.nii');
    fs.writeFileSync(fixedNii, Buffer.from(await (await fetch(`${api()}/studies/${study}/series/${fixedSeries}/nifti?format=nii`)).arrayBuffer()));

    // The centre of rotation: the volume's centre, in LPS.
    const centre = JSON.parse(
      await python(
        'import sys, json, numpy as np, nibabel as nib\nimg = nib.load(sys.argv[1]); c = img.affine @ np.array([*(np.array(img.shape[:3]) - 1) / 2, 1])\nprint(json.dumps([-c[0], -c[1], c[2]]))',
        fixedNii,
      ),
    ) as Vec;
    const movingNii = path.join(work, 'moving.nii');
    await python(MOVE, fixedNii, movingNii, JSON.stringify(TRUE_ANGLES), JSON.stringify(TRUE_TRANSLATION), JSON.stringify(centre));
    const posted = await fetch(`${api()}/studies/${study}/series/${fixedSeries}/nifti?description=moved`, { method: 'POST', headers: { 'Content-Type': 'application/octet-stream' }, body: fs.readFileSync(movingNii) });
    expect(posted.status).toBe(201);
    const movingSeries = ((await posted.json()) as { seriesInstanceUID: string }).seriesInstanceUID;

    const submitted = await fetch(`${api()}/jobs`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ op: 'register', input: { study, series: movingSeries }, params: { transform: 'rigid', fixed: { study, series: fixedSeries } } }),
    });
    expect(submitted.status).toBe(202);
    let job = (await submitted.json()) as { id: string; state: string; error?: string; transform?: Record<string, string[]>; result?: { seriesInstanceUID: string; instances: number }[] };
    const until = Date.now() + 240_000;
    while (!['done', 'failed'].includes(job.state) && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 500));
      job = (await (await fetch(`${api()}/jobs/${job.id}`)).json()) as typeof job;
    }
    expect([job.state, job.error]).toEqual(['done', undefined]);

    // The transform: every test point within 1 mm of where the known one sends it, the rotation within 1°.
    const found = rigidOf(job.transform!)!;
    expect(found).toBeDefined();
    const truth = { angles: TRUE_ANGLES, translation: TRUE_TRANSLATION, center: centre };
    const offsets: Vec[] = [[0, 0, 0], [60, 0, 0], [0, 60, 0], [0, 0, 40], [-60, -60, -40], [60, -60, 40]];
    const errors = offsets.map((o) => {
      const p: Vec = [centre[0] + o[0], centre[1] + o[1], centre[2] + o[2]];
      const a = applyRigid(found, p);
      const b = applyRigid(truth, p);
      return Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);
    });
    const Rf = eulerMatrix(found.angles);
    const Rt = eulerMatrix(TRUE_ANGLES);
    const trace = [0, 1, 2].reduce((s, i) => s + [0, 1, 2].reduce((t, k) => t + Rf[i][k] * Rt[i][k], 0), 0);
    const rotationError = (Math.acos(Math.min(1, (trace - 1) / 2)) * 180) / Math.PI;
    report.push(`points within ${Math.max(...errors).toFixed(3)} mm of the known transform, rotation within ${rotationError.toFixed(3)}°`);
    expect(Math.max(...errors)).toBeLessThan(1);
    expect(rotationError).toBeLessThan(1);

    // The result: on the fixed grid, in the fixed frame of reference, like the fixed series.
    const resultSeries = job.result![0].seriesInstanceUID;
    const rows = (await (await fetch(`${gw.url}/studies/${study}/series/${resultSeries}/instances?includefield=00200052,00200032,00081111`)).json()) as Json[];
    expect(rows).toHaveLength(28);
    const fixedRows = (await (await fetch(`${gw.url}/studies/${study}/series/${fixedSeries}/instances?includefield=00200052,00200032`)).json()) as Json[];
    expect(new Set(rows.map((r) => String(r['00200052'].Value![0])))).toEqual(new Set([String(fixedRows[0]['00200052'].Value![0])]));
    const positions = (list: Json[]) => list.map((r) => (r['00200032'].Value as number[]).map((v) => v.toFixed(2)).join('\\')).sort();
    expect(positions(rows)).toEqual(positions(fixedRows));
    const resultNii = path.join(work, 'result.nii');
    fs.writeFileSync(resultNii, Buffer.from(await (await fetch(`${api()}/studies/${study}/series/${resultSeries}/nifti?format=nii`)).arrayBuffer()));
    const before = Number(await python(CORRELATION, fixedNii, movingNii));
    const after = Number(await python(CORRELATION, fixedNii, resultNii));
    report.push(`correlation with the fixed series: moving ${before.toFixed(3)}, registered ${after.toFixed(3)}`);
    expect(after).toBeGreaterThan(0.97);
    expect(after).toBeGreaterThan(before + 0.05);

    // One instance: valid, with the transform in DerivationDescription.
    const sop = String(rows[0]['00080018'].Value![0]);
    const res = await fetch(`${gw.url}/studies/${study}/series/${resultSeries}/instances/${sop}`, { headers: { Accept: 'multipart/related; type="application/dicom"' } });
    const [part] = parseMultipart(Buffer.from(await res.arrayBuffer()), res.headers.get('content-type')!);
    const file = path.join(work, 'registered.dcm');
    fs.writeFileSync(file, part.body);
    const { stderr } = await exec('dciodvfy', [file]).catch((e) => e as { stderr: string });
    expect(stderr.split('\n').filter((l) => l.startsWith('Error'))).toEqual([]);
    const derivation = await python('import sys, pydicom\nprint(pydicom.dcmread(sys.argv[1]).DerivationDescription)', file);
    expect(derivation).toMatch(/register: transform=rigid, elastix EulerTransform \[/);
  });

  test('a fixed series the caller cannot see, or malformed, is refused before the job is queued', async () => {
    const [row] = (await (await fetch(`${gw.url}/series`)).json()) as Json[];
    const input = { study: String(row['0020000D'].Value![0]), series: String(row['0020000E'].Value![0]) };
    const post = (params: unknown) => fetch(`${api()}/jobs`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ op: 'register', input, params }) });
    expect((await post({ transform: 'rigid', fixed: { study: input.study, series: '2.25.1' } })).status).toBe(404);
    expect((await post({ transform: 'warp', fixed: input })).status).toBe(400);
    expect((await post({ transform: 'rigid', fixed: { study: "1' OR 1=1", series: input.series } })).status).toBe(400);
  });
});
