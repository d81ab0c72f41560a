/**
 * Burned-in pixel cleaning on ingest: real ultrasound and secondary-capture files from
 * ../shared/data, matched by a pixel recipe, are stored with the recipe's rectangles zeroed in
 * every frame and every other pixel unchanged (checked with pydicom and GDCM), marked
 * BurnedInAnnotation NO with 113101 in DeidentificationMethodCodeSequence, and no new dciodvfy
 * error. Without a matching recipe the same file is refused (0xC000) and nothing is left behind.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config';
import { PixelRecipe } from '../../src/deid/pixel-recipes';
import { SHARED_DATA, TestGateway, parseMultipart, startTestGateway } from '../support/gateway';
import { baselineOf, dciodvfy, newLines } from '../support/dciodvfy';

type Json = Record<string, { Value?: any[] }>;

const SC = '1.2.840.10008.5.1.4.1.1.7';
const CASES: { file: string; frames: number; recipe: PixelRecipe }[] = [
  {
    // GE LOGIQ 700 ultrasound: RGB, colour-by-plane, explicit VR big endian
    file: 'pydicom/ExplVR_BigEnd.dcm',
    frames: 1,
    recipe: {
      name: 'LOGIQ 700 test layout',
      match: { Modality: 'US', Manufacturer: { contains: 'G.E.' }, ManufacturerModelName: { startsWith: 'LOGIQ' }, Rows: 60, Columns: 80 },
      regions: [{ x: 0, y: 0, width: 80, height: 12 }, { x: 61, y: 50, width: 19, height: 10 }],
    },
  },
  // Secondary captures: RLE 8 and 16 bits, two frames; native YBR_FULL_422; JPEG 2000; JPEG lossless
  { file: 'pydicom/SC_rgb_rle_2frame.dcm', frames: 2, recipe: { name: 'RLE', match: { SOPClassUID: SC, NumberOfFrames: 2 }, regions: [{ x: 10, y: 0, width: 90, height: 25 }] } },
  { file: 'pydicom/SC_rgb_rle_16bit_2frame.dcm', frames: 2, recipe: { name: 'RLE 16', match: { SOPClassUID: SC, BitsAllocated: 16 }, regions: [{ x: 0, y: 40, width: 33, height: 7 }] } },
  { file: 'pydicom/SC_ybr_full_422_uncompressed.dcm', frames: 1, recipe: { name: '422', match: { PhotometricInterpretation: 'YBR_FULL_422' }, regions: [{ x: 20, y: 10, width: 40, height: 30 }] } },
  { file: 'pydicom/SC_rgb_gdcm_KY.dcm', frames: 1, recipe: { name: 'J2K', match: { SOPClassUID: SC, Rows: 100 }, regions: [{ x: 0, y: 0, width: 100, height: 9 }] } },
  { file: 'pydicom/SC_rgb_jpeg_gdcm.dcm', frames: 1, recipe: { name: 'JPEG lossless', match: { SOPClassUID: SC, PhotometricInterpretation: { matches: '^(RGB|YBR_FULL)$' } }, regions: [{ x: 0, y: 90, width: 100, height: 10 }] } },
];

async function stow(gw: TestGateway, bytes: Buffer): Promise<{ status: number; json: Json }> {
  const res = await fetch(`${gw.url}/studies`, { method: 'POST', headers: { 'Content-Type': 'application/dicom' }, body: bytes });
  return { status: res.status, json: (await res.json()) as Json };
}

function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

const withRecipes = (recipes: PixelRecipe[]) => ({ deid: { ...loadConfig({}).deid, pixelRecipes: recipes } });

describe('burned-in pixels cleaned by recipe', () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'veilgate-pixels-'));
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

  test('regions zeroed in every frame, every other pixel identical, marked, and conformant', async () => {
    const checks: { original: string; stored: string; regions: PixelRecipe['regions'] }[] = [];
    // One gateway per file: several of these pydicom files share a SOP Instance UID.
    for (const [i, c] of CASES.entries()) {
      const gw = await startTestGateway(withRecipes([c.recipe]));
      try {
        const original = path.join(SHARED_DATA, c.file);
        const { json } = await stow(gw, fs.readFileSync(original));
        expect([c.file, json['00081198']]).toEqual([c.file, undefined]); // nothing failed
        const url = (json['00081199'].Value![0] as Json)['00081190'].Value![0] as string;
        const res = await fetch(url, { headers: { Accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' } });
        expect(res.status).toBe(200);
        const [part] = parseMultipart(Buffer.from(await res.arrayBuffer()), res.headers.get('content-type')!);
        const stored = path.join(work, `stored-${i}.dcm`);
        fs.writeFileSync(stored, part.body);
        checks.push({ original, stored, regions: c.recipe.regions });
      } finally {
        await gw.close();
      }
    }
    const out = spawnSync('/usr/bin/python3', [path.join(__dirname, '../support/check_pixel_clean.py')], { input: JSON.stringify(checks), encoding: 'utf8' });
    expect(out.stderr).toBe('');
    const results = JSON.parse(out.stdout) as Record<string, unknown>[];
    for (const [i, r] of results.entries()) {
      expect({ file: CASES[i].file, ...r }).toEqual({
        file: CASES[i].file,
        frames: CASES[i].frames,
        region_pixels: expect.any(Number),
        region_max: 0,
        outside_pixels: expect.any(Number),
        outside_differences: 0,
        shape_equal: true,
        burned_in: 'NO',
        method_codes: expect.arrayContaining(['113100', '113101']),
        photometric: expect.any(String),
      });
      expect(r.region_pixels as number).toBeGreaterThan(0);
      expect(r.outside_pixels as number).toBeGreaterThan(0);
    }
    // dciodvfy: no error the original does not have.
    for (const [i, c] of checks.entries()) {
      const before = await baselineOf(c.original, path.join(work, `baseline-${i}.dcm`));
      const after = await dciodvfy(c.stored);
      expect([CASES[i].file, newLines(before.errors, after.errors)]).toEqual([CASES[i].file, []]);
    }
  });

  test('the shipped recipes load and are tried after the configured ones', async () => {
    const gw = await startTestGateway(withRecipes(CASES.map((c) => c.recipe)));
    try {
      const recipes = gw.gateway.ingestDeps.deid!.pixelRecipes!;
      expect(recipes.slice(0, CASES.length).map((r) => r.name)).toEqual(CASES.map((c) => c.recipe.name));
      expect(recipes.length).toBeGreaterThan(CASES.length + 5);
      expect(recipes.some((r) => /ultrasound/i.test(r.name))).toBe(true);
      expect(recipes.some((r) => /dose/i.test(r.name))).toBe(true);
    } finally {
      await gw.close();
    }
  });

  test('a recipe that is not data a recipe can be is a configuration error', () => {
    const file = path.join(work, 'veilgate.config.json');
    fs.writeFileSync(file, JSON.stringify({ deid: { pixelRecipes: [{ name: 'x', match: { NotAKeyword: 'US' }, regions: [{ x: 0, y: 0, width: 1, height: 1 }] }] } }));
    expect(() => loadConfig({ CONFIG_FILE: file })).toThrow(/NotAKeyword/);
    fs.writeFileSync(file, JSON.stringify({ deid: { pixelRecipes: [{ name: 'x', match: { Modality: 'US' }, regions: [{ x: 0, y: 0, width: 0, height: 1 }] }] } }));
    expect(() => loadConfig({ CONFIG_FILE: file })).toThrow(/regions\[0\]/);
  });
});

describe('burned-in pixels without a matching recipe', () => {
  test('the ultrasound is refused with 0xC000 and leaves nothing behind', async () => {
    const gw = await startTestGateway();
    try {
      const { status, json } = await stow(gw, fs.readFileSync(path.join(SHARED_DATA, 'pydicom/ExplVR_BigEnd.dcm')));
      expect(status).toBe(409);
      expect(((json['00081198'].Value![0] as Json)['00081197'].Value![0] as number)).toBe(0xc000);
      expect((await gw.gateway.index.counts()).instances).toBe(0);
      expect(filesUnder(path.join(gw.dataDir, 'files'))).toEqual([]);
      expect(filesUnder(path.join(gw.dataDir, 'tmp'))).toEqual([]);
      expect(gw.logLines.some((l) => l.includes('"outcome":"rejected"') && l.includes('"reason":"refused"'))).toBe(true);
    } finally {
      await gw.close();
    }
  });
});
