/**
 * A crash between writing an instance file and indexing it leaves a file no row refers to.
 * At start-up such files are moved to DATA_DIR/orphans; indexed files stay where they are.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTestGateway, SHARED_DATA, parseMultipart, TestGateway } from '../support/gateway';
import { sweepOrphans } from '../../src/maintenance/orphan-sweep';

type Json = Record<string, { Value?: unknown[] }>;

function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath ?? (e as unknown as { path: string }).path, e.name)));
}

test('an unindexed file from before start-up is quarantined; indexed and newer files are left alone', async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'veilgate-orphans-'));
  let gw: TestGateway | undefined;
  try {
    gw = await startTestGateway({ dataDir });
    const res = await fetch(`${gw.url}/studies`, { method: 'POST', headers: { 'Content-Type': 'application/dicom' }, body: fs.readFileSync(path.join(SHARED_DATA, 'pydicom/CT_small.dcm')) });
    expect(res.status).toBe(200);
    const url = String(((await res.json()) as Json)['00081199'].Value!.map((i) => (i as Json)['00081190'].Value![0])[0]);
    const retrieve = async (g: TestGateway) => {
      const r = await fetch(url.replace(/^.*\/dicom-web/, g.url), { headers: { Accept: 'multipart/related; type="application/dicom"' } });
      return parseMultipart(Buffer.from(await r.arrayBuffer()), r.headers.get('content-type')!)[0].body;
    };
    const before = await retrieve(gw);
    await gw.close();
    gw = undefined;

    // What a crash after the rename but before the index commit leaves: a whole file, no row.
    const [stored] = filesUnder(path.join(dataDir, 'files'));
    const orphan = path.join(dataDir, 'files', '2.25.1', '2.25.2', '2.25.3.0123456789abcdef.dcm');
    fs.mkdirSync(path.dirname(orphan), { recursive: true });
    fs.copyFileSync(path.join(dataDir, 'files', stored), orphan);
    const anHourAgo = new Date(Date.now() - 3600_000);
    fs.utimesSync(orphan, anHourAgo, anHourAgo);

    gw = await startTestGateway({ dataDir });
    await gw.gateway.sweep;
    expect(filesUnder(path.join(dataDir, 'files'))).toEqual([stored]);
    expect(filesUnder(path.join(dataDir, 'orphans'))).toEqual([path.join('2.25.1', '2.25.2', '2.25.3.0123456789abcdef.dcm')]);
    expect(gw.logLines.some((l) => l.includes('"orphans-quarantined"') && l.includes('"quarantined":1'))).toBe(true);
    // The stored instance is untouched.
    expect((await retrieve(gw)).equals(before)).toBe(true);

    // A file newer than the start (an ingest in flight) is never touched.
    const fresh = path.join(dataDir, 'files', '2.25.9', 'new.dcm');
    fs.mkdirSync(path.dirname(fresh), { recursive: true });
    fs.writeFileSync(fresh, 'x');
    const r = await sweepOrphans(gw.gateway.index, gw.gateway.store, Date.now() - 60_000, { pageSize: 1 });
    expect(r).toEqual({ checked: 2, quarantined: 0 });
    expect(fs.existsSync(fresh)).toBe(true);
  } finally {
    await gw?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
