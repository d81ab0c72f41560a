/**
 * The DIMSE listener driven by dcmtk (Debian's dcmtk): echoscu, storescu of whole folders,
 * findscu, movescu to a storescp the test starts, getscu; refusals for broken data, for
 * unknown callers and unknown move destinations. Everything received goes through the same
 * ingest path as STOW-RS, so it comes back de-identified.
 */
import { ChildProcess, execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTestGateway, TestGateway, SHARED_DATA } from '../support/gateway';
import { filesIn, freePort } from '../support/local';
import dicomParser from 'dicom-parser';
import { loadConfig } from '../../src/config';

/** Native pixel data bytes of an uncompressed Part 10 file, read with dicom-parser (an independent reader). */
function pixelBytes(file: Buffer): Buffer {
  const ds = dicomParser.parseDicom(new Uint8Array(file));
  const el = ds.elements.x7fe00010;
  return Buffer.from(file.buffer, file.byteOffset + el.dataOffset, el.length);
}

jest.setTimeout(120_000);

interface Run {
  code: number;
  output: string;
}

function run(cmd: string, args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: number }).code ?? 1) : 0;
      resolve({ code: typeof code === 'number' ? code : 1, output: stdout + stderr });
    });
  });
}


describe('DIMSE with dcmtk', () => {
  let gw: TestGateway;
  let port: number;
  let storescp: ChildProcess;
  let storescpDir: string;
  let work: string;
  const peer = (callingAe: string) => ['-aec', 'VEILGATE', '-aet', callingAe, '127.0.0.1', String(port)];

  beforeAll(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'veilgate-dimse-'));
    storescpDir = path.join(work, 'storescp');
    fs.mkdirSync(storescpDir);
    const storescpPort = await freePort();
    // +xa: accept compressed syntaxes too, so instances stored compressed arrive as they are.
    storescp = spawn('storescp', ['+xa', '-aet', 'STORESCP', '-od', storescpDir, String(storescpPort)], { stdio: 'ignore' });
    const dimse = {
      ...loadConfig({}).dimse,
      port: 0,
      allowedCallers: ['PACS', 'WORKSTATION@127.0.0.1'],
      destinations: { STORESCP: { host: '127.0.0.1', port: storescpPort } },
    };
    gw = await startTestGateway({ dimse });
    port = gw.gateway.dimse!.port;
  });

  afterAll(async () => {
    storescp?.kill();
    await gw?.close();
    fs.rmSync(work, { recursive: true, force: true });
  });

  test('C-ECHO from an allowed caller succeeds; an unknown caller is rejected at association', async () => {
    expect((await run('echoscu', peer('PACS'))).code).toBe(0);
    const intruder = await run('echoscu', ['-v', ...peer('INTRUDER')]);
    expect(intruder.code).not.toBe(0);
    expect(intruder.output).toMatch(/Association Rejected/);
    expect(intruder.output).toMatch(/Calling AE Title Not Recognized/i);
    const wrongHostRule = await run('echoscu', peer('WORKSTATION'));
    expect(wrongHostRule.code).toBe(0); // allowed from 127.0.0.1
  });

  test('storescu of whole folders: every instance found by QIDO-RS, de-identified', async () => {
    for (const folder of ['dcm_qa_ct/In/GE', 'dcm_qa_ct/In/Philips/S21570/S2010']) {
      // -nh: keep going past a file we refuse (the Philips DIRFILE is not an instance).
      const r = await run('storescu', ['-nh', '+sd', ...peer('PACS'), path.join(SHARED_DATA, folder)]);
      expect(r.output).not.toMatch(/Association Rejected|Abort/);
    }
    // Each transfer syntax of dcm_qa_ts proposed as it is stored, so compressed data arrives compressed.
    const proposal: Record<string, string[]> = {
      '1.dcm': [], '2.dcm': [], '3.dcm': [], '4.dcm': ['-xr'], '5.dcm': ['-xs'], '6.dcm': ['-xs'], '7.dcm': ['-xt'], '8.dcm': ['-xt'], '9.dcm': ['-xv'],
    };
    for (const [file, flags] of Object.entries(proposal)) {
      const r = await run('storescu', ['-v', ...flags, ...peer('PACS'), path.join(SHARED_DATA, 'dcm_qa_ts/In', file)]);
      expect([file, r.output.match(/Received Store Response \((\w+)\)/)?.[1]]).toEqual([file, 'Success']);
      expect(r.output).not.toMatch(/unable to convert/);
    }
    const studies = (await (await fetch(`${gw.url}/studies`)).json()) as Record<string, { Value: unknown[] }>[];
    const total = studies.reduce((n, s) => n + (s['00201208'].Value[0] as number), 0);
    expect(total).toBe(28 + 28 + 9);
    for (const s of studies) {
      expect(s['00100020'].Value[0]).toMatch(/^VG-/);
      expect((s['00100010'].Value[0] as { Alphabetic: string }).Alphabetic).toMatch(/^VG-/);
      expect(s['0020000D'].Value[0]).toMatch(/^2\.25\./);
    }
    const audit = gw.logLines.filter((l) => l.includes('"source":"dimse PACS"') && l.includes('"outcome":"stored"'));
    expect(audit).toHaveLength(65);
    expect(gw.logLines.some((l) => l.includes('"event":"dimse-association"') && l.includes('"callingAe":"PACS"'))).toBe(true);
  });

  test('broken or refused data gets its failure status and leaves nothing stored', async () => {
    const before = await gw.gateway.index.counts();
    const noSeries = path.join(work, 'no-series.dcm');
    fs.copyFileSync(path.join(SHARED_DATA, 'pydicom/CT_small.dcm'), noSeries);
    expect((await run('dcmodify', ['-nb', '-ea', '(0020,000e)', noSeries])).code).toBe(0);
    const wrongClass = path.join(work, 'wrong-class.dcm');
    fs.copyFileSync(path.join(SHARED_DATA, 'pydicom/rtplan.dcm'), wrongClass);
    // dcmodify keeps the file meta SOP class in step with the data set.
    expect((await run('dcmodify', ['-nb', '-m', '(0008,0016)=1.2.840.10008.5.1.4.1.1.2', wrongClass])).code).toBe(0);

    const missing = await run('storescu', ['-v', ...peer('PACS'), noSeries]);
    expect(missing.output).toMatch(/Received Store Response \(Error: CannotUnderstand\)/);
    const mismatch = await run('storescu', ['-v', ...peer('PACS'), wrongClass]);
    expect(mismatch.output).toMatch(/Received Store Response \(Error: DataSetDoesNotMatchSOPClass\)/);
    const capture = await run('storescu', ['-v', ...peer('PACS'), path.join(SHARED_DATA, 'pydicom/SC_rgb_small_odd.dcm')]);
    expect(capture.output).toMatch(/Received Store Response \(Error: CannotUnderstand\)/); // burned-in risk: refused
    const intruder = await run('storescu', ['-v', ...peer('INTRUDER'), path.join(SHARED_DATA, 'pydicom/CT_small.dcm')]);
    expect(intruder.output).toMatch(/Association Rejected/);
    expect(await gw.gateway.index.counts()).toEqual(before);
    // Each process writes in its own folder of tmp: no file may be left in any of them.
    expect(fs.readdirSync(path.join(gw.dataDir, 'tmp'), { recursive: true, withFileTypes: true }).filter((e) => e.isFile())).toEqual([]);
  });

  test('C-FIND at study and series level matches like QIDO-RS', async () => {
    const studies = await run('findscu', ['-S', '-v', ...peer('PACS'), '-k', 'QueryRetrieveLevel=STUDY', '-k', 'StudyInstanceUID', '-k', 'PatientID', '-k', 'NumberOfStudyRelatedInstances', '-k', 'ModalitiesInStudy=CT']);
    expect(studies.code).toBe(0);
    // An odd-length UID is padded with NUL (PS3.5 9.1), which findscu prints inside the brackets.
    const studyUids = [...studies.output.matchAll(/\(0020,000d\) UI \[([0-9.]+)\0?\]/g)].map((m) => m[1]).filter((u) => u.startsWith('2.25.'));
    expect(studyUids).toHaveLength(2); // the two CTs; the MR series does not match CT
    const series = await run('findscu', ['-S', '-v', ...peer('PACS'), '-k', 'QueryRetrieveLevel=SERIES', '-k', `StudyInstanceUID=${studyUids[0]}`, '-k', 'SeriesInstanceUID', '-k', 'Modality', '-k', 'NumberOfSeriesRelatedInstances']);
    expect(series.output).toMatch(/\(0008,0060\) CS \[CT\]/);
    expect(series.output).toMatch(/\(0020,1209\) IS \[28\]/);
    expect(series.output).toMatch(/Received Final Find Response \(Success\)/);
    const pseudonym = /\(0010,0020\) LO \[(VG-[A-Z2-7]+) ?\]/.exec(studies.output)![1];
    const byPatient = await run('findscu', ['-P', '-v', ...peer('PACS'), '-k', 'QueryRetrieveLevel=PATIENT', '-k', `PatientID=${pseudonym}`, '-k', 'PatientName']);
    expect([...byPatient.output.matchAll(/Find Response: \d+ \(Pending\)/g)]).toHaveLength(1);
  });

  test('C-MOVE to a configured storescp, C-GET to getscu; unknown destination refused', async () => {
    const studies = (await (await fetch(`${gw.url}/studies?ModalitiesInStudy=MR`)).json()) as Record<string, { Value: string[] }>[];
    const study = studies[0]['0020000D'].Value[0];
    const move = await run('movescu', ['-S', '-v', ...peer('PACS'), '-aem', 'STORESCP', '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${study}`]);
    expect(move.output).toMatch(/Received Final Move Response \(Success\)/);
    const moved = filesIn(storescpDir);
    expect(moved).toHaveLength(9);
    const dump = await run('dcmdump', [path.join(storescpDir, moved[0])]);
    expect(dump.output).toMatch(/\(0010,0010\) PN \[VG-/);
    expect(dump.output).toMatch(/\(0012,0062\) CS \[YES\]/);
    expect(dump.output).toMatch(/\(7fe0,0010\)/);

    // getscu takes only uncompressed data: the six compressed MR instances (RLE, JPEG lossless,
    // JPEG-LS, JPEG 2000) are decoded for it, and all nine carry the same pixels as the
    // uncompressed original.
    const getDir = path.join(work, 'get');
    fs.mkdirSync(getDir);
    const mrGet = await run('getscu', ['-S', '-v', ...peer('PACS'), '-od', getDir, '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${study}`]);
    expect(mrGet.output).toMatch(/Number of Completed Suboperations\s*: 9/);
    expect(mrGet.output).not.toMatch(/Number of Failed Suboperations\s*: [1-9]/);
    const reference = pixelBytes(fs.readFileSync(path.join(SHARED_DATA, 'dcm_qa_ts/In/1.dcm')));
    const mrFiles = filesIn(getDir);
    expect(mrFiles).toHaveLength(9);
    for (const f of mrFiles) expect(pixelBytes(fs.readFileSync(path.join(getDir, f))).equals(reference)).toBe(true);
    fs.rmSync(getDir, { recursive: true });
    fs.mkdirSync(getDir);
    const ct = (await (await fetch(`${gw.url}/studies?ModalitiesInStudy=CT`)).json()) as Record<string, { Value: string[] }>[];
    const get = await run('getscu', ['-S', '-v', ...peer('PACS'), '-od', getDir, '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${ct[0]['0020000D'].Value[0]}`]);
    expect(get.output).toMatch(/Number of Completed Suboperations\s*: 28/);
    const got = filesIn(getDir);
    expect(got).toHaveLength(28);
    for (const f of got) {
      // Whole instances, not rebuilt shells: pixel data and the de-identification markers came along.
      const d = await run('dcmdump', ['+P', '7fe0,0010', '+P', '0012,0062', path.join(getDir, f)]);
      expect(d.output).toMatch(/\(7fe0,0010\)/);
      expect(d.output).toMatch(/\(0012,0062\) CS \[YES\]/);
    }

    const unknown = await run('movescu', ['-S', '-v', ...peer('PACS'), '-aem', 'NOWHERE', '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${study}`]);
    expect(unknown.output).toMatch(/Received Final Move Response \(Refused: MoveDestinationUnknown\)/);
  });
});

describe('DIMSE association limit', () => {
  test('an association beyond DIMSE_MAX_ASSOCIATIONS is rejected as a transient local limit', async () => {
    const gw = await startTestGateway({ dimse: { ...loadConfig({}).dimse, port: 0, maxAssociations: 1 } });
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'veilgate-dimse-limit-'));
    try {
      const peer = ['-aec', 'VEILGATE', '-aet', 'PACS', '127.0.0.1', String(gw.gateway.dimse!.port)];
      await run('storescu', ['-nh', '+sd', ...peer, path.join(SHARED_DATA, 'dcm_qa_ct/In/GE')]);
      const study = ((await (await fetch(`${gw.url}/studies`)).json()) as Record<string, { Value: string[] }>[])[0]['0020000D'].Value[0];
      // A C-GET of 28 instances holds the only association for a while...
      const get = run('getscu', ['-S', ...peer, '-od', work, '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${study}`]);
      await new Promise((r) => setTimeout(r, 300));
      const echo = await run('echoscu', ['-v', ...peer]);
      expect(echo.output).toMatch(/Association Rejected/);
      expect(echo.output).toMatch(/Local Limit Exceeded/i);
      expect((await get).code).toBe(0);
      expect((await run('echoscu', peer)).code).toBe(0); // free again
    } finally {
      await gw.close();
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
});
