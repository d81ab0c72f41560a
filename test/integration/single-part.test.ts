/**
 * One instance retrieved as `Accept: application/dicom` (single part, as Microsoft's DICOM server
 * answers and clients use beyond PS3.18): the Part 10 file itself, its transfer syntax as asked
 * (absent: Explicit VR Little Endian; `*`: as stored), checked with pydicom and against the
 * multipart answer; a study or series asked for so is 406.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTestGateway, TestGateway, SHARED_DATA, parseMultipart } from '../support/gateway';
import { loadConfig } from '../../src/config';

type Json = Record<string, { Value?: unknown[] }>;

const ELE = '1.2.840.10008.1.2.1';
const JPEG_LS_LOSSLESS = '1.2.840.10008.1.2.4.80';

function pydicom(script: string, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile('/usr/bin/python3', ['-c', script, ...args], { timeout: 60_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout.trim()))),
  );
}

describe('single-part application/dicom', () => {
  let gw: TestGateway;
  let work: string;
  const urls: Record<string, string> = {};

  beforeAll(async () => {
    gw = await startTestGateway({ deid: { ...loadConfig({}).deid, acceptBurnedIn: true } });
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'veilgate-single-'));
    for (const name of ['pydicom/CT_small.dcm', 'pydicom/MR_small_jpeg_ls_lossless.dcm']) {
      const res = await fetch(`${gw.url}/studies`, { method: 'POST', headers: { 'Content-Type': 'application/dicom' }, body: fs.readFileSync(path.join(SHARED_DATA, name)) });
      if (res.status !== 200) throw new Error(`${name}: ${res.status} ${await res.text()}`);
      urls[name] = String((((await res.json()) as Json)['00081199'].Value![0] as Json)['00081190'].Value![0]);
    }
  });

  afterAll(async () => {
    await gw?.close();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  const get = (url: string, accept: string) => fetch(url, { headers: { Accept: accept } });

  test('a native instance is the stored file itself, the same bytes as its multipart part', async () => {
    const url = urls['pydicom/CT_small.dcm'];
    const single = await get(url, 'application/dicom');
    expect(single.status).toBe(200);
    expect(single.headers.get('content-type')).toBe(`application/dicom; transfer-syntax=${ELE}`);
    const body = Buffer.from(await single.arrayBuffer());
    expect(Number(single.headers.get('content-length'))).toBe(body.length);
    expect(body.subarray(128, 132).toString('latin1')).toBe('DICM');
    const multi = await get(url, 'multipart/related; type="application/dicom"');
    const [part] = parseMultipart(Buffer.from(await multi.arrayBuffer()), multi.headers.get('content-type')!);
    expect(body.equals(part.body)).toBe(true);
  });

  test('a compressed instance: as stored with transfer-syntax=*, decoded to Explicit VR Little Endian by default, same pixels', async () => {
    const url = urls['pydicom/MR_small_jpeg_ls_lossless.dcm'];
    const asStored = await get(url, 'application/dicom; transfer-syntax=*');
    expect(asStored.headers.get('content-type')).toBe(`application/dicom; transfer-syntax=${JPEG_LS_LOSSLESS}`);
    const decoded = await get(url, 'application/dicom');
    expect(decoded.status).toBe(200);
    expect(decoded.headers.get('content-type')).toBe(`application/dicom; transfer-syntax=${ELE}`);
    const stored = path.join(work, 'stored.dcm');
    const native = path.join(work, 'native.dcm');
    fs.writeFileSync(stored, Buffer.from(await asStored.arrayBuffer()));
    fs.writeFileSync(native, Buffer.from(await decoded.arrayBuffer()));
    const out = await pydicom(
      [
        'import sys, numpy, pydicom',
        'a = pydicom.dcmread(sys.argv[1]); b = pydicom.dcmread(sys.argv[2])',
        'print(a.file_meta.TransferSyntaxUID, b.file_meta.TransferSyntaxUID, a.SOPInstanceUID == b.SOPInstanceUID, numpy.array_equal(a.pixel_array, b.pixel_array))',
      ].join('\n'),
      stored,
      native,
    );
    expect(out).toBe(`${JPEG_LS_LOSSLESS} ${ELE} True True`);
  });

  test('what cannot be one part, or cannot be made in the syntax asked for, is 406', async () => {
    const url = urls['pydicom/MR_small_jpeg_ls_lossless.dcm'];
    expect((await get(url, 'application/dicom; transfer-syntax=1.2.840.10008.1.2.4.50')).status).toBe(406);
    const series = url.replace(/\/instances\/[^/]+$/, '');
    const res = await get(series, 'application/dicom');
    expect(res.status).toBe(406);
    expect(await res.text()).toMatch(/multipart\/related/);
    // Multipart stays preferred when the client puts it first.
    const both = await get(urls['pydicom/CT_small.dcm'], 'multipart/related; type="application/dicom", application/dicom;q=0.5');
    expect(both.headers.get('content-type')).toMatch(/^multipart\/related/);
  });
});
