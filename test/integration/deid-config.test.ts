/** The site secret, the linkage file, burned-in refusal over STOW-RS, and de-identification settings. */
import fs from 'node:fs';
import path from 'node:path';
import { startTestGateway, TestGateway } from '../support/gateway';
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
