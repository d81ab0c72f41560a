/**
 * The direct series → NIfTI path (src/convert/direct-*.ts) against dcm2niix itself.
 *
 * Every shared series that takes the direct path, and synthetic stacks that exercise what the
 * shared data does not (slices stored top to bottom, an oblique MR, unsigned and 8-bit
 * pixels), is converted three ways: through the gateway's HTTP API (auto), by the direct
 * path, and by the WebAssembly dcm2niix the gateway used before. The direct output must be
 * byte-identical to dcm2niix's: all 352 header bytes (dim, pixdim, datatype, bitpix,
 * scl_slope/inter, qform/sform codes and matrices, quatern_*, xyzt_units, descrip, aux_file,
 * vox_offset, intent) and every voxel; its BIDS sidecar equal but for BidsGuess and the
 * converter's name. Debian's native dcm2niix on the original files is compared through
 * nibabel (an independent reader). Series the direct path must not take (gantry tilt,
 * uneven spacing, enhanced multi-frame, several orientations) still go to dcm2niix.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTestGateway, TestGateway, SHARED_DATA } from '../support/gateway';
import { importFolder } from '../../src/cli/import';
import { seriesNifti, SeriesNifti } from '../../src/convert/series-nifti';
import { syntheticDataset, randomUid } from '../../src/synthetic/instances';
import { writePart10 } from '../../src/dicom/write';
import { TS } from '../../src/dicom/transfer-syntax';
import { stringElement, uint16Element } from '../../src/dicom/values';
import { Tags } from '../../src/dicom/tags';
import { ingest } from '../../src/ingest/ingest';
import { VeilgateError } from '../../src/errors';
import { directStack } from '../../src/convert/direct-eligibility';
import { writeDirectNifti } from '../../src/convert/direct-nifti';
import { movable } from '../../src/workers/transfer';
import type { DicomJson } from '../../src/dicom/json';

jest.setTimeout(900_000);
const PYTHON = '/usr/bin/python3';
const NATIVE = '/usr/bin/dcm2niix';

type Json = Record<string, { Value?: unknown[] }>;
interface Case {
  name: string;
  /** Original files, for native dcm2niix (undefined: not comparable as a folder). */
  folder?: string;
  direct: number;
  viaDcm2niix: number;
  /** The reason the direct path refuses (for the dcm2niix series). */
  reason?: RegExp;
}

/** Shared series: how many of each folder's series take each path. */
const SHARED: Case[] = [
  { name: 'Philips CT 512×512×28', folder: 'dcm_qa_ct/In/Philips/S21570/S2010', direct: 1, viaDcm2niix: 0 },
  { name: 'GE CT 512×512×3', folder: 'dcmqi/data/segmentations/ct-3slice', direct: 1, viaDcm2niix: 0 },
  { name: 'GE CT 23×38×3, unsigned', folder: 'dcmqi/data/segmentations/23x38x3/image', direct: 1, viaDcm2niix: 0 },
  { name: 'GE CT 24×38×3, unsigned', folder: 'dcmqi/data/segmentations/24x38x3/image', direct: 1, viaDcm2niix: 0 },
  { name: 'GE CT 16×16×5', folder: 'pydicom/dicomdirtests/98892001/CT5N', direct: 1, viaDcm2niix: 0 },
  { name: 'Philips MR localizers, one slice each', folder: 'pydicom/dicomdirtests/98892003/MR1', direct: 3, viaDcm2niix: 0 },
  { name: 'Philips MR localizer and two three-orientation pilots', folder: 'pydicom/dicomdirtests/98892003/MR2', direct: 1, viaDcm2niix: 2, reason: /00200037 varies/ },
  { name: 'GE CT, gantry tilt and uneven spacing', folder: 'dcm_qa_ct/In/GE', direct: 0, viaDcm2niix: 1, reason: /tilt|spacing/ },
  { name: 'GE CT, uneven spacing', folder: 'pydicom/dicomdirtests/77654033/CT2', direct: 0, viaDcm2niix: 1, reason: /spacing|spatial order/ },
  { name: 'GE CT scout pair, 45° apart', folder: 'pydicom/dicomdirtests/98892001/CT2N', direct: 0, viaDcm2niix: 1 },
  { name: 'Philips enhanced MR', folder: 'dcm_qa_enh/In/Philips', direct: 0, viaDcm2niix: 1, reason: /multi-frame|SOP class/ },
  { name: 'Siemens XA enhanced MR', folder: 'dcm_qa_enh/In/Siemens/XA10', direct: 0, viaDcm2niix: 1, reason: /multi-frame|SOP class/ },
];
/** Single files, each its own series. */
const SINGLE_FILES = ['pydicom/CT_small.dcm', 'pydicom/MR_small.dcm'];

interface Synthetic {
  name: string;
  slices: number;
  size: number;
  modality: 'CT' | 'MR';
  /** Instance numbers run against z (dcm2niix then flips the slice order). */
  topDown?: boolean;
  oblique?: boolean;
  pixels?: 'uint16' | 'uint8';
}

const SYNTHETIC: Synthetic[] = [
  { name: 'synthetic CT numbered top to bottom', slices: 12, size: 48, modality: 'CT', topDown: true },
  { name: 'synthetic CT of 60 slices (more than the frames in flight)', slices: 60, size: 40, modality: 'CT' },
  { name: 'synthetic oblique MR, row phase encoding', slices: 9, size: 40, modality: 'MR', oblique: true },
  { name: 'synthetic oblique MR numbered top to bottom', slices: 7, size: 32, modality: 'MR', oblique: true, topDown: true },
  { name: 'synthetic unsigned 16-bit CT above 32767', slices: 5, size: 32, modality: 'CT', pixels: 'uint16' },
  { name: 'synthetic 8-bit MR', slices: 6, size: 30, modality: 'MR', pixels: 'uint8' },
];

const round6 = (v: number) => Number(v.toFixed(6));
const ds = (v: number[]) => v.map((x) => String(round6(x))).join('\\');

/** The files of one synthetic series, as Part 10 bytes. */
function syntheticFiles(s: Synthetic): Buffer[] {
  const studyUID = randomUid();
  const seriesUID = randomUid();
  let row = [1, 0, 0];
  let col = [0, 1, 0];
  if (s.oblique) {
    const norm = (v: number[]) => v.map((x) => x / Math.hypot(...v));
    row = norm([0.94, 0.31, 0.12]).map(round6);
    const c = [-0.3, 0.9, 0.25];
    const d = c[0] * row[0] + c[1] * row[1] + c[2] * row[2];
    col = norm(c.map((x, i) => x - d * row[i])).map(round6);
  }
  const normal = [row[1] * col[2] - row[2] * col[1], row[2] * col[0] - row[0] * col[2], row[0] * col[1] - row[1] * col[0]];
  const spacing = s.oblique ? 3.3 : 2.5;
  const out: Buffer[] = [];
  for (let k = 1; k <= s.slices; k++) {
    const z = s.topDown ? s.slices - k : k - 1;
    const origin = [-60.25, 33.5, 12.125].map((o, i) => o + z * spacing * normal[i]);
    const { dataset, uids } = syntheticDataset({ studyUID, seriesUID, instanceNumber: k, rows: s.size, columns: s.size + 2, modality: s.modality, seriesDescription: s.name });
    const set = (t: number, vr: string, v: string) => dataset.set(t, stringElement(t, vr, v));
    set(0x00200032, 'DS', ds(origin));
    set(0x00200037, 'DS', ds([...row, ...col]));
    set(0x00280030, 'DS', s.oblique ? '0.8984375\\0.8984375' : '0.5\\0.5');
    set(0x00180050, 'DS', String(spacing));
    set(0x00080032, 'TM', `10${String(20 + k).padStart(2, '0')}33.0625`);
    set(0x00080022, 'DA', '20240102');
    let sop = '1.2.840.10008.5.1.4.1.1.2';
    if (s.modality === 'MR') {
      sop = '1.2.840.10008.5.1.4.1.1.4';
      set(Tags.SOPClassUID, 'UI', sop);
      set(0x00080070, 'LO', 'Philips Medical Systems');
      set(0x00180080, 'DS', '2150.5');
      set(0x00180081, 'DS', '12.5');
      set(0x00180087, 'DS', '3');
      set(0x00180084, 'DS', '127.7712345');
      set(0x00180023, 'CS', '2D');
      set(0x00181312, 'CS', 'ROW');
      set(0x00181314, 'DS', '90');
      set(0x00281052, 'DS', '0');
      set(0x00281053, 'DS', '1.25');
    }
    const n = s.size * (s.size + 2);
    if (s.pixels === 'uint16') {
      dataset.set(Tags.BitsStored, uint16Element(Tags.BitsStored, [16]));
      dataset.set(0x00280102, uint16Element(0x00280102, [15]));
      const px = new Uint16Array(n).map((_, i) => (i * 211 + k * 977) % 65000);
      dataset.set(Tags.PixelData, { tag: Tags.PixelData, vr: 'OW', value: new Uint8Array(px.buffer) });
    } else if (s.pixels === 'uint8') {
      dataset.set(Tags.BitsAllocated, uint16Element(Tags.BitsAllocated, [8]));
      dataset.set(Tags.BitsStored, uint16Element(Tags.BitsStored, [8]));
      dataset.set(0x00280102, uint16Element(0x00280102, [7]));
      const px = new Uint8Array(n).map((_, i) => (i * 7 + k * 31) & 0xff);
      dataset.set(Tags.PixelData, { tag: Tags.PixelData, vr: 'OB', value: px });
    }
    const written = writePart10(dataset, { sopClassUID: sop, sopInstanceUID: uids.sopInstanceUID, transferSyntaxUID: TS.ExplicitVRLittleEndian });
    out.push(Buffer.concat(written.chunks));
  }
  return out;
}

const sidecarLines = (data: Uint8Array) =>
  Buffer.from(data)
    .toString('utf8')
    .split('\n')
    .filter((l) => !/"(BidsGuess|ConversionSoftware|ConversionSoftwareVersion)"/.test(l));

describe('direct series → NIfTI, against dcm2niix', () => {
  let gw: TestGateway;
  let work: string;
  const found: { case: string; study: string; series: string; folder?: string; expected?: Case; synthetic?: boolean }[] = [];

  async function seriesList(): Promise<{ study: string; series: string }[]> {
    const all = (await (await fetch(`${gw.url}/series?limit=1000`)).json()) as Json[];
    return all.map((s) => ({ study: String(s['0020000D'].Value![0]), series: String(s['0020000E'].Value![0]) }));
  }

  async function load(name: string, into: () => Promise<unknown>, folder?: string, expected?: Case, synthetic = false): Promise<void> {
    const before = new Set((await seriesList()).map((s) => s.series));
    await into();
    for (const s of (await seriesList()).filter((x) => !before.has(x.series))) found.push({ case: name, ...s, folder, expected, synthetic });
  }

  beforeAll(async () => {
    gw = await startTestGateway();
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'veilgate-direct-nifti-'));
    for (const c of SHARED) {
      const folder = path.join(SHARED_DATA, c.folder!);
      if (!fs.existsSync(folder)) continue;
      await load(c.name, () => importFolder(folder, gw.gateway.config), folder, c);
    }
    for (const file of SINGLE_FILES) {
      const folder = path.join(work, path.basename(file, '.dcm'));
      fs.mkdirSync(folder);
      fs.copyFileSync(path.join(SHARED_DATA, file), path.join(folder, path.basename(file)));
      await load(file, () => importFolder(folder, gw.gateway.config), folder, { name: file, direct: 1, viaDcm2niix: 0 });
    }
    for (const s of SYNTHETIC) {
      const folder = path.join(work, s.name.replace(/\W+/g, '_'));
      fs.mkdirSync(folder);
      const files = syntheticFiles(s);
      files.forEach((b, i) => fs.writeFileSync(path.join(folder, `${i}.dcm`), b));
      await load(
        s.name,
        async () => {
          for (const bytes of files) {
            const r = await ingest({ kind: 'part10', bytes }, { origin: { kind: 'import', address: 'test' } }, gw.gateway.ingestDeps);
            if (!r.ok) throw r.error;
          }
        },
        folder,
        { name: s.name, direct: 1, viaDcm2niix: 0 },
        true,
      );
    }
  });
  afterAll(async () => {
    await gw?.close();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  const results = new Map<string, { auto: SeriesNifti; direct?: SeriesNifti; wasm?: SeriesNifti }>();

  test('each series takes the expected path', async () => {
    const counts = new Map<string, { direct: number; viaDcm2niix: number; reasons: string[] }>();
    for (const s of found) {
      const auto = await seriesNifti(gw.gateway.index, gw.gateway.store, s.study, s.series);
      results.set(s.series, { auto });
      const c = counts.get(s.case) ?? { direct: 0, viaDcm2niix: 0, reasons: [] };
      if (auto.converter?.path === 'direct') c.direct++;
      else {
        c.viaDcm2niix++;
        c.reasons.push(auto.converter?.path === 'dcm2niix' ? auto.converter.reason : 'unknown');
      }
      counts.set(s.case, c);
    }
    const expected = [...SHARED.filter((c) => fs.existsSync(path.join(SHARED_DATA, c.folder!))), ...SINGLE_FILES.map((f) => ({ name: f, direct: 1, viaDcm2niix: 0 })), ...SYNTHETIC.map((s) => ({ name: s.name, direct: 1, viaDcm2niix: 0 }))];
    for (const c of expected) {
      const got = counts.get(c.name);
      expect([c.name, got?.direct, got?.viaDcm2niix]).toEqual([c.name, c.direct, c.viaDcm2niix]);
      const reason = (c as Case).reason;
      if (reason) for (const r of got!.reasons) expect([c.name, r]).toEqual([c.name, expect.stringMatching(reason)]);
    }
  });

  test('direct output is byte-identical to dcm2niix (WebAssembly): header, voxels, sidecar', async () => {
    let compared = 0;
    for (const s of found) {
      const auto = results.get(s.series)!.auto;
      if (auto.converter?.path !== 'direct') continue;
      const direct = await seriesNifti(gw.gateway.index, gw.gateway.store, s.study, s.series, { converter: 'direct' });
      const wasm = await seriesNifti(gw.gateway.index, gw.gateway.store, s.study, s.series, { converter: 'dcm2niix' });
      results.set(s.series, { auto, direct, wasm });
      expect([s.case, direct.volumes.length, wasm.volumes.length]).toEqual([s.case, 1, 1]);
      const ours = Buffer.from(direct.volumes[0].nii.data);
      const theirs = Buffer.from(wasm.volumes[0].nii.data);
      const differing = [...Array(352).keys()].filter((i) => ours[i] !== theirs[i]);
      expect([s.case, 'header bytes that differ', differing]).toEqual([s.case, 'header bytes that differ', []]);
      expect([s.case, ours.length]).toEqual([s.case, theirs.length]);
      expect([s.case, 'voxels equal', ours.subarray(352).equals(theirs.subarray(352))]).toEqual([s.case, 'voxels equal', true]);
      expect([s.case, sidecarLines(direct.volumes[0].json!.data)]).toEqual([s.case, sidecarLines(wasm.volumes[0].json!.data)]);
      // The cached automatic conversion is the same bytes.
      expect(Buffer.from(auto.volumes[0].nii.data).equals(ours)).toBe(true);
      compared++;
    }
    expect(compared).toBeGreaterThanOrEqual(17);
  });

  test('frames put in order on the worker pool (moved there and back) give the same bytes', async () => {
    let compared = 0;
    for (const s of found) {
      const r = results.get(s.series)!;
      if (!r.direct) continue;
      const instances = await gw.gateway.index.instances({ study: s.study, series: s.series });
      const metadata = (await gw.gateway.index.metadata({ study: s.study, series: s.series })).map((m) => JSON.parse(m) as DicomJson);
      const eligible = directStack(instances, metadata);
      if (!eligible.ok) throw new Error(eligible.reason);
      const pooled = await writeDirectNifti(gw.gateway.store, eligible.stack, (input) => gw.gateway.workers.run('place-slices', input, movable(input.frames)));
      if (!pooled.ok) throw new Error(pooled.reason);
      expect([s.case, 'pool', Buffer.from(pooled.nii.data).equals(Buffer.from(r.direct.volumes[0].nii.data))]).toEqual([s.case, 'pool', true]);
      compared++;
    }
    expect(compared).toBeGreaterThanOrEqual(17);
  });

  test('the HTTP API serves the direct volume and its sidecar', async () => {
    const api = gw.url.replace('/dicom-web', '/api');
    for (const s of found) {
      const r = results.get(s.series)!;
      if (!r.direct) continue;
      const res = await fetch(`${api}/studies/${s.study}/series/${s.series}/nifti?format=nii`);
      expect(res.status).toBe(200);
      expect(res.headers.get('x-volume-count')).toBe('1');
      expect(Buffer.from(await res.arrayBuffer()).equals(Buffer.from(r.direct.volumes[0].nii.data))).toBe(true);
      const json = await fetch(`${api}/studies/${s.study}/series/${s.series}/nifti.json`);
      expect(json.status).toBe(200);
      const sidecar = (await json.json()) as Record<string, unknown>;
      expect(sidecar.Modality).toMatch(/^(CT|MR)$/);
      expect(JSON.stringify(sidecar)).not.toMatch(/PatientName|PatientID|PatientBirthDate|SeriesInstanceUID/);
    }
  });

  test('native Debian dcm2niix on the original files agrees (nibabel: shape, affine, scaled voxels, header fields)', async () => {
    if (!fs.existsSync(NATIVE)) return;
    const cases: { case: string; ours: string; reference: string[] }[] = [];
    const byFolder = new Map<string, typeof found>();
    for (const s of found) if (s.folder && results.get(s.series)?.direct) byFolder.set(s.folder, [...(byFolder.get(s.folder) ?? []), s]);
    for (const [folder, series] of byFolder) {
      // Only folders whose every series goes the direct way: native output is then one file per series.
      if (found.filter((s) => s.folder === folder).length !== series.length) continue;
      const ref = fs.mkdtempSync(path.join(work, 'native-'));
      execFileSync(NATIVE, ['-o', ref, '-z', 'n', '-b', 'n', '-f', '%s_%p_%j', folder], { stdio: 'ignore' });
      const niis = fs.readdirSync(ref).filter((n) => n.endsWith('.nii')).map((n) => path.join(ref, n));
      for (const s of series) {
        const ours = path.join(ref, `ours-${s.series}.nii.direct`);
        fs.writeFileSync(ours, results.get(s.series)!.direct!.volumes[0].nii.data);
        cases.push({ case: `${s.case} ${s.series}`, ours, reference: niis });
      }
    }
    expect(cases.length).toBeGreaterThanOrEqual(12);
    const script = `
import json, sys
import nibabel as nib
import numpy as np
out = []
for c in json.load(sys.stdin):
    a = nib.Nifti1Image.from_bytes(open(c["ours"], "rb").read())
    problems = []
    best = None
    for r in c["reference"]:
        b = nib.load(r)
        if b.shape != a.shape or np.abs(b.affine - a.affine).max() > 1e-3:
            continue
        if not np.array_equal(np.asarray(b.get_fdata()), np.asarray(a.get_fdata())):
            continue
        best = b
    if best is None:
        problems.append("no native volume with the same shape, affine and scaled voxels")
    else:
        ha, hb = a.header, best.header
        for k in ["dim", "qform_code", "sform_code", "xyzt_units", "bitpix"]:
            if not np.array_equal(ha[k], hb[k]):
                problems.append(f"{k}: {ha[k]} vs {hb[k]}")
        for k in ["pixdim", "quatern_b", "quatern_c", "quatern_d", "qoffset_x", "qoffset_y", "qoffset_z", "srow_x", "srow_y", "srow_z"]:
            if np.abs(np.asarray(ha[k], float) - np.asarray(hb[k], float)).max() > 1e-4:
                problems.append(f"{k}: {ha[k]} vs {hb[k]}")
        sa, ia = a.header.get_slope_inter()
        sb, ib = best.header.get_slope_inter()
        if (sa or 1.0, ia or 0.0) != (sb or 1.0, ib or 0.0):
            problems.append(f"scaling {sa},{ia} vs {sb},{ib}")
    out.append({"case": c["case"], "problems": problems})
json.dump(out, sys.stdout)
`;
    const result = spawnSync(PYTHON, ['-c', script], { input: JSON.stringify(cases), encoding: 'utf8' });
    expect(result.stderr).toBe('');
    for (const r of JSON.parse(result.stdout) as { case: string; problems: string[] }[]) expect(r).toEqual({ case: r.case, problems: [] });
  });

  test('a series the direct path cannot write is refused when the direct path is forced, and converts through dcm2niix', async () => {
    let refused = 0;
    for (const s of found) {
      const auto = results.get(s.series)!.auto;
      if (auto.converter?.path !== 'dcm2niix') continue;
      await expect(seriesNifti(gw.gateway.index, gw.gateway.store, s.study, s.series, { converter: 'direct' })).rejects.toThrow(VeilgateError);
      expect(auto.volumes.length).toBeGreaterThanOrEqual(1);
      refused++;
    }
    expect(refused).toBeGreaterThanOrEqual(5);
    // The tilted GE CT still comes out of dcm2niix as its tilt-corrected, equalised volume.
    const ge = found.find((s) => s.case === 'GE CT, gantry tilt and uneven spacing');
    if (ge) expect(results.get(ge.series)!.auto.volumes[0].nii.name).toMatch(/_Tilt_Eq_\d+\.nii$/);
  });
});
