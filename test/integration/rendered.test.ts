/** Rendered and thumbnail images: windowing checked against numpy, colour against pydicom, compressed against uncompressed. */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { startTestGateway, TestGateway, SHARED_DATA } from '../support/gateway';
import { loadConfig } from '../../src/config';

type Json = Record<string, { Value?: unknown[] }>;
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'veilgate-rendered-'));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

async function store(gw: TestGateway, file: string): Promise<string> {
  const res = await fetch(`${gw.url}/studies`, { method: 'POST', headers: { 'Content-Type': 'application/dicom' }, body: fs.readFileSync(path.join(SHARED_DATA, file)) });
  expect(res.status).toBe(200);
  return String(((await res.json()) as Json)['00081199'].Value!.map((i) => (i as Json)['00081190'].Value![0])[0]);
}

async function png(url: string, name: string): Promise<string> {
  const res = await fetch(url, { headers: { Accept: 'image/png' } });
  expect([url, res.status, res.headers.get('content-type')]).toEqual([url, 200, 'image/png']);
  const file = path.join(work, name);
  fs.writeFileSync(file, Buffer.from(await res.arrayBuffer()));
  return file;
}

function compare(cases: { dicom: string; png: string; window: [number, number] | null | 'mask' | 'voi-lut'; frame?: number }[]) {
  const r = spawnSync('/usr/bin/python3', [path.join(__dirname, '../support/check_rendered.py')], { input: JSON.stringify(cases), encoding: 'utf8' });
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout) as { shape_ok: boolean; max_difference: number }[];
}

describe('rendered images', () => {
  let gw: TestGateway;
  beforeAll(async () => (gw = await startTestGateway({ deid: { ...loadConfig({}).deid, acceptBurnedIn: true } })));
  afterAll(() => gw.close());

  test('a CT slice windowed as asked matches the linear window of PS3.3 computed with numpy', async () => {
    const url = await store(gw, 'pydicom/CT_small.dcm');
    const soft = await png(`${url}/rendered?window=40,400`, 'ct-soft.png');
    const bone = await png(`${url}/frames/1/rendered?window=300,1500,linear`, 'ct-bone.png');
    const result = compare([
      { dicom: path.join(SHARED_DATA, 'pydicom/CT_small.dcm'), png: soft, window: [40, 400] },
      { dicom: path.join(SHARED_DATA, 'pydicom/CT_small.dcm'), png: bone, window: [300, 1500] },
    ]);
    expect(result).toEqual([{ shape_ok: true, max_difference: 0 }, { shape_ok: true, max_difference: 0 }]);
  });

  test('JPEG by default, thumbnails fit in 128 pixels, viewports resize', async () => {
    const url = await store(gw, 'pydicom/CT_small.dcm');
    const jpeg = await fetch(`${url}/rendered`);
    expect(jpeg.headers.get('content-type')).toBe('image/jpeg');
    const meta = await sharp(Buffer.from(await jpeg.arrayBuffer())).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 128, 128]);
    const thumb = await sharp(Buffer.from(await (await fetch(`${url}/thumbnail`, { headers: { Accept: 'image/png' } })).arrayBuffer())).metadata();
    expect(Math.max(thumb.width!, thumb.height!)).toBeLessThanOrEqual(128);
    const series = url.replace(/\/instances\/[^/]+$/, '');
    const small = await sharp(Buffer.from(await (await fetch(`${series}/rendered?viewport=64,64`)).arrayBuffer())).metadata();
    expect([small.width, small.height]).toEqual([64, 64]);
    const study = series.replace(/\/series\/[^/]+$/, '');
    expect((await fetch(`${study}/thumbnail`)).status).toBe(200);
  });

  test('colour images come out as their RGB values', async () => {
    const url = await store(gw, 'pydicom/SC_rgb_small_odd.dcm');
    const file = await png(`${url}/rendered`, 'rgb.png');
    expect(compare([{ dicom: path.join(SHARED_DATA, 'pydicom/SC_rgb_small_odd.dcm'), png: file, window: null }])).toEqual([{ shape_ok: true, max_difference: 0 }]);
  });

  test('palette colour (a label map segmentation) comes out through its lookup tables', async () => {
    const source = 'highdicom/data/test_files/seg_image_sm_control_labelmap_palette_color.dcm';
    const url = await store(gw, source);
    const cases = [];
    for (const frame of [1, 10, 20]) cases.push({ dicom: path.join(SHARED_DATA, source), png: await png(`${url}/frames/${frame}/rendered`, `palette-${frame}.png`), window: null, frame });
    expect(compare(cases)).toEqual(cases.map(() => ({ shape_ok: true, max_difference: 0 })));
  });

  test('a study with a segmentation is shown by its image series; the binary segment renders as a mask', async () => {
    const dir = path.join(SHARED_DATA, 'dcmqi/data/segmentations');
    const ct = fs.readdirSync(path.join(dir, 'ct-3slice')).map((f) => path.join('dcmqi/data/segmentations/ct-3slice', f));
    for (const f of ct) await store(gw, f);
    const seg = await store(gw, 'dcmqi/data/segmentations/liver.dcm');
    const study = seg.replace(/\/series\/.*$/, '');
    const thumb = await png(`${study}/thumbnail`, 'study-thumb.png');
    const meta = await sharp(thumb).stats();
    // The CT (varied greys), not the SEG (black and white only).
    expect(meta.channels[0].max - meta.channels[0].min).toBeGreaterThan(0);
    const grey = await sharp(thumb).raw().toBuffer();
    expect(new Set(grey).size).toBeGreaterThan(10);
    const frames = [1, 2];
    const cases = [];
    for (const f of frames) cases.push({ dicom: path.join(dir, 'liver.dcm'), png: await png(`${seg}/frames/${f}/rendered`, `seg-${f}.png`), window: 'mask' as const, frame: f });
    expect(compare(cases)).toEqual(cases.map(() => ({ shape_ok: true, max_difference: 0 })));
  });

  test('a VOI LUT Sequence is applied when no window is asked for or suggested, as pydicom applies it', async () => {
    const file = path.join(work, 'ct-voi-lut.dcm');
    const made = spawnSync('/usr/bin/python3', [path.join(__dirname, '../support/make_voi_lut.py'), path.join(SHARED_DATA, 'pydicom/CT_small.dcm'), file], { encoding: 'utf8' });
    expect(made.status).toBe(0);
    const res = await fetch(`${gw.url}/studies`, { method: 'POST', headers: { 'Content-Type': 'application/dicom' }, body: fs.readFileSync(file) });
    expect(res.status).toBe(200);
    const url = String(((await res.json()) as Json)['00081199'].Value!.map((i) => (i as Json)['00081190'].Value![0])[0]);
    const lut = await png(`${url}/rendered`, 'ct-voi-lut.png');
    expect(compare([{ dicom: file, png: lut, window: 'voi-lut' }])).toEqual([{ shape_ok: true, max_difference: 0 }]);
    // An explicit window still wins over the LUT.
    const windowed = await png(`${url}/rendered?window=40,400`, 'ct-voi-window.png');
    expect(compare([{ dicom: file, png: windowed, window: [40, 400] }])).toEqual([{ shape_ok: true, max_difference: 0 }]);
  });

  test('a compressed instance renders like its uncompressed copy', async () => {
    const other = await startTestGateway({ deid: { ...loadConfig({}).deid, acceptBurnedIn: true } });
    try {
      const plain = await png(`${await store(gw, 'pydicom/MR_small.dcm')}/rendered?window=600,1200`, 'mr.png');
      const jpegls = await png(`${await store(other, 'pydicom/MR_small_jpeg_ls_lossless.dcm')}/rendered?window=600,1200`, 'mr-jls.png');
      const [a, b] = await Promise.all([plain, jpegls].map((f) => sharp(f).raw().toBuffer()));
      expect(a.equals(b)).toBe(true);
    } finally {
      await other.close();
    }
  });

  test('errors: unsatisfiable Accept 406, malformed window 400, absent frame 404', async () => {
    const url = await store(gw, 'pydicom/CT_small.dcm');
    expect((await fetch(`${url}/rendered`, { headers: { Accept: 'text/html' } })).status).toBe(406);
    expect((await fetch(`${url}/rendered?window=abc,10`)).status).toBe(400);
    expect((await fetch(`${url}/rendered?window=40,0`)).status).toBe(400);
    expect((await fetch(`${url}/frames/3/rendered`)).status).toBe(404);
  });
});
