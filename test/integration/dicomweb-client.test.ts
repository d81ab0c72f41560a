/**
 * STOW-RS, QIDO-RS and WADO-RS through dicomweb-client (the library OHIF uses) against
 * a real gateway, on synthetic instances and real files from ../shared/data.
 */
import fs from 'node:fs';
import path from 'node:path';
import dicomParser from 'dicom-parser';
import { startTestGateway, TestGateway, SHARED_DATA, multipartBody, deidentified } from '../support/gateway';
import { syntheticInstance, randomUid } from '../../src/synthetic/instances';

// eslint-disable-next-line @typescript-eslint/no-require-imports
(globalThis as any).XMLHttpRequest = require('xhr2');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { api } = require('dicomweb-client');

type Json = Record<string, { vr: string; Value?: any[]; BulkDataURI?: string }>;

const ab = (b: Uint8Array): ArrayBuffer => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
const value = (j: Json, tag: string) => j[tag]?.Value?.[0];

/** Pixel data bytes of a Part 10 file, read by dicom-parser (an independent reader). */
function pixelBytes(file: ArrayBuffer | Uint8Array): Buffer {
  const bytes = file instanceof Uint8Array ? file : new Uint8Array(file);
  const ds = dicomParser.parseDicom(bytes);
  const el = ds.elements.x7fe00010;
  return Buffer.from(bytes.buffer, bytes.byteOffset + el.dataOffset, el.length);
}

describe('DICOMweb through dicomweb-client', () => {
  let gw: TestGateway;
  let client: any;
  let id: ReturnType<typeof deidentified>;
  const sentStudyUID = randomUid();
  const sentSeriesUID = randomUid();
  // The gateway de-identifies on ingest: these are the UIDs it stores.
  let studyUID: string;
  let seriesUID: string;
  let sop: (i: number) => string;
  const series = Array.from({ length: 5 }, (_, i) =>
    syntheticInstance({ studyUID: sentStudyUID, seriesUID: sentSeriesUID, instanceNumber: i + 1, patientName: 'Doe^Jane', patientID: 'PAT-42', studyDate: '20230315', rows: 32, columns: 24 }),
  );
  const ctSmall = fs.readFileSync(path.join(SHARED_DATA, 'pydicom/CT_small.dcm'));

  beforeAll(async () => {
    gw = await startTestGateway();
    id = deidentified(gw.dataDir);
    studyUID = id.uid(sentStudyUID);
    seriesUID = id.uid(sentSeriesUID);
    sop = (i) => id.uid(series[i].sopInstanceUID);
    client = new api.DICOMwebClient({ url: gw.url });
    await client.storeInstances({ datasets: series.map((s) => ab(s.bytes)) });
    await client.storeInstances({ datasets: [ab(ctSmall)] });
    const other = syntheticInstance({ patientName: 'Smith^John', patientID: 'PAT-7', studyDate: '20211201', modality: 'MR', rows: 8, columns: 8 });
    await client.storeInstances({ datasets: [ab(other.bytes)] });
  });
  afterAll(() => gw.close());

  test('QIDO finds studies by pseudonymous person name (case-insensitive, wildcards), shifted date range and modality', async () => {
    const all: Json[] = await client.searchForStudies();
    expect(all).toHaveLength(3);
    const pseudonym = id.patient('PAT-42');
    const byName: Json[] = await client.searchForStudies({ queryParams: { PatientName: pseudonym.slice(0, 6).toLowerCase() + '*' } });
    expect(byName.map((s) => value(s, '0020000D'))).toEqual([studyUID]);
    expect(value(byName[0], '00100020')).toBe(pseudonym);
    expect(value(byName[0], '00201208')).toBe(5);
    expect(value(byName[0], '00201206')).toBe(1);
    expect(byName[0]['00080061'].Value).toEqual(['CT']);
    expect(value(byName[0], '00081190')).toBe(`${gw.url}/studies/${studyUID}`);
    const shifted = id.date('PAT-42', '20230315');
    expect(value(byName[0], '00080020')).toBe(shifted);
    const inRange: Json[] = await client.searchForStudies({ queryParams: { StudyDate: `${shifted}-${shifted}` } });
    expect(inRange.map((s) => value(s, '0020000D'))).toEqual([studyUID]);
    const mr: Json[] = await client.searchForStudies({ queryParams: { ModalitiesInStudy: 'MR' } });
    expect(mr.map((s) => value(s, '00100020'))).toEqual([id.patient('PAT-7')]);
    const fuzzy: Json[] = await client.searchForStudies({ queryParams: { PatientName: pseudonym.slice(3, 8).toLowerCase(), fuzzymatching: 'false' } });
    expect(fuzzy).toHaveLength(0);
  });

  test('QIDO pages with limit and offset in a stable order', async () => {
    const all: Json[] = await client.searchForStudies();
    const pages: Json[] = [];
    for (let offset = 0; offset < 3; offset++) pages.push(...(await client.searchForStudies({ queryParams: { limit: 1, offset } })));
    expect(pages.map((s) => value(s, '0020000D'))).toEqual(all.map((s) => value(s, '0020000D')));
  });

  test('QIDO series and instances, scoped and unscoped, with includefield', async () => {
    const s: Json[] = await client.searchForSeries({ studyInstanceUID: studyUID });
    expect(s).toHaveLength(1);
    expect(value(s[0], '00201209')).toBe(5);
    expect(value(s[0], '00080060')).toBe('CT');
    const unscoped: Json[] = await client.searchForSeries({ queryParams: { SeriesInstanceUID: seriesUID } });
    expect(value(unscoped[0], '00100020')).toBe(id.patient('PAT-42')); // study attributes come along when unscoped
    const inst: Json[] = await client.searchForInstances({ studyInstanceUID: studyUID, seriesInstanceUID: seriesUID, queryParams: { InstanceNumber: '3' } });
    expect(inst.map((i) => value(i, '00080018'))).toEqual([sop(2)]);
    expect(value(inst[0], '00280010')).toBe(32);
    const withField: Json[] = await client.searchForInstances({ studyInstanceUID: studyUID, queryParams: { includefield: 'ImagePositionPatient,00180050' } });
    expect(withField).toHaveLength(5);
    expect(withField[0]['00180050'].Value).toEqual([2.5]);
  });

  test('WADO-RS retrieves instances and series with identical pixel data', async () => {
    const one: ArrayBuffer = await client.retrieveInstance({ studyInstanceUID: studyUID, seriesInstanceUID: seriesUID, sopInstanceUID: sop(0) });
    expect(pixelBytes(one)).toEqual(Buffer.from(series[0].pixelData));
    const all: ArrayBuffer[] = await client.retrieveSeries({ studyInstanceUID: studyUID, seriesInstanceUID: seriesUID });
    expect(all).toHaveLength(5);
    const got = all.map((f) => pixelBytes(f).toString('hex')).sort();
    expect(got).toEqual(series.map((s) => Buffer.from(s.pixelData).toString('hex')).sort());
    const ct = dicomParser.parseDicom(new Uint8Array(ctSmall));
    const ctStudy = id.uid(ct.string('x0020000d')!);
    const ctFiles: ArrayBuffer[] = await client.retrieveStudy({ studyInstanceUID: ctStudy });
    expect(pixelBytes(ctFiles[0])).toEqual(pixelBytes(ctSmall));
  });

  test('metadata carries BulkDataURIs that retrieve the pixel data', async () => {
    const meta: Json[] = await client.retrieveSeriesMetadata({ studyInstanceUID: studyUID, seriesInstanceUID: seriesUID });
    expect(meta).toHaveLength(5);
    const first = meta.find((m) => value(m, '00080018') === sop(0))!;
    expect(value(first, '00100010')).toEqual({ Alphabetic: id.patient('PAT-42') });
    expect(first['00200032'].Value).toEqual([-100, -100, 2.5]);
    const uri = first['7FE00010'].BulkDataURI!;
    expect(uri).toBe(`${gw.url}/studies/${studyUID}/series/${seriesUID}/instances/${sop(0)}/bulk/7FE00010`);
    const bulk: ArrayBuffer[] | ArrayBuffer = await client.retrieveBulkData({ BulkDataURI: uri });
    const bytes = Buffer.from(Array.isArray(bulk) ? bulk[0] : bulk);
    expect(bytes).toEqual(Buffer.from(series[0].pixelData));
  });

  test('frames come from the precomputed offsets', async () => {
    const multi = syntheticInstance({ studyUID: sentStudyUID, seriesUID: randomUid(), frames: 4, rows: 10, columns: 6 });
    await client.storeInstances({ datasets: [ab(multi.bytes)] });
    const frames: ArrayBuffer[] = await client.retrieveInstanceFrames({
      studyInstanceUID: studyUID,
      seriesInstanceUID: id.uid(multi.seriesUID),
      sopInstanceUID: id.uid(multi.sopInstanceUID),
      frameNumbers: [2, 4],
    });
    const frameBytes = 10 * 6 * 2;
    expect(Buffer.from(frames[0])).toEqual(Buffer.from(multi.pixelData.subarray(frameBytes, 2 * frameBytes)));
    expect(Buffer.from(frames[1])).toEqual(Buffer.from(multi.pixelData.subarray(3 * frameBytes, 4 * frameBytes)));
  });
});

describe('DICOMweb errors and edge cases', () => {
  let gw: TestGateway;
  beforeAll(async () => (gw = await startTestGateway()));
  afterAll(() => gw.close());

  const stow = (body: Uint8Array, contentType: string, study = '') =>
    fetch(`${gw.url}/studies${study ? '/' + study : ''}`, { method: 'POST', headers: { 'Content-Type': contentType }, body });

  test('a re-sent instance is a success and stores nothing twice', async () => {
    const inst = syntheticInstance();
    const first = await stow(inst.bytes, 'application/dicom');
    const again = await stow(inst.bytes, 'application/dicom');
    expect(first.status).toBe(200);
    expect(again.status).toBe(200);
    const body = (await again.json()) as Json;
    expect(body['00081199'].Value).toHaveLength(1);
    expect(await gw.gateway.index.counts()).toEqual({ studies: 1, series: 1, instances: 1 });
  });

  test('one bad part never fails the good ones: 202 with reasons per part', async () => {
    const good = syntheticInstance();
    const truncated = fs.readFileSync(path.join(SHARED_DATA, 'pydicom/MR_truncated.dcm'));
    // An RT Plan data set claiming to be a CT image: no pixel data, so not a CT Image.
    const rtplan = fs.readFileSync(path.join(SHARED_DATA, 'pydicom/rtplan.dcm'));
    const wrongClass = Buffer.from(rtplan);
    const at = wrongClass.indexOf('1.2.840.10008.5.1.4.1.1.481.5');
    wrongClass.write('1.2.840.10008.5.1.4.1.1.2\0\0\0\0', at, 'latin1'); // same length, padded
    const before = await gw.gateway.index.counts();
    const { body, contentType } = multipartBody([good.bytes, truncated, Buffer.from('not dicom at all'), wrongClass]);
    const res = await stow(body, contentType);
    expect(res.status).toBe(202);
    const json = (await res.json()) as Json;
    expect(json['00081199'].Value!.map((i: Json) => value(i, '00081155'))).toEqual([deidentified(gw.dataDir).uid(good.sopInstanceUID)]);
    const reasons = json['00081198'].Value!.map((i: Json) => value(i, '00081197'));
    expect(reasons).toEqual([0xc000, 0xc000, 0xa900]);
    const after = await gw.gateway.index.counts();
    expect(after.instances - before.instances).toBe(1);
    // Each process writes in its own folder of tmp: no file may be left in any of them.
    expect(fs.readdirSync(path.join(gw.dataDir, 'tmp'), { recursive: true, withFileTypes: true }).filter((e) => e.isFile())).toEqual([]);
  });

  test('nothing stored is 409; wrong study in the URL is refused with C409', async () => {
    const inst = syntheticInstance();
    const res = await stow(inst.bytes, 'application/dicom', randomUid());
    expect(res.status).toBe(409);
    const json = (await res.json()) as Json;
    expect(value(json['00081198'].Value![0], '00081197')).toBe(0xc409);
    const ok = await stow(inst.bytes, 'application/dicom', inst.studyUID);
    expect(ok.status).toBe(200);
  });

  test('media type and multipart errors', async () => {
    expect((await stow(Buffer.from('x'), 'text/plain')).status).toBe(415);
    expect((await stow(Buffer.from('x'), 'multipart/related; type="application/dicom+xml"; boundary=b')).status).toBe(415);
    expect((await stow(Buffer.from('garbage without boundaries'), 'multipart/related; type="application/dicom"; boundary=abc')).status).toBe(400);
  });

  test('404 unknown, 400 malformed UID, 406 unsatisfiable Accept', async () => {
    const inst = syntheticInstance();
    await stow(inst.bytes, 'application/dicom');
    const study = deidentified(gw.dataDir).uid(inst.studyUID);
    expect((await fetch(`${gw.url}/studies/${randomUid()}`)).status).toBe(404);
    expect((await fetch(`${gw.url}/studies/${randomUid()}/metadata`)).status).toBe(404);
    expect((await fetch(`${gw.url}/studies/..%2F..%2Fetc/metadata`)).status).toBe(400);
    expect((await fetch(`${gw.url}/studies/1.2.abc`)).status).toBe(400);
    const xml = await fetch(`${gw.url}/studies/${study}/metadata`, { headers: { Accept: 'application/dicom+xml' } });
    expect(xml.status).toBe(406);
    expect((await fetch(`${gw.url}/studies/${study}/metadata`)).status).toBe(200);
    const jpeg = await fetch(`${gw.url}/studies/${study}`, { headers: { Accept: 'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.50' } });
    expect(jpeg.status).toBe(406);
    expect((await fetch(`${gw.url}/studies?bogus=1`)).status).toBe(400);
    expect((await fetch(`${gw.url}/studies?StudyDate=2020`)).status).toBe(400);
    const warn = await fetch(`${gw.url}/studies?InstitutionName=X`);
    expect(warn.status).toBe(200);
    expect(warn.headers.get('warning')).toMatch(/^299 .*not supported for matching: InstitutionName/);
  });

  test('a compressed instance goes out as stored when the Accept allows it, else transcoded or 406', async () => {
    const jpeg = fs.readFileSync(path.join(SHARED_DATA, 'pydicom/MR_small_jpeg_ls_lossless.dcm'));
    const res = await stow(jpeg, 'application/dicom');
    expect(res.status).toBe(200);
    const url = value((await res.json()) as Json, '00081190') as string;
    const plain = await fetch(url, { headers: { Accept: 'multipart/related; type="application/dicom"' } });
    expect(plain.status).toBe(200);
    expect(Buffer.from(await plain.arrayBuffer()).includes(Buffer.from('transfer-syntax=1.2.840.10008.1.2.1\r\n'))).toBe(true);
    expect((await fetch(url, { headers: { Accept: 'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.50' } })).status).toBe(406);
    const ok = await fetch(url, { headers: { Accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toMatch(/^multipart\/related; type="application\/dicom"; boundary=/);
    const body = Buffer.from(await ok.arrayBuffer());
    expect(body.includes(Buffer.from('transfer-syntax=1.2.840.10008.1.2.4.80'))).toBe(true);
  });
});
