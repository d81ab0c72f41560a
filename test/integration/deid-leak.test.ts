/**
 * Nothing identifying survives ingest: instances carrying a token in every Table E.1-1
 * attribute (top level and three sequences deep), in private attributes, in descriptions, in
 * local codes one to three sequences deep, in a value far over its VR's length and in overlay
 * and curve text are sent by STOW-RS; a processing job is given identifying parameters and a
 * NIfTI volume is posted with identifying header text and description. Then every stored file,
 * the index database and its journal, QIDO-RS answers at every level, metadata, the job API,
 * NIfTI headers and sidecars, and the log lines are searched for every token. Pixel data,
 * geometry, grouping and references must come through intact.
 */
import fs from 'node:fs';
import path from 'node:path';
import dicomParser from 'dicom-parser';
import { startTestGateway, TestGateway, multipartBody, deidentified, parseMultipart } from '../support/gateway';
import { identifyingInstance, IdentifyingInstance } from '../../src/synthetic/identifying';
import { randomUid } from '../../src/synthetic/instances';
import { writePart10 } from '../../src/dicom/write';
import { encodeText } from '../../src/dicom/values';
import { Tags } from '../../src/dicom/tags';

type Json = Record<string, { vr: string; Value?: any[] }>;

import { TokenScanner } from '../support/leaks';
import { auditEvents, invalidAuditMessages, readAuditMessages } from '../support/audit-files';
import { readNifti, writeNifti } from '../../src/convert/nifti';

function part10(inst: IdentifyingInstance): Buffer {
  const sop = Buffer.from(inst.dataset.get(Tags.SOPInstanceUID)!.value!).toString('latin1').replace(/\0/g, '');
  return Buffer.concat(writePart10(inst.dataset, { sopClassUID: '1.2.840.10008.5.1.4.1.1.2', sopInstanceUID: sop, transferSyntaxUID: '1.2.840.10008.1.2.1' }).chunks);
}

function filesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

describe('de-identification leaves nothing identifying behind', () => {
  let gw: TestGateway;
  let id: ReturnType<typeof deidentified>;
  const tokens = new Set<string>();
  const uids = { study: randomUid(), otherStudy: randomUid(), seriesA: randomUid(), seriesB: randomUid() };
  const patient = { patientName: 'Zfamilyq^Zgivenq', patientID: 'ZPIDXq', issuerOfPatientID: 'ZISSXq' };
  // Same patient: two series of one study, and a second study 17 days later; then another patient.
  const a1 = identifyingInstance({ ...patient, studyUID: uids.study, seriesUID: uids.seriesA, instanceNumber: 1, studyDate: '20230315', tokenPrefix: 'a' });
  const a2 = identifyingInstance({ ...patient, studyUID: uids.study, seriesUID: uids.seriesB, instanceNumber: 2, studyDate: '20230315', tokenPrefix: 'b' });
  const b = identifyingInstance({ ...patient, studyUID: uids.otherStudy, instanceNumber: 1, studyDate: '20230401', tokenPrefix: 'c' });
  const c = identifyingInstance({ patientName: 'Zotherq^Zpersonq', patientID: 'ZPIDYq', tokenPrefix: 'd' });
  // A four-slice series of patient a, for a processing job and a posted NIfTI volume.
  const volumeSeries = randomUid();
  const slices = [1, 2, 3, 4].map((n) => identifyingInstance({ ...patient, studyUID: uids.study, seriesUID: volumeSeries, instanceNumber: n, studyDate: '20230315', tokenPrefix: `v${n}` }));
  const sent = [a1, a2, b, c, ...slices];
  /** What a client types into the derived path: the patient's own identifiers, and generic PHI. */
  const typedPhi = 'Mr Zfamilyq Zgivenq DOB 19700102 MRN ZPIDXq 12345678';
  let scanner: TokenScanner;
  const leaks = (text: string) => scanner.find(text);
  const api = () => gw.url.replace('/dicom-web', '/api');
  const sopOf = (i: IdentifyingInstance) => Buffer.from(i.dataset.get(Tags.SOPInstanceUID)!.value!).toString('latin1').replace(/\0/g, '');

  beforeAll(async () => {
    // a2 refers to a1: the reference must still resolve after both UIDs are replaced.
    const ref = new Map([
      [0x00081150, { tag: 0x00081150, vr: 'UI', value: encodeText('1.2.840.10008.5.1.4.1.1.2', 'UI') }],
      [0x00081155, { tag: 0x00081155, vr: 'UI', value: encodeText(sopOf(a1), 'UI') }],
    ]);
    a2.dataset.set(0x00081140, { tag: 0x00081140, vr: 'SQ', items: [ref] });
    for (const inst of sent) {
      inst.tokens.forEach((t) => tokens.add(t));
      for (const t of [Tags.StudyInstanceUID, Tags.SeriesInstanceUID, Tags.SOPInstanceUID, 0x00200052]) {
        tokens.add(Buffer.from(inst.dataset.get(t)!.value!).toString('latin1').replace(/\0/g, ''));
      }
    }
    for (const t of ['19700102', '12345678', '1970-01-02']) tokens.add(t);
    scanner = new TokenScanner(tokens);
    gw = await startTestGateway();
    id = deidentified(gw.dataDir);
    const { body, contentType } = multipartBody(sent.map(part10));
    const res = await fetch(`${gw.url}/studies`, { method: 'POST', headers: { 'Content-Type': contentType }, body });
    expect(res.status).toBe(202); // the over-long StudyDescription was truncated: a coercion, reported as a warning

    // A job whose parameters carry identifying text next to what the operation uses.
    const study = id.uid(uids.study);
    const series = id.uid(volumeSeries);
    const job = await fetch(`${api()}/jobs`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ op: 'normalize', input: { study, series }, params: { mask: { low: 0, high: 4000, n: typedPhi }, note: typedPhi } }),
    });
    expect(job.status).toBe(202);
    const jobId = ((await job.json()) as { id: string }).id;
    for (let i = 0; i < 600; i++) {
      const state = ((await (await fetch(`${api()}/jobs/${jobId}`)).json()) as { state: string }).state;
      if (state === 'done' || state === 'failed') {
        expect(state).toBe('done');
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    // A NIfTI volume in the series' space, with identifying text in its header and in the description.
    const nii = Buffer.from(await (await fetch(`${api()}/studies/${study}/series/${series}/nifti?format=nii`)).arrayBuffer());
    const volume = readNifti(nii);
    volume.description = typedPhi.slice(0, 79);
    const posted = await fetch(`${api()}/studies/${study}/series/${series}/nifti?description=${encodeURIComponent(typedPhi)}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/octet-stream' },
      body: writeNifti(volume),
    });
    expect(posted.status).toBe(201);
  });
  let closed = false;
  afterAll(async () => {
    if (!closed) await gw.close();
  });

  test('the generator put tokens everywhere it should', () => {
    expect(tokens.size).toBeGreaterThan(20000);
    expect(leaks(part10(a1).toString('latin1')).length).toBeGreaterThan(1000); // the scan finds them in the originals
    expect(leaks(typedPhi).length).toBe(5);
  });

  test('no token in any stored file, the index database or its journal', () => {
    const files = filesUnder(gw.dataDir).filter((f) => !f.endsWith('secret.key'));
    // 8 sent, 4 derived by the job and 4 from the posted volume
    expect(files.filter((f) => f.endsWith('.dcm'))).toHaveLength(16);
    expect(files.some((f) => f.endsWith('-wal'))).toBe(true);
    for (const f of files) {
      const bytes = fs.readFileSync(f);
      const found = [...leaks(bytes.toString('latin1')), ...leaks(bytes.toString('utf8'))];
      expect({ file: path.relative(gw.dataDir, f), found: found.slice(0, 10) }).toEqual({ file: path.relative(gw.dataDir, f), found: [] });
    }
  });

  test('no token in QIDO-RS answers at every level, metadata, the job API, NIfTI headers or log lines', async () => {
    const texts: [string, string][] = [];
    const get = async (url: string) => texts.push([url, await (await fetch(url)).text()]);
    for (const q of ['studies?includefield=all', 'series?includefield=all', 'instances?includefield=all']) await get(`${gw.url}/${q}`);
    const studies = JSON.parse(texts[0][1]) as Json[];
    expect(studies).toHaveLength(3);
    for (const s of studies) {
      const study = s['0020000D'].Value![0];
      await get(`${gw.url}/studies/${study}/metadata`);
      await get(`${gw.url}/studies/${study}/series?includefield=all`);
      await get(`${gw.url}/studies/${study}/instances?includefield=all`);
      const series = JSON.parse(texts[texts.length - 2][1]) as Json[];
      for (const se of series) {
        const uid = se['0020000E'].Value![0];
        await get(`${gw.url}/studies/${study}/series/${uid}/instances?includefield=all`);
        if ((se['00201209'].Value![0] as number) > 1) {
          const nii = Buffer.from(await (await fetch(`${api()}/studies/${study}/series/${uid}/nifti?format=nii`)).arrayBuffer());
          texts.push([`${uid} NIfTI header`, nii.subarray(0, 352).toString('latin1')]);
          await get(`${api()}/studies/${study}/series/${uid}/nifti.json`);
        }
      }
    }
    await get(`${api()}/jobs`);
    texts.push(['log', gw.logLines.join('\n')]);
    expect(gw.logLines.some((l) => l.includes('"event":"ingest"'))).toBe(true);
    expect(texts.filter(([u]) => u.endsWith('NIfTI header')).length).toBe(3); // the source and both derived series
    for (const [where, t] of texts) expect([where, leaks(t)]).toEqual([where, []]);
  });

  test('local codes are cleaned at every depth, registered ones kept; every value fits its VR', async () => {
    const meta = JSON.parse(await (await fetch(`${gw.url}/studies/${id.uid(uids.study)}/series/${id.uid(uids.seriesA)}/metadata`)).text()) as Json[];
    const m = meta[0];
    const item = (j: Json, ...path: string[]) => path.reduce((x, t) => x[t].Value![0] as Json, j);
    const procedures = m['00081032'].Value as Json[];
    expect(procedures.map((p) => p['00080104'].Value![0])).toEqual(['CT chest', 'Computerized axial tomography']);
    expect(item(m, '00400275', '00321064')['00080104'].Value![0]).toBe('abdomen');
    expect(item(m, '00400260', '00400440', '0040A168')['00080104'].Value![0]).toBe('knee protocol');
    expect('CHEST '.repeat(20).startsWith(String(m['00081030'].Value![0]))).toBe(true);
    expect(String(m['00081030'].Value![0]).length).toBeLessThanOrEqual(64);
    const qido = (await (await fetch(`${gw.url}/studies?includefield=00081030`)).json()) as Json[];
    for (const s of qido) expect(String(s['00081030']?.Value?.[0] ?? '').length).toBeLessThanOrEqual(64);
  });

  test('pixel data and geometry are unchanged; grouping and references survive', async () => {
    const meta = (JSON.parse(await (await fetch(`${gw.url}/studies/${id.uid(uids.study)}/metadata`)).text()) as Json[]).filter((m) =>
      [id.uid(uids.seriesA), id.uid(uids.seriesB)].includes(m['0020000E'].Value![0]),
    );
    expect(meta).toHaveLength(2);
    expect(new Set(meta.map((m) => m['0020000E'].Value![0]))).toEqual(new Set([id.uid(uids.seriesA), id.uid(uids.seriesB)]));
    const storedA2 = meta.find((m) => m['00080018'].Value![0] === id.uid(sopOf(a2)))!;
    const ref = (storedA2['00081140'].Value![0] as Json)['00081155'].Value![0];
    expect(ref).toBe(id.uid(sopOf(a1)));
    const back = await fetch(`${gw.url}/studies/${id.uid(uids.study)}/series/${id.uid(uids.seriesA)}/instances/${ref}/metadata`);
    expect(back.status).toBe(200);

    for (const inst of sent) {
      const url = `${gw.url}/studies/${id.uid(Buffer.from(inst.dataset.get(Tags.StudyInstanceUID)!.value!).toString('latin1').replace(/\0/g, ''))}`;
      const res = await fetch(url, { headers: { Accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' } });
      const parts = parseMultipart(Buffer.from(await res.arrayBuffer()), res.headers.get('content-type')!);
      const wanted = id.uid(sopOf(inst));
      // By its own SOP Instance UID: another instance of the study may reference this one.
      const parsed = parts.map((p) => dicomParser.parseDicom(new Uint8Array(p.body))).find((ds) => ds.string('x00080018') === wanted)!;
      const original = dicomParser.parseDicom(new Uint8Array(part10(inst)));
      const px = (ds: dicomParser.DataSet) => Buffer.from(ds.byteArray.buffer, ds.byteArray.byteOffset + ds.elements.x7fe00010.dataOffset, ds.elements.x7fe00010.length);
      expect(px(parsed).equals(px(original))).toBe(true);
      for (const t of ['x00200032', 'x00200037', 'x00280030', 'x00180050', 'x00281052', 'x00281053', 'x00280010', 'x00280011']) {
        expect([t, parsed.string(t)]).toEqual([t, original.string(t)]);
      }
    }
  });

  test('one pseudonym and one date offset per patient: intervals survive', async () => {
    const studies = JSON.parse(await (await fetch(`${gw.url}/studies`)).text()) as Json[];
    const byUid = new Map(studies.map((s) => [s['0020000D'].Value![0], s]));
    const s1 = byUid.get(id.uid(uids.study))!;
    const s2 = byUid.get(id.uid(uids.otherStudy))!;
    expect(s1['00100020'].Value![0]).toBe(id.patient('ZPIDXq', 'ZISSXq'));
    expect(s2['00100020'].Value![0]).toBe(s1['00100020'].Value![0]);
    const other = studies.find((s) => s !== s1 && s !== s2)!;
    expect(other['00100020'].Value![0]).not.toBe(s1['00100020'].Value![0]);
    const day = (d: string) => Date.UTC(+d.slice(0, 4), +d.slice(4, 6) - 1, +d.slice(6, 8)) / 86_400_000;
    const d1 = s1['00080020'].Value![0] as string;
    const d2 = s2['00080020'].Value![0] as string;
    expect(d1).not.toBe('20230315');
    expect(day(d2) - day(d1)).toBe(17);
    // Every other date of the instance moved by the same number of days.
    const offset = day(d1) - day('20230315');
    const meta = JSON.parse(await (await fetch(`${gw.url}/studies/${id.uid(uids.study)}/metadata`)).text()) as Json[];
    const storedA1 = meta.find((m) => m['00080018'].Value![0] === id.uid(sopOf(a1)))!;
    expect(a1.dates.size).toBeGreaterThan(20);
    for (const [t, original] of a1.dates) {
      const key = t.toString(16).toUpperCase().padStart(8, '0');
      const stored = storedA1[key]?.Value?.[0] as string | undefined;
      if (stored === undefined) continue; // removed (X) or emptied (Z) by the profile
      expect([key, day(stored) - day(original.slice(0, 8))]).toEqual([key, offset]);
    }
  });

  test('markers say what was done, and re-sending gives the same identifiers', async () => {
    const meta = JSON.parse(await (await fetch(`${gw.url}/studies/${id.uid(uids.otherStudy)}/metadata`)).text()) as Json[];
    expect(meta[0]['00120062'].Value).toEqual(['YES']);
    expect(meta[0]['00280303'].Value).toEqual(['MODIFIED']);
    const codes = (meta[0]['00120064'].Value as Json[]).map((i) => i['00080100'].Value![0]);
    expect(codes).toEqual(['113100', '113105', '113107', '113108']);
    const again = await fetch(`${gw.url}/studies`, { method: 'POST', headers: { 'Content-Type': 'application/dicom' }, body: part10(b) });
    expect(again.status).toBe(202); // stored before, with its over-long description truncated: a warning, no failure
    const json = (await again.json()) as Record<string, { Value: Json[] }>;
    expect(json['00081199'].Value[0]['00081155'].Value![0]).toBe(id.uid(sopOf(b)));
    expect((await gw.gateway.index.counts()).instances).toBe(16);
  });

  test('the audit trail of the whole run: every message valid against the PS3.15 schema, and not one token in it', async () => {
    await gw.close({ keepData: true }); // flushes the trail
    closed = true;
    try {
      const messages = readAuditMessages(gw.dataDir);
      expect(messages.length).toBeGreaterThan(10);
      expect(invalidAuditMessages(messages)).toEqual([]);
      const events = auditEvents(messages);
      for (const event of ['DICOM Instances Transferred', 'Query', 'Begin Transferring DICOM Instances']) expect([event, (events[event] ?? 0) > 0]).toEqual([event, true]);
      // The base64 inside (a query's keys, alert descriptions) is scanned decoded too.
      const decoded = messages.flatMap((m) => [...m.matchAll(/(?:value="|<ParticipantObjectQuery>)([A-Za-z0-9+/=]+)/g)].map((x) => Buffer.from(x[1], 'base64').toString('latin1')));
      expect(leaks([...messages, ...decoded].join('\n'))).toEqual([]);
    } finally {
      fs.rmSync(gw.dataDir, { recursive: true, force: true });
    }
  });
});
