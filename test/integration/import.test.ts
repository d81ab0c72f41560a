/** Folder import goes through the same ingest path and reports stored, duplicates and rejections. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { loadConfig } from '../../src/config';
import { importFolder } from '../../src/cli/import';
import { SqliteIndex } from '../../src/index/sqlite-index';
import { SHARED_DATA } from '../support/gateway';

const folder = path.join(SHARED_DATA, 'dcm_qa_ct/In/Philips/S21570/S2010');

describe('veilgate import', () => {
  let dataDir: string;
  beforeEach(() => (dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'veilgate-import-'))));
  afterEach(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  test('imports a CT series, then finds every file a duplicate on the second run', async () => {
    const config = loadConfig({}, { dataDir });
    const first = await importFolder(folder, config);
    expect(first.stored).toBe(28);
    expect(first.rejected.map((r) => r.file)).toEqual(['DIRFILE']); // a DICOMDIR, not an instance
    const second = await importFolder(folder, config);
    expect(second).toMatchObject({ stored: 0, duplicates: 28 });
    const index = new SqliteIndex(dataDir);
    expect(await index.counts()).toEqual({ studies: 1, series: 1, instances: 28 });
    await index.close();
  });

  test('the command line prints a summary and exits 2 when files were rejected', () => {
    // The compiled command, as `npm run import` runs it (`npm test` builds first).
    const cli = path.resolve(__dirname, '../../dist/src/cli/main.js');
    let out = '';
    let status = 0;
    try {
      out = execFileSync(process.execPath, [cli, 'import', folder], { env: { ...process.env, DATA_DIR: dataDir }, encoding: 'utf8' });
    } catch (e) {
      const err = e as { status: number; stdout: string };
      status = err.status;
      out = err.stdout;
    }
    expect(status).toBe(2);
    expect(out).toMatch(/^29 files: 28 stored, 0 duplicates, 1 rejected$/m);
    expect(out).toMatch(/rejected DIRFILE: SOPClassUID is missing/);
  });

  test('veilgate job runs an operation on a stored series and records it', async () => {
    const config = loadConfig({}, { dataDir });
    await importFolder(folder, config);
    const index = new SqliteIndex(dataDir);
    const [match] = (await index.search({ level: 'series', scope: {}, constraints: [], includeFields: [], limit: 1, offset: 0 })).rows;
    await index.close();
    const cli = path.resolve(__dirname, '../../dist/src/cli/main.js');
    const out = execFileSync(process.execPath, [cli, 'job', 'segment', '--study', match.studyUID, '--series', match.seriesUID!, '--params', '{"method":"threshold","preset":"bone"}'], {
      env: { ...process.env, DATA_DIR: dataDir },
      encoding: 'utf8',
    });
    const job = JSON.parse(out) as { state: string; result: { series: { kind: string; instances: number }[] } };
    expect(job.state).toBe('done');
    expect(job.result.series).toEqual([expect.objectContaining({ kind: 'segmentation', instances: 1 })]);
    let bad: { status: number; stderr: string } | undefined;
    try {
      execFileSync(process.execPath, [cli, 'job', 'segment', '--study', match.studyUID, '--series', match.seriesUID!, '--params', '{"preset":"nope"}'], { env: { ...process.env, DATA_DIR: dataDir }, encoding: 'utf8', stdio: 'pipe' });
    } catch (e) {
      bad = e as { status: number; stderr: string };
    }
    expect(bad?.status).toBe(1);
    expect(bad?.stderr).toMatch(/preset must be one of/);
  });
});
