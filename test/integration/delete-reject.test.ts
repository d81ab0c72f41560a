/**
 * Delete and reject against a real gateway, with a real CT series (dcm_qa_ct Philips S2010, 28
 * slices): DELETE leaves no file and no row, OHIF's IOCM reject call hides the series and stores
 * a Key Object Selection rejection note that dciodvfy and pydicom accept, the rejected files go
 * when the grace period (0 here) ends, and every removal is audited with schema-valid messages
 * that name no original identifier. Only the admin role may do either.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { multipartBody, parseMultipart, SHARED_DATA, startTestGateway, TestGateway } from '../support/gateway';
import { auditEvents, invalidAuditMessages, readAuditMessages } from '../support/audit-files';
import { dciodvfy } from '../support/dciodvfy';
import { startAuthWorld } from '../support/auth-world';
import { parsePart10 } from '../../src/dicom/parse';
import { stringValue } from '../../src/dicom/values';
import { readUidValue } from '../../src/dicom/parse';
import { Tags } from '../../src/dicom/tags';

jest.setTimeout(180_000);

type Json = Record<string, { vr?: string; Value?: unknown[] }>;

const SERIES_DIR = path.join(SHARED_DATA, 'dcm_qa_ct/In/Philips/S21570/S2010');
const FILES = fs.readdirSync(SERIES_DIR).filter((f) => /^I\d+$/.test(f)).sort().map((f) => fs.readFileSync(path.join(SERIES_DIR, f)));

const original = (() => {
  const ds = parsePart10(FILES[0]).dataset;
  return { study: readUidValue(ds.get(Tags.StudyInstanceUID))!, series: readUidValue(ds.get(Tags.SeriesInstanceUID))!, patientID: stringValue(ds, Tags.PatientID) ?? '', patientName: stringValue(ds, Tags.PatientName) ?? '' };
})();

function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('delete and reject (AUTH off: the local user holds every role)', () => {
  let gw: TestGateway;
  const get = (p: string, accept = 'application/dicom+json') => fetch(`${gw.url}${p}`, { headers: { Accept: accept } });
  const json = async (p: string) => {
    const r = await get(p);
    expect(r.status).toBe(200);
    return (await r.json()) as Json[];
  };
  const stow = async () => {
    const { body, contentType } = multipartBody(FILES);
    const r = await fetch(`${gw.url}/studies`, { method: 'POST', headers: { 'Content-Type': contentType }, body });
    expect(r.status).toBe(200);
    const [row] = await json('/series?Modality=CT');
    return { study: String(row['0020000D'].Value![0]), series: String(row['0020000E'].Value![0]) };
  };
  const auditLines = async (n: number) => {
    let lines: string[] = [];
    await until(`${n} audit messages of removals`, () => (lines = readAuditMessages(gw.dataDir).filter((l) => /csd-code="11010[35]"/.test(l))).length >= n);
    return lines;
  };
  const noOriginalIdentifiers = (lines: string[]) => {
    for (const l of lines) {
      expect(l).not.toContain(original.study);
      expect(l).not.toContain(original.series);
      if (original.patientID) expect(l).not.toContain(original.patientID);
      for (const word of original.patientName.split(/[\^ ]/).filter((w) => w.length > 3)) expect(l).not.toContain(word);
    }
  };

  beforeAll(async () => {
    gw = await startTestGateway({ rejectedGraceDays: 0 });
    await gw.gateway.sweep;
  });
  afterAll(async () => gw?.close());

  test('DELETE an instance, then the series: no row, no file, audited; a second time 404', async () => {
    const { study, series } = await stow();
    expect(filesUnder(path.join(gw.dataDir, 'files')).length).toBe(28);
    const instances = await json(`/studies/${study}/series/${series}/instances`);
    const instance = String(instances[0]['00080018'].Value![0]);

    const one = await fetch(`${gw.url}/studies/${study}/series/${series}/instances/${instance}`, { method: 'DELETE' });
    expect(one.status).toBe(204);
    expect(await one.text()).toBe('');
    expect((await json(`/studies/${study}/series/${series}/instances`)).length).toBe(27);
    const [studyRow] = await json(`/studies?StudyInstanceUID=${study}`);
    expect(studyRow['00201208'].Value).toEqual([27]);
    expect((await get(`/studies/${study}/series/${series}/instances/${instance}`, 'multipart/related; type="application/dicom"')).status).toBe(404);
    expect((await get(`/studies/${study}/series/${series}/instances/${instance}/metadata`)).status).toBe(404);
    expect(filesUnder(path.join(gw.dataDir, 'files')).length).toBe(27);
    expect((await fetch(`${gw.url}/studies/${study}/series/${series}/instances/${instance}`, { method: 'DELETE' })).status).toBe(404);

    const all = await fetch(`${gw.url}/studies/${study}/series/${series}`, { method: 'DELETE' });
    expect(all.status).toBe(204);
    expect(await json(`/studies/${study}/series`)).toEqual([]);
    expect(await json('/studies')).toEqual([]);
    expect(await json('/instances')).toEqual([]);
    expect((await get(`/studies/${study}`, 'multipart/related; type="application/dicom"')).status).toBe(404);
    expect((await get(`/studies/${study}/metadata`)).status).toBe(404);
    expect(filesUnder(path.join(gw.dataDir, 'files'))).toEqual([]);
    expect(await gw.gateway.index.counts()).toEqual({ studies: 0, series: 0, instances: 0 });
    expect((await fetch(`${gw.url}/studies/${study}/series/${series}`, { method: 'DELETE' })).status).toBe(404);
    expect((await fetch(`${gw.url}/studies/${study}`, { method: 'DELETE' })).status).toBe(404);
    expect((await fetch(`${gw.url}/studies/not-a-uid`, { method: 'DELETE' })).status).toBe(400);

    // The instance: DICOM Instances Accessed (D); the series that was the whole study: DICOM Study Deleted.
    const lines = await auditLines(2);
    expect(auditEvents(lines)).toEqual({ 'DICOM Instances Accessed': 1, 'DICOM Study Deleted': 1 });
    for (const l of lines) expect(l).toContain('EventActionCode="D"');
    expect(lines.find((l) => l.includes('DICOM Study Deleted'))).toContain('NumberOfInstances="27"');
    expect(lines.every((l) => l.includes(study))).toBe(true);
    expect(invalidAuditMessages(readAuditMessages(gw.dataDir))).toEqual([]);
    noOriginalIdentifiers(lines);
  });

  test("OHIF's reject call hides the series at once, stores a KOS rejection note; the files go after the grace period", async () => {
    const { study, series } = await stow();
    const bad = await fetch(`${gw.url}/studies/${study}/series/${series}/reject/113002%5EDCM`, { method: 'POST' });
    expect(bad.status).toBe(400);
    expect((await fetch(`${gw.url}/studies/${study}/series/${series}/reject/113001%5E99LOCAL`, { method: 'POST' })).status).toBe(400);
    expect((await fetch(`${gw.url}/studies/${study}/series/${series}/reject/113001`, { method: 'POST' })).status).toBe(400);
    expect((await json(`/studies/${study}/series/${series}/instances`)).length).toBe(28);

    // As OHIF's dcm4cheeReject sends it: POST, no body, and it takes 204 as success.
    const rejected = await fetch(`${gw.url}/studies/${study}/series/${series}/reject/113001%5EDCM`, { method: 'POST', headers: { 'Content-Type': 'application/json' } });
    expect(rejected.status).toBe(204);

    const seriesRows = await json(`/studies/${study}/series`);
    expect(seriesRows.map((s) => s['00080060'].Value)).toEqual([['KO']]);
    expect(await json(`/series?Modality=CT`)).toEqual([]);
    expect((await json(`/instances`)).length).toBe(1);
    const [studyRow] = await json(`/studies?StudyInstanceUID=${study}`);
    expect(studyRow['00080061'].Value).toEqual(['KO']);
    expect(studyRow['00201208'].Value).toEqual([1]);
    for (const p of [`/studies/${study}/series/${series}`, `/studies/${study}/series/${series}/metadata`]) {
      expect((await get(p, p.endsWith('metadata') ? 'application/dicom+json' : 'multipart/related; type="application/dicom"')).status).toBe(404);
    }
    // Again: nothing left to reject.
    expect((await fetch(`${gw.url}/studies/${study}/series/${series}/reject/113001%5EDCM`, { method: 'POST' })).status).toBe(404);

    // The note: a KOS in the same study, whose document title is the code and which references all 28.
    const ko = seriesRows[0];
    const koSeries = String(ko['0020000E'].Value![0]);
    const r = await get(`/studies/${study}/series/${koSeries}`, 'multipart/related; type="application/dicom"');
    expect(r.status).toBe(200);
    const [part] = parseMultipart(Buffer.from(await r.arrayBuffer()), r.headers.get('content-type')!);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'veilgate-kos-'));
    try {
      const file = path.join(dir, 'kos.dcm');
      fs.writeFileSync(file, part.body);
      const v = await dciodvfy(file);
      expect(v.aborted).toBeUndefined();
      expect(v.errors).toEqual([]);
      const py = [
        'import sys, json, pydicom',
        'd = pydicom.dcmread(sys.argv[1])',
        'c = d.ConceptNameCodeSequence[0]',
        'ev = d.CurrentRequestedProcedureEvidenceSequence[0]',
        'print(json.dumps({"sop": d.SOPClassUID, "modality": d.Modality, "code": [c.CodeValue, c.CodingSchemeDesignator, c.CodeMeaning],',
        ' "study": d.StudyInstanceUID, "evidence": [ev.StudyInstanceUID, ev.ReferencedSeriesSequence[0].SeriesInstanceUID, len(ev.ReferencedSeriesSequence[0].ReferencedSOPSequence)],',
        ' "content": len(d.ContentSequence), "template": d.ContentTemplateSequence[0].TemplateIdentifier, "patient": str(d.PatientID)}))',
      ].join('\n');
      const read = JSON.parse(execFileSync('/usr/bin/python3', ['-c', py, file], { encoding: 'utf8' }));
      expect(read).toEqual({
        sop: '1.2.840.10008.5.1.4.1.1.88.59',
        modality: 'KO',
        code: ['113001', 'DCM', 'Rejected for Quality Reasons'],
        study,
        evidence: [study, series, 28],
        content: 28,
        template: '2010',
        patient: expect.stringMatching(/^VG-/),
      });
      // De-identified-safe: no original identifier in the note.
      const text = part.body.toString('latin1');
      expect(text).not.toContain(original.study);
      expect(text).not.toContain(original.series);
      if (original.patientID) expect(text).not.toContain(original.patientID);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }

    // No grace period here: the 28 rejected files go, the note's stays.
    await until('the rejected files to be deleted', () => filesUnder(path.join(gw.dataDir, 'files')).length === 1);
    expect(await gw.gateway.index.findInstance(String((await json(`/instances`))[0]['00080018'].Value![0]))).toBeDefined();
    expect(await gw.gateway.index.counts()).toEqual({ studies: 1, series: 1, instances: 1 });

    const lines = (await auditLines(3)).filter((l) => l.includes('VG-RJ'));
    expect(lines.length).toBe(1);
    expect(lines[0]).toContain('EventActionCode="D"');
    expect(lines[0]).toContain('Rejected for Quality Reasons (113001, DCM)');
    expect(lines[0]).toContain('NumberOfInstances="28"');
    expect(invalidAuditMessages(readAuditMessages(gw.dataDir))).toEqual([]);
    noOriginalIdentifiers(lines);

    // The study and its note can still be deleted.
    expect((await fetch(`${gw.url}/studies/${study}`, { method: 'DELETE' })).status).toBe(204);
    expect(filesUnder(path.join(gw.dataDir, 'files'))).toEqual([]);
  });
});

describe('delete and reject need the admin role (AUTH=keys)', () => {
  test('401 without a credential, 403 for every other role, 404 for another project, 204 for admin', async () => {
    const w = await startAuthWorld({ rejectedGraceDays: 0 }, 2);
    try {
      const series = `/dicom-web/studies/${w.A.study}/series/${w.A.series}`;
      const calls: [string, RequestInit][] = [
        [`/dicom-web/studies/${w.A.study}`, { method: 'DELETE' }],
        [series, { method: 'DELETE' }],
        [`${series}/instances/${w.A.instance}`, { method: 'DELETE' }],
        [`${series}/reject/113001%5EDCM`, { method: 'POST' }],
      ];
      for (const [p, init] of calls) {
        expect((await w.request(undefined, p, init)).status).toBe(401);
        for (const key of ['ingestA', 'readA', 'processA'] as const) expect([p, key, (await w.request(w.keys[key], p, init)).status]).toEqual([p, key, 403]);
      }
      // An admin of project A only: B's study is as absent as a made-up one.
      const other = `/dicom-web/studies/${w.B.study}/series/${w.B.series}`;
      expect((await w.request(w.keys.everythingA, other, { method: 'DELETE' })).status).toBe(404);
      expect((await w.request(w.keys.everythingA, `${other}/reject/113001%5EDCM`, { method: 'POST' })).status).toBe(404);
      expect((await w.request(w.keys.readB, `${other}/instances`)).status).toBe(200);
      expect(((await (await w.request(w.keys.readB, `${other}/instances`)).json()) as unknown[]).length).toBe(2);
      expect((await w.request(w.keys.everythingA, `${series}/reject/113037%5EDCM`, { method: 'POST' })).status).toBe(204);
      expect((await w.request(w.keys.adminAll, `/dicom-web/studies/${w.B.study}`, { method: 'DELETE' })).status).toBe(204);
      expect(((await (await w.request(w.keys.readB, `/dicom-web/studies`)).json()) as unknown[]).length).toBe(0);
    } finally {
      await w.close();
    }
  });
});
