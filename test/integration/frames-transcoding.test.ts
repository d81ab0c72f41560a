/**
 * Frames of compressed instances decoded to native pixels on request, compared with the
 * uncompressed copy of the same image (read with dicom-parser from the original file).
 */
import fs from 'node:fs';
import path from 'node:path';
import dicomParser from 'dicom-parser';
import { startTestGateway, TestGateway, SHARED_DATA, parseMultipart } from '../support/gateway';
import { loadConfig } from '../../src/config';

type Json = Record<string, { Value?: unknown[] }>;

/** Native pixel bytes of one frame of an uncompressed file. */
function referenceFrame(file: string, frame = 0): Buffer {
  const bytes = new Uint8Array(fs.readFileSync(file));
  const ds = dicomParser.parseDicom(bytes);
  const el = ds.elements.x7fe00010;
  const frameBytes = (ds.uint16('x00280010')! * ds.uint16('x00280011')! * (ds.uint16('x00280002') ?? 1) * ds.uint16('x00280100')!) / 8;
  return Buffer.from(bytes.buffer, el.dataOffset + frame * frameBytes, frameBytes);
}

const LOSSLESS: [string, string][] = [
  ['pydicom/MR_small_RLE.dcm', 'pydicom/MR_small.dcm'],
  ['pydicom/MR_small_jpeg_ls_lossless.dcm', 'pydicom/MR_small.dcm'],
  ['pydicom/MR_small_jp2klossless.dcm', 'pydicom/MR_small.dcm'],
  ['dcm_qa_ts/In/4.dcm', 'dcm_qa_ts/In/1.dcm'],
  ['dcm_qa_ts/In/5.dcm', 'dcm_qa_ts/In/1.dcm'],
  ['dcm_qa_ts/In/7.dcm', 'dcm_qa_ts/In/1.dcm'],
  ['dcm_qa_ts/In/9.dcm', 'dcm_qa_ts/In/1.dcm'],
];

describe('frames decoded on request', () => {
  let gw: TestGateway;
  beforeEach(async () => {
    gw = await startTestGateway({ deid: { ...loadConfig({}).deid, acceptBurnedIn: true } });
  });
  afterEach(() => gw.close());

  test.each(LOSSLESS)('%s decodes to the pixels of %s', async (compressed, reference) => {
    const stored = await fetch(`${gw.url}/studies`, { method: 'POST', headers: { 'Content-Type': 'application/dicom' }, body: fs.readFileSync(path.join(SHARED_DATA, compressed)) });
    expect(stored.status).toBe(200);
    const url = String(((await stored.json()) as Json)['00081199'].Value!.map((i) => (i as Json)['00081190'].Value![0])[0]);
    // As stored: the compressed bitstream.
    const asStored = await fetch(`${url}/frames/1`, { headers: { Accept: 'multipart/related; type="application/octet-stream"; transfer-syntax=*' } });
    expect(asStored.status).toBe(200);
    // Decoded: native pixels, Explicit VR Little Endian.
    const res = await fetch(`${url}/frames/1`, { headers: { Accept: 'multipart/related; type="application/octet-stream"' } });
    expect(res.status).toBe(200);
    const [part] = parseMultipart(Buffer.from(await res.arrayBuffer()), res.headers.get('content-type')!);
    expect(part.headers['content-type']).toBe('application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1');
    expect(part.body.equals(referenceFrame(path.join(SHARED_DATA, reference)))).toBe(true);
  });

  test('a frame that cannot be given as asked is 406, an absent one 404', async () => {
    const stored = await fetch(`${gw.url}/studies`, { method: 'POST', headers: { 'Content-Type': 'application/dicom' }, body: fs.readFileSync(path.join(SHARED_DATA, 'pydicom/MR_small_RLE.dcm')) });
    const url = String(((await stored.json()) as Json)['00081199'].Value!.map((i) => (i as Json)['00081190'].Value![0])[0]);
    expect((await fetch(`${url}/frames/1`, { headers: { Accept: 'multipart/related; type="image/jp2"' } })).status).toBe(406);
    expect((await fetch(`${url}/frames/2`, { headers: { Accept: 'multipart/related; type="application/octet-stream"' } })).status).toBe(404);
  });
});

describe('instances transcoded on retrieve', () => {
  let gw: TestGateway;
  beforeAll(async () => (gw = await startTestGateway({ deid: { ...loadConfig({}).deid, acceptBurnedIn: true } })));
  afterAll(() => gw.close());

  async function stow(file: string): Promise<string> {
    const res = await fetch(`${gw.url}/studies`, { method: 'POST', headers: { 'Content-Type': 'application/dicom' }, body: fs.readFileSync(path.join(SHARED_DATA, file)) });
    expect(res.status).toBe(200);
    return String(((await res.json()) as Json)['00081199'].Value!.map((i) => (i as Json)['00081190'].Value![0])[0]);
  }

  function pixelsOf(part10: Buffer): Buffer {
    const ds = dicomParser.parseDicom(new Uint8Array(part10));
    const el = ds.elements.x7fe00010;
    return Buffer.from(part10.buffer, part10.byteOffset + el.dataOffset, el.length);
  }

  test('a JPEG-LS instance asked for in Implicit VR Little Endian comes back with the reference pixels, readable by dcmdump', async () => {
    const url = await stow('pydicom/MR_small_jpeg_ls_lossless.dcm');
    const res = await fetch(url, { headers: { Accept: 'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2' } });
    expect(res.status).toBe(200);
    const [part] = parseMultipart(Buffer.from(await res.arrayBuffer()), res.headers.get('content-type')!);
    expect(part.headers['content-type']).toBe('application/dicom; transfer-syntax=1.2.840.10008.1.2');
    const file = path.join(fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'vg-ts-')), 'implicit.dcm');
    fs.writeFileSync(file, part.body);
    const dump = require('node:child_process').spawnSync('dcmdump', ['+P', '0002,0010', '+P', '7fe0,0010', file], { encoding: 'utf8' });
    expect(dump.stdout).toMatch(/LittleEndianImplicit/);
    expect(dump.stdout).toMatch(/\(7fe0,0010\) OW .* # 8192,/);
    expect(pixelsOf(part.body).equals(referenceFrame(path.join(SHARED_DATA, 'pydicom/MR_small.dcm')))).toBe(true);
  });

  test('a study of compressed and uncompressed instances comes back all in Explicit VR Little Endian; as stored with transfer-syntax=*', async () => {
    const url = await stow('pydicom/CT_small.dcm');
    const study = url.replace(/\/series\/.*$/, '');
    // A second instance into the same study: the RLE copy of MR_small goes to its own study, so
    // check a study of one compressed instance and one of uncompressed, both by study URL.
    const rle = (await stow('dcm_qa_ts/In/4.dcm')).replace(/\/series\/.*$/, '');
    for (const target of [study, rle]) {
      const res = await fetch(target, { headers: { Accept: 'multipart/related; type="application/dicom"' } });
      expect(res.status).toBe(200);
      for (const part of parseMultipart(Buffer.from(await res.arrayBuffer()), res.headers.get('content-type')!)) {
        expect(part.headers['content-type']).toBe('application/dicom; transfer-syntax=1.2.840.10008.1.2.1');
        expect(Number(part.headers['content-length'])).toBe(part.body.length);
      }
    }
    const stored = await fetch(rle, { headers: { Accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' } });
    const [asStored] = parseMultipart(Buffer.from(await stored.arrayBuffer()), stored.headers.get('content-type')!);
    expect(asStored.headers['content-type']).toBe('application/dicom; transfer-syntax=1.2.840.10008.1.2.5');
  });

  test('a syntax the gateway cannot produce (compressing is not offered) is 406', async () => {
    const url = await stow('pydicom/CT_small.dcm');
    const res = await fetch(url, { headers: { Accept: 'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.80' } });
    expect(res.status).toBe(406);
    expect(await res.text()).toMatch(/cannot be sent/);
  });
});
