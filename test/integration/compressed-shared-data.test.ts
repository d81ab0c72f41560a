/**
 * Every compressed image in ../shared/data (pydicom, dcm_qa_ts) through the gateway: the
 * instance transcoded to Explicit VR Little Endian on retrieve, frame 1 decoded on request and
 * frame 1 rendered as PNG, each compared by check_transcoded.py with the original decoded by
 * pydicom + GDCM (an independent decoder). Lossless syntaxes must match exactly.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTestGateway, TestGateway, SHARED_DATA, parseMultipart } from '../support/gateway';
import { loadConfig } from '../../src/config';
import { parsePart10 } from '../../src/dicom/parse';
import { Tags } from '../../src/dicom/tags';
import { transferSyntax } from '../../src/dicom/transfer-syntax';

type Json = Record<string, { Value?: unknown[] }>;

/** Compressed files with pixel data, found by reading each file (not a hand-kept list). */
function compressedFiles(): { file: string; lossy: boolean }[] {
  const found: { file: string; lossy: boolean }[] = [];
  for (const dir of ['pydicom', 'dcm_qa_ts/In']) {
    for (const name of fs.readdirSync(path.join(SHARED_DATA, dir)).filter((n) => n.endsWith('.dcm')).sort()) {
      try {
        const parsed = parsePart10(fs.readFileSync(path.join(SHARED_DATA, dir, name)));
        const ts = transferSyntax(parsed.transferSyntaxUID);
        if (ts?.encapsulated && parsed.dataset.get(Tags.PixelData)?.fragments) found.push({ file: `${dir}/${name}`, lossy: ts.lossy });
      } catch {
        // broken files are other tests' business
      }
    }
  }
  return found;
}

const FILES = compressedFiles();

interface Checked {
  decodable: boolean;
  pixels: number;
  mean: number;
  frame_matches: boolean;
  rendered: number;
}

function check(cases: Record<string, string>[]): Checked[] {
  const r = spawnSync('/usr/bin/python3', [path.join(__dirname, '../support/check_transcoded.py')], { input: JSON.stringify(cases), encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`check_transcoded.py failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Checked[];
}
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'veilgate-compressed-'));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

describe('every compressed image in the shared data', () => {
  // A gateway per file: pydicom's variants of one image share its SOP Instance UID, and a
  // second copy of a stored instance is a duplicate (the first one is kept).
  let gw: TestGateway;
  beforeEach(async () => (gw = await startTestGateway({ deid: { ...loadConfig({}).deid, acceptBurnedIn: true } })));
  afterEach(() => gw.close());

  test('the set is what the README promises (RLE, JPEG, JPEG-LS, JPEG 2000; lossless and lossy)', () => {
    expect(FILES.length).toBeGreaterThanOrEqual(35);
    expect(FILES.some((f) => f.lossy)).toBe(true);
  });

  test.each(FILES)('$file: transcoded, decoded frame and rendered image match GDCM', async ({ file, lossy }) => {
    const stored = await fetch(`${gw.url}/studies`, { method: 'POST', headers: { 'Content-Type': 'application/dicom' }, body: fs.readFileSync(path.join(SHARED_DATA, file)) });
    // 202 when stored with a correction (a warning), still stored.
    expect([200, 202]).toContain(stored.status);
    const url = String(((await stored.json()) as Json)['00081199'].Value!.map((i) => (i as Json)['00081190'].Value![0])[0]);
    const stem = path.join(work, file.replace(/[/+]/g, '_'));

    const instance = await fetch(url, { headers: { Accept: 'multipart/related; type="application/dicom"' } });
    if (instance.status === 422) {
      // A codestream the gateway cannot decode: a clear error, and GDCM must fail on it too.
      expect(await instance.text()).toMatch(/cannot be decoded/);
      expect(check([{ original: path.join(SHARED_DATA, file) }])[0].decodable).toBe(false);
      return;
    }
    expect(instance.status).toBe(200);
    const [dicom] = parseMultipart(Buffer.from(await instance.arrayBuffer()), instance.headers.get('content-type')!);
    expect(dicom.headers['content-type']).toBe('application/dicom; transfer-syntax=1.2.840.10008.1.2.1');
    fs.writeFileSync(`${stem}.dcm`, dicom.body);

    const frame = await fetch(`${url}/frames/1`, { headers: { Accept: 'multipart/related; type="application/octet-stream"' } });
    expect(frame.status).toBe(200);
    fs.writeFileSync(`${stem}.raw`, parseMultipart(Buffer.from(await frame.arrayBuffer()), frame.headers.get('content-type')!)[0].body);

    const rendered = await fetch(`${url}/frames/1/rendered`, { headers: { Accept: 'image/png' } });
    expect(rendered.status).toBe(200);
    fs.writeFileSync(`${stem}.png`, Buffer.from(await rendered.arrayBuffer()));

    const [c] = check([{ original: path.join(SHARED_DATA, file), transcoded: `${stem}.dcm`, frame: `${stem}.raw`, png: `${stem}.png` }]);
    expect(c.frame_matches).toBe(true);
    if (lossy) {
      // Two JPEG decoders may differ by rounding (IDCT, colour conversion); not by content.
      expect(c.pixels).toBeGreaterThanOrEqual(0);
      expect(c.mean).toBeLessThan(1);
    } else {
      expect(c.pixels).toBe(0);
    }
    expect(c.rendered).toBeGreaterThanOrEqual(0);
    expect(c.rendered).toBeLessThanOrEqual(1);
  });
});
