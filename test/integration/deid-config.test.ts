/** The site secret, the linkage file, burned-in refusal over STOW-RS, and de-identification settings. */
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { deidentified, startTestGateway, TestGateway } from '../support/gateway';
import { loadConfig } from '../../src/config';
import { syntheticInstance } from '../../src/synthetic/instances';
import { encodeText } from '../../src/dicom/values';
import { Tags } from '../../src/dicom/tags';

const stow = (gw: TestGateway, body: Uint8Array) =>
  fetch(`${gw.url}/studies`, { method: 'POST', headers: { 'Content-Type': 'application/dicom' }, body });

const ultrasound = () => {
  const modality = { tag: Tags.Modality, vr: 'CS', value: encodeText('US', 'CS') };
  return syntheticInstance({ patientID: 'LINK-1', extra: [modality] });
};

describe('de-identification settings', () => {
  test('the site secret is made once, owner-only, and the linkage file is off by default', async () => {
    const gw = await startTestGateway();
    try {
      const secretFile = path.join(gw.dataDir, 'secret.key');
      expect(fs.statSync(secretFile).mode & 0o777).toBe(0o600);
      const before = fs.readFileSync(secretFile, 'utf8');
      expect((await stow(gw, syntheticInstance().bytes)).status).toBe(200);
      expect(fs.readFileSync(secretFile, 'utf8')).toBe(before);
      expect(fs.existsSync(path.join(gw.dataDir, 'linkage'))).toBe(false);
      expect(gw.logLines.join('\n')).not.toContain(before.trim());
    } finally {
      await gw.close();
    }
  });

  test('ultrasound without BurnedInAnnotation = NO is refused and leaves nothing; the switch accepts it', async () => {
    const refusing = await startTestGateway();
    try {
      const res = await stow(refusing, ultrasound().bytes);
      expect(res.status).toBe(409);
      const json = (await res.json()) as Record<string, { Value: Record<string, { Value: number[] }>[] }>;
      expect(json['00081198'].Value[0]['00081197'].Value[0]).toBe(0xc000);
      expect((await refusing.gateway.index.counts()).instances).toBe(0);
    } finally {
      await refusing.close();
    }
    const accepting = await startTestGateway({ deid: { ...loadConfig({}).deid, acceptBurnedIn: true, linkage: true } });
    try {
      expect((await stow(accepting, ultrasound().bytes)).status).toBe(200);
      const linkage = path.join(accepting.dataDir, 'linkage', 'linkage.jsonl');
      expect(fs.statSync(linkage).mode & 0o777).toBe(0o600);
      const line = JSON.parse(fs.readFileSync(linkage, 'utf8').trim());
      expect(line.patientID).toBe('LINK-1');
      expect(line.pseudonym).toMatch(/^VG-/);
      const studies = (await (await fetch(`${accepting.url}/studies`)).json()) as Record<string, { Value: string[] }>[];
      expect(studies[0]['00100020'].Value[0]).toBe(line.pseudonym);
      expect(studies[0]['0020000D'].Value[0]).toBe(line.studyUID);
    } finally {
      await accepting.close();
    }
  });

  test('veilgate linkage export --csv writes the old → new mapping, owner-only; nothing serves it', async () => {
    const gw = await startTestGateway({ deid: { ...loadConfig({}).deid, linkage: true } });
    const sent = [syntheticInstance({ patientID: 'LINK-2', instanceNumber: 1 }), syntheticInstance({ patientID: 'LINK-2', instanceNumber: 2 })];
    try {
      for (const s of sent) expect((await stow(gw, s.bytes)).status).toBe(200);
      for (const p of ['/linkage/linkage.jsonl', '/dicom-web/linkage/linkage.jsonl', '/api/linkage', '/viewer/../linkage/linkage.jsonl']) {
        expect([p, (await fetch(gw.url.replace('/dicom-web', '') + p)).status]).toEqual([p, 404]);
      }
    } finally {
      await gw.close({ keepData: true });
    }
    try {
      const cli = path.resolve(__dirname, '../../dist/src/cli/main.js');
      const out = path.join(gw.dataDir, 'export.csv');
      const printed = execFileSync(process.execPath, [cli, 'linkage', 'export', '--csv', '--out', out], { env: { ...process.env, DATA_DIR: gw.dataDir }, encoding: 'utf8' });
      expect(printed).toMatch(/^\d+ mappings written to .*export\.csv \(mode 0600\)/);
      expect(fs.statSync(out).mode & 0o777).toBe(0o600);
      const rows = fs.readFileSync(out, 'utf8').trim().split('\n').map((l) => l.split(','));
      expect(rows[0]).toEqual(['kind', 'original', 'pseudonym']);
      const id = deidentified(gw.dataDir);
      const expected = [
        ['PatientID', 'LINK-2', id.patient('LINK-2')],
        ['StudyInstanceUID', sent[0].studyUID, id.uid(sent[0].studyUID)],
        ['StudyInstanceUID', sent[1].studyUID, id.uid(sent[1].studyUID)],
        ...sent.map((s) => ['SeriesInstanceUID', s.seriesUID, id.uid(s.seriesUID)]),
        ...sent.map((s) => ['SOPInstanceUID', s.sopInstanceUID, id.uid(s.sopInstanceUID)]),
      ];
      expect(rows.slice(1).sort()).toEqual(expected.sort());
      // An existing file is never overwritten or widened.
      expect(() => execFileSync(process.execPath, [cli, 'linkage', 'export', '--csv', '--out', out], { env: { ...process.env, DATA_DIR: gw.dataDir }, stdio: 'pipe' })).toThrow();
    } finally {
      fs.rmSync(gw.dataDir, { recursive: true, force: true });
    }
  });

  test('options from DEID_OPTIONS and the config file; mistakes are errors', () => {
    const c = loadConfig({ DEID_OPTIONS: 'retainUIDs,-cleanDescriptors,dates=full', DEID_ACCEPT_BURNED_IN: 'true' });
    expect(c.deid.options).toMatchObject({ retainUIDs: true, cleanDescriptors: false, retainLongitudinalTemporal: 'full', retainPatientCharacteristics: true });
    expect(c.deid.acceptBurnedIn).toBe(true);
    expect(() => loadConfig({ DEID_OPTIONS: 'retainEverything' })).toThrow(/unknown de-identification option/);
    expect(() => loadConfig({ DEID_LINKAGE: 'yes' })).toThrow(/DEID_LINKAGE/);
    const file = path.join(fs.mkdtempSync('/tmp/veilgate-cfg-'), 'veilgate.config.json');
    fs.writeFileSync(file, JSON.stringify({ deid: { options: { retainSafePrivate: true } } }));
    expect(loadConfig({ CONFIG_FILE: file }).deid.options.retainSafePrivate).toBe(true);
    fs.writeFileSync(file, JSON.stringify({ deid: { options: { retainSafePrivate: 'yes' } } }));
    expect(() => loadConfig({ CONFIG_FILE: file })).toThrow(/deid.options.retainSafePrivate/);
  });
});
