/**
 * Access control on every DIMSE association, driven by dcmtk (storescu, findscu, movescu,
 * getscu, echoscu) on real data: who may associate (auth.dimseCallers, DIMSE_ALLOWED_AE), the
 * role each service needs, project isolation in C-FIND, C-MOVE and C-GET (another project's
 * study is answered exactly as an unknown one), user identity negotiation (an API key as
 * passcode, a JWT), DICOM TLS with client certificates, and the events the audit trail gets.
 */
import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { constants } from 'dcmjs-dimse';
import { startTestGateway, TestGateway, SHARED_DATA } from '../support/gateway';
import { filesIn, freePort } from '../support/local';
import { auditEvents, invalidAuditMessages, readAuditMessages } from '../support/audit-files';
import { makeTestPki, TestPki } from '../support/dimse-auth-pki';
import { REJECTED, Run, associate, echo, run, studyFind } from '../support/dimse-auth-peers';
import { startTestIssuer, TestIssuer } from '../support/dimse-auth-issuer';
import { loadConfig } from '../../src/config';
import { loadAuthConfig } from '../../src/auth/config';
import { ALL_PROJECTS, Principal, Role } from '../../src/auth/principal';
import { startDimse, DimseListener } from '../../src/dimse/listener';
import { DimseEvents } from '../../src/dimse/events';
import * as services from '../../src/dimse/services';
import { ROLE_FOR, Service, judgeContext, NOT_AUTHORIZED } from '../../src/dimse/services';
import { narrowToGrant } from '../../src/dimse/identity';
import { callerAllowed, effectiveAllowedCallers, grantFor } from '../../src/dimse/callers';

jest.setTimeout(180_000);

const CT3 = path.join(SHARED_DATA, 'dcmqi/data/segmentations/ct-3slice');
const CT_SMALL = path.join(SHARED_DATA, 'pydicom/CT_small.dcm');
const { RejectResult, RejectSource, RejectReason, PresentationContextResult } = constants;


/** dcmtk's address arguments for a calling AE. */
const peerArgs = (port: number, callingAe: string) => ['-aec', 'VEILGATE', '-aet', callingAe, '127.0.0.1', String(port)];

/** The study UIDs (pseudonymous, 2.25.) in a findscu -v output. */
function uidsIn(output: string, tag: string): string[] {
  const re = new RegExp(`\\(${tag}\\) UI \\[([0-9.]+)\\0?\\]`, 'g');
  return [...output.matchAll(re)].map((m) => m[1]).filter((u) => u.startsWith('2.25.'));
}

const pendingCount = (output: string) => [...output.matchAll(/Find Response: \d+ \(Pending\)/g)].length;

/**
 * A value of the same length as `real` that names nothing stored: dcmtk prints value lengths,
 * so only an equally long value gives output that can be compared character for character.
 */
function madeUpLike(real: string): string {
  const prefix = real.startsWith('2.25.') ? '2.25.' : real.slice(0, 3);
  return prefix + (prefix === '2.25.' ? '9' : 'A').repeat(real.length - prefix.length);
}

/** A dcmtk output with one UID replaced, so two runs that differ only in it can be compared. */
const normalised = (r: Run, uid: string) => ({ code: r.code, output: r.output.split(uid).join('<UID>') });

/** Every study in the index, with its projects (the test looks behind the access view). */
async function studiesByProject(gw: TestGateway): Promise<{ uid: string; patientID: string; projects: string[] }[]> {
  const all = await gw.gateway.index.search({ level: 'study', scope: {}, constraints: [], includeFields: ['00100020'], limit: 1000, offset: 0 });
  return Promise.all(
    all.rows.map(async (r) => ({ uid: r.studyUID, patientID: String(r.json['00100020']?.Value?.[0] ?? ''), projects: await gw.gateway.index.studyProjects(r.studyUID) })),
  );
}

function startStorescp(dir: string, port: number): ChildProcess {
  fs.mkdirSync(dir, { recursive: true });
  return spawn('storescp', ['+xa', '-aet', 'STORESCP', '-od', dir, String(port)], { stdio: 'ignore' });
}

const role = (...r: Role[]) => new Set<Role>(r);

describe('association decisions (pure)', () => {
  test('a C-GET SCU that only receives needs read; one that sends needs ingest; both roles are narrowed', () => {
    const p = (roles: ('ingest' | 'read')[]): Principal => ({ id: 'x', via: 'ae', roles: new Set(roles), projects: new Set(['p']) });
    expect(judgeContext(p(['read']), 'storage', {})).toEqual({ accept: false });
    expect(judgeContext(p(['ingest']), 'storage', {})).toEqual({ accept: true });
    expect(judgeContext(p(['read']), 'storage', { userRole: false, providerRole: true })).toEqual({ accept: true, roles: { userRole: false, providerRole: true } });
    expect(judgeContext(p(['ingest']), 'storage', { userRole: false, providerRole: true })).toEqual({ accept: false });
    expect(judgeContext(p(['read']), 'storage', { userRole: true, providerRole: true })).toEqual({ accept: true, roles: { userRole: false, providerRole: true } });
    expect(judgeContext(p(['ingest']), 'storage', { userRole: true, providerRole: true })).toEqual({ accept: true, roles: { userRole: true, providerRole: false } });
    for (const s of ['find', 'move', 'get'] as Service[]) {
      expect(judgeContext(p(['read']), s, {})).toEqual({ accept: true });
      expect(judgeContext(p(['ingest']), s, {})).toEqual({ accept: false });
    }
    expect(judgeContext(p([]), 'verification', {})).toEqual({ accept: true });
    // The handler-level refusals: 0124H where PS3.7 defines it (C-STORE), C000-range otherwise.
    expect(NOT_AUTHORIZED.store.status).toBe(0x0124);
    expect(NOT_AUTHORIZED.query.status).toBeGreaterThanOrEqual(0xc000);
    expect(NOT_AUTHORIZED.query.status).toBeLessThanOrEqual(0xcfff);
  });

  test('a user on an AE keeps only what the AE grant also has', () => {
    const user: Principal = { id: 'k', via: 'key', roles: role('ingest', 'read', 'admin'), projects: new Set(['a', 'b']) };
    expect(narrowToGrant(user, { roles: ['read'], projects: [ALL_PROJECTS] })).toEqual({ id: 'k', via: 'key', roles: role('read'), projects: new Set(['a', 'b']) });
    expect(narrowToGrant(user, { roles: ['ingest', 'read'], projects: ['b', 'c'] })).toEqual({ id: 'k', via: 'key', roles: role('ingest', 'read'), projects: new Set(['b']) });
    const everywhere: Principal = { ...user, projects: new Set([ALL_PROJECTS]) };
    expect(narrowToGrant(everywhere, { roles: ['ingest'], projects: ['c'] }).projects).toEqual(new Set(['c']));
    // No common project: no role either (ingest would otherwise store into the default project).
    expect(narrowToGrant(user, { roles: ['ingest', 'read'], projects: ['z'] }).roles).toEqual(new Set());
  });

  test('callers: AE@host before AE; the default "*" is not applied off loopback', () => {
    const callers = { 'PACS@10.0.0.1': { roles: ['read' as const], projects: ['a'] }, PACS: { roles: ['ingest' as const], projects: ['a'] } };
    expect(grantFor(callers, 'PACS', '10.0.0.1')?.roles).toEqual(['read']);
    expect(grantFor(callers, 'PACS', '10.0.0.2')?.roles).toEqual(['ingest']);
    expect(grantFor(callers, 'OTHER', '10.0.0.1')).toBeUndefined();
    expect(grantFor(callers, 'constructor', '10.0.0.1')).toBeUndefined();
    // The host binding cannot be claimed by putting it in the AE title.
    expect(grantFor(callers, 'PACS@10.0.0.1', '127.0.0.1')).toBeUndefined();
    const dimse = loadConfig({}).dimse;
    expect(dimse.allowedCallersExplicit).toBe(false);
    expect(effectiveAllowedCallers(dimse, '127.0.0.1')).toEqual(['*']);
    expect(effectiveAllowedCallers(dimse, '0.0.0.0')).toEqual([]);
    expect(effectiveAllowedCallers(loadConfig({ DIMSE_ALLOWED_AE: '*' }).dimse, '0.0.0.0')).toEqual(['*']);
    expect(callerAllowed(['WS@10.0.0.9'], 'WS', '10.0.0.9')).toBe(true);
    expect(callerAllowed(['WS@10.0.0.9'], 'WS', '10.0.0.8')).toBe(false);
  });
});

describe('DIMSE access control, auth on (keys)', () => {
  let gw: TestGateway;
  let port: number;
  let work: string;
  let storescp: ChildProcess;
  let storescpDir: string;
  const peer = (ae: string) => peerArgs(port, ae);
  let studyA: string;
  let studyB: string;
  let patientA: string;
  let patientB: string;
  let madeUp: string;

  beforeAll(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'veilgate-dimse-auth-'));
    storescpDir = path.join(work, 'storescp');
    const storescpPort = await freePort();
    storescp = startStorescp(storescpDir, storescpPort);
    const auth = loadAuthConfig(
      {
        mode: 'keys',
        failuresPerMinute: 100,
        dimseCallers: {
          AE_A: { roles: ['ingest', 'read'], projects: ['pa'] },
          AE_B: { roles: ['ingest', 'read'], projects: ['pb'] },
          READONLY: { roles: ['read'], projects: ['pa'] },
          INGESTONLY: { roles: ['ingest'], projects: ['pa'] },
          KEYED: { roles: ['ingest', 'read'], projects: ['*'] },
          NARROW: { roles: ['ingest', 'read'], projects: ['pn'] },
          STRICT: { roles: ['ingest', 'read'], projects: ['*'], identity: 'required' },
          'HOSTED@127.0.0.1': { roles: ['read'], projects: ['pa'] },
          HOSTED: { roles: ['ingest', 'read'], projects: ['pa'] },
          'ELSEWHERE@192.0.2.1': { roles: ['ingest', 'read'], projects: ['pa'] },
        },
      },
      {},
      '127.0.0.1',
    );
    const dimse = { ...loadConfig({}).dimse, port: 0, destinations: { STORESCP: { host: '127.0.0.1', port: storescpPort } } };
    gw = await startTestGateway({ auth, dimse });
    port = gw.gateway.dimse!.port;

    // Two projects, one study each, each stored by its own AE.
    expect((await run('storescu', ['-nh', '+sd', ...peer('AE_A'), CT3])).output).not.toMatch(REJECTED);
    expect((await run('storescu', ['-nh', ...peer('AE_B'), CT_SMALL])).output).not.toMatch(REJECTED);
    const studies = await studiesByProject(gw);
    const a = studies.find((s) => s.projects.includes('pa'))!;
    const b = studies.find((s) => s.projects.includes('pb'))!;
    expect(studies).toHaveLength(2);
    expect(a.projects).toEqual(['pa']);
    expect(b.projects).toEqual(['pb']);
    [studyA, studyB, patientA, patientB] = [a.uid, b.uid, a.patientID, b.patientID];
    expect(patientA).not.toBe(patientB);
    madeUp = madeUpLike(studyB);
  });

  let gatewayClosed = false;
  afterAll(async () => {
    storescp?.kill();
    if (!gatewayClosed) await gw?.close();
    fs.rmSync(work, { recursive: true, force: true });
  });

  test('an unlisted AE is rejected at association (calling AE not recognized) and nothing is stored', async () => {
    const before = await gw.gateway.index.counts();
    const store = await run('storescu', ['-v', ...peer('STRANGER'), CT_SMALL]);
    expect(store.output).toMatch(REJECTED);
    expect(store.output).toMatch(/Calling AE Title Not Recognized/i);
    // An AE listed only from another host is as unknown from here.
    expect((await run('storescu', ['-v', ...peer('ELSEWHERE'), CT_SMALL])).output).toMatch(/Calling AE Title Not Recognized/i);
    expect(await gw.gateway.index.counts()).toEqual(before);
    const raw = await associate(port, 'STRANGER', echo());
    expect(raw.association).toBe('rejected');
    expect(raw.reject).toEqual({ result: RejectResult.Permanent, source: RejectSource.ServiceUser, reason: RejectReason.CallingAeNotRecognized });
    expect(gw.logLines.some((l) => l.includes('"event":"dimse-association-rejected"') && l.includes('"why":"calling-ae-not-allowed"'))).toBe(true);
  });

  test('an AE with only read cannot store (storage contexts refused); one with only ingest cannot find', async () => {
    const before = await gw.gateway.index.counts();
    const store = await run('storescu', ['-v', ...peer('READONLY'), CT_SMALL]);
    expect(store.code).not.toBe(0);
    expect(store.output).not.toMatch(REJECTED); // the association is accepted: Verification stays open
    expect(store.output).toMatch(/No presentation context|No Acceptable Presentation Contexts/i);
    expect(await gw.gateway.index.counts()).toEqual(before);
    const find = await run('findscu', ['-S', '-v', ...peer('INGESTONLY'), '-k', 'QueryRetrieveLevel=STUDY', '-k', 'StudyInstanceUID']);
    expect(find.code).not.toBe(0);
    expect(find.output).toMatch(/No Acceptable Presentation Contexts|No presentation context/i);
    expect(uidsIn(find.output, '0020,000d')).toEqual([]);
    // The A-ASSOCIATE-AC says so per context: user rejection, not "abstract syntax not supported".
    const raw = await associate(port, 'INGESTONLY', studyFind({ StudyInstanceUID: '' }));
    expect(raw.association).toBe('accepted');
    expect(raw.contexts['1.2.840.10008.5.1.4.1.2.2.1']).toBe(PresentationContextResult.RejectUser);
    expect(raw.matches).toEqual([]);
  });

  test('AE@host wins over AE: HOSTED from 127.0.0.1 is read-only', async () => {
    const store = await run('storescu', ['-v', ...peer('HOSTED'), CT_SMALL]);
    expect(store.output).toMatch(/No presentation context|No Acceptable Presentation Contexts/i);
    const find = await run('findscu', ['-S', '-v', ...peer('HOSTED'), '-k', 'QueryRetrieveLevel=STUDY', '-k', 'StudyInstanceUID']);
    expect(uidsIn(find.output, '0020,000d')).toEqual([studyA]);
  });

  test('an AE title that spells out a host binding ("ELSEWHERE@192.0.2.1") is rejected from any other host', async () => {
    const before = (await studiesByProject(gw)).length;
    const store = await run('storescu', ['-nh', '-aet', 'ELSEWHERE@192.0.2.1', '-aec', 'VEILGATE', '127.0.0.1', String(port), CT_SMALL]);
    expect(store.output).toMatch(REJECTED);
    expect((await studiesByProject(gw)).length).toBe(before);
  });

  test('project isolation: C-FIND at every level never shows another project, and its study answers as an unknown one', async () => {
    const studyLevel = await run('findscu', ['-S', '-v', ...peer('AE_A'), '-k', 'QueryRetrieveLevel=STUDY', '-k', 'StudyInstanceUID', '-k', 'PatientID']);
    expect(uidsIn(studyLevel.output, '0020,000d')).toEqual([studyA]);
    const patientLevel = await run('findscu', ['-P', '-v', ...peer('AE_A'), '-k', 'QueryRetrieveLevel=PATIENT', '-k', 'PatientID']);
    expect(pendingCount(patientLevel.output)).toBe(1);
    expect(patientLevel.output).toContain(patientA);
    expect(patientLevel.output).not.toContain(patientB);
    const seriesLevel = await run('findscu', ['-S', '-v', ...peer('AE_A'), '-k', 'QueryRetrieveLevel=SERIES', '-k', 'StudyInstanceUID', '-k', 'SeriesInstanceUID']);
    expect(new Set(uidsIn(seriesLevel.output, '0020,000d'))).toEqual(new Set([studyA]));
    const imageLevel = await run('findscu', ['-S', '-v', ...peer('AE_A'), '-k', 'QueryRetrieveLevel=IMAGE', '-k', 'StudyInstanceUID', '-k', 'SOPInstanceUID']);
    expect(pendingCount(imageLevel.output)).toBe(3);
    expect(new Set(uidsIn(imageLevel.output, '0020,000d'))).toEqual(new Set([studyA]));
    // B sees only its own.
    const asB = await run('findscu', ['-S', '-v', ...peer('AE_B'), '-k', 'QueryRetrieveLevel=STUDY', '-k', 'StudyInstanceUID']);
    expect(uidsIn(asB.output, '0020,000d')).toEqual([studyB]);

    // B's study by its UID, and B's patient by its ID, answered to A exactly as made-up ones.
    const madeUpPatient = madeUpLike(patientB);
    for (const [root, level, key, real, fake] of [
      ['-S', 'STUDY', 'StudyInstanceUID', studyB, madeUp],
      ['-S', 'SERIES', 'StudyInstanceUID', studyB, madeUp],
      ['-S', 'IMAGE', 'StudyInstanceUID', studyB, madeUp],
      ['-P', 'PATIENT', 'PatientID', patientB, madeUpPatient],
    ]) {
      const ask = (value: string) => run('findscu', [root, '-v', ...peer('AE_A'), '-k', `QueryRetrieveLevel=${level}`, '-k', `${key}=${value}`, '-k', 'SOPInstanceUID', '-k', 'PatientName']);
      const other = await ask(real);
      const unknown = await ask(fake);
      expect(pendingCount(other.output)).toBe(0);
      expect(other.output).toMatch(/Received Final Find Response \(Success\)/);
      expect(normalised(other, real)).toEqual(normalised(unknown, fake));
    }
  });

  test('project isolation: C-MOVE and C-GET of another project send nothing, answered as for an unknown study', async () => {
    const moveA = await run('movescu', ['-S', '-v', ...peer('AE_A'), '-aem', 'STORESCP', '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${studyA}`]);
    expect(moveA.output).toMatch(/Received Final Move Response \(Success\)/);
    expect(filesIn(storescpDir)).toHaveLength(3);

    const move = (uid: string) => run('movescu', ['-S', '-v', ...peer('AE_A'), '-aem', 'STORESCP', '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${uid}`]);
    const moveB = await move(studyB);
    const moveUnknown = await move(madeUp);
    expect(moveB.output).toMatch(/Received Final Move Response \(Success\)/);
    expect(normalised(moveB, studyB)).toEqual(normalised(moveUnknown, madeUp));
    // A PATIENT level retrieve of B's patient, and an IMAGE level one of B's instance, the same.
    const bInstance = (await gw.gateway.index.instances({ study: studyB }))[0].sopInstanceUID;
    const movePatient = await run('movescu', ['-P', '-v', ...peer('AE_A'), '-aem', 'STORESCP', '-k', 'QueryRetrieveLevel=PATIENT', '-k', `PatientID=${patientB}`]);
    expect(movePatient.output).not.toMatch(/Number of Completed Suboperations\s*: [1-9]/);
    const moveImage = await run('movescu', ['-S', '-v', ...peer('AE_A'), '-aem', 'STORESCP', '-k', 'QueryRetrieveLevel=IMAGE', '-k', `StudyInstanceUID=${studyB}`, '-k', `SeriesInstanceUID=${madeUp}`, '-k', `SOPInstanceUID=${bInstance}`]);
    expect(moveImage.output).not.toMatch(/Number of Completed Suboperations\s*: [1-9]/);
    expect(filesIn(storescpDir)).toHaveLength(3);

    const getDir = path.join(work, 'get');
    fs.mkdirSync(getDir);
    const get = (uid: string) => run('getscu', ['-S', '-v', ...peer('AE_A'), '-od', getDir, '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${uid}`]);
    const getA = await get(studyA);
    expect(getA.output).toMatch(/Number of Completed Suboperations\s*: 3/);
    expect(filesIn(getDir)).toHaveLength(3);
    fs.rmSync(getDir, { recursive: true });
    fs.mkdirSync(getDir);
    const getB = await get(studyB);
    const getUnknown = await get(madeUp);
    expect(normalised(getB, studyB)).toEqual(normalised(getUnknown, madeUp));
    expect(filesIn(getDir)).toEqual([]);
  });

  test('route crawler: every service class the SCP implements, for an unlisted AE, a wrong role and the right role', async () => {
    const getDir = path.join(work, 'crawl-get');
    fs.mkdirSync(getDir, { recursive: true });
    const noContext = /No presentation context|No Acceptable Presentation Contexts/i;
    const crawl: Record<Service, { run(ae: string): Promise<Run>; right: string; wrong?: string; success: RegExp; refused?: RegExp }> = {
      verification: { run: (ae) => run('echoscu', ['-v', ...peer(ae)]), right: 'INGESTONLY', success: /Received Echo Response \(Success\)/ },
      storage: { run: (ae) => run('storescu', ['-v', ...peer(ae), CT_SMALL]), right: 'AE_B', wrong: 'READONLY', success: /Received Store Response \(Success\)/, refused: noContext },
      find: {
        run: (ae) => run('findscu', ['-S', '-v', ...peer(ae), '-k', 'QueryRetrieveLevel=STUDY', '-k', 'StudyInstanceUID']),
        right: 'READONLY',
        wrong: 'INGESTONLY',
        success: /Received Final Find Response \(Success\)/,
        refused: noContext,
      },
      move: {
        run: (ae) => run('movescu', ['-S', '-v', ...peer(ae), '-aem', 'STORESCP', '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${studyA}`]),
        right: 'READONLY',
        wrong: 'INGESTONLY',
        success: /Received Final Move Response \(Success\)/,
        refused: noContext,
      },
      // A read-only AE can C-GET: the storage contexts it proposes to receive on need read, not ingest.
      get: {
        run: (ae) => run('getscu', ['-S', '-v', ...peer(ae), '-od', getDir, '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${studyA}`]),
        right: 'READONLY',
        wrong: 'INGESTONLY',
        success: /Number of Completed Suboperations\s*: 3/,
        refused: noContext,
      },
    };
    // Every service the SCP offers is crawled, and each one that needs a role is tried without it.
    expect(Object.keys(crawl).sort()).toEqual(Object.keys(ROLE_FOR).sort());
    for (const [service, c] of Object.entries(crawl) as [Service, (typeof crawl)[Service]][]) {
      const unlisted = await c.run('NOBODY');
      expect([service, REJECTED.test(unlisted.output)]).toEqual([service, true]);
      if (ROLE_FOR[service]) {
        const wrong = await c.run(c.wrong!);
        expect([service, REJECTED.test(wrong.output), c.refused!.test(wrong.output), c.success.test(wrong.output)]).toEqual([service, false, true, false]);
      } else {
        // No role needed: an AE with none of the others' roles still verifies.
        for (const ae of ['READONLY', 'INGESTONLY']) expect([service, ae, c.success.test((await c.run(ae)).output)]).toEqual([service, ae, true]);
      }
      const right = await c.run(c.right);
      expect([service, right.code, c.success.test(right.output)]).toEqual([service, 0, true]);
    }
  });

  test('defence in depth: with the association-time check bypassed, every handler still refuses a missing role', async () => {
    // Accept every context whatever the roles, as a bug in the negotiation would.
    const spy = jest.spyOn(services, 'judgeContext').mockImplementation(() => ({ accept: true }));
    const refusals = () => gw.logLines.filter((l) => l.includes('"event":"dimse-request-not-authorized"')).length;
    const refusedBefore = refusals();
    try {
      const before = await gw.gateway.index.counts();
      const store = await run('storescu', ['-v', ...peer('READONLY'), CT_SMALL]);
      expect(store.output).toMatch(/Received Store Response \(Unknown Status: 0x124\)/);
      expect(await gw.gateway.index.counts()).toEqual(before);
      const find = await associate(port, 'INGESTONLY', studyFind({ StudyInstanceUID: '' }));
      expect([find.association, find.matches, find.status, find.comment]).toEqual(['accepted', [], NOT_AUTHORIZED.query.status, 'not authorized']);
      const findscu = await run('findscu', ['-S', '-v', ...peer('INGESTONLY'), '-k', 'QueryRetrieveLevel=STUDY', '-k', 'StudyInstanceUID']);
      expect(findscu.output).toMatch(/Received Final Find Response \(Failed: UnableToProcess\)/);
      const before3 = filesIn(storescpDir).length;
      const move = await run('movescu', ['-S', '-v', ...peer('INGESTONLY'), '-aem', 'STORESCP', '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${studyA}`]);
      expect(move.output).toMatch(/Received Final Move Response \(Failed: UnableToProcess\)/);
      expect(filesIn(storescpDir)).toHaveLength(before3);
      const getDir = path.join(work, 'depth-get');
      fs.mkdirSync(getDir);
      const get = await run('getscu', ['-S', '-v', ...peer('INGESTONLY'), '-od', getDir, '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${studyA}`]);
      expect(get.output).toMatch(/Received C-GET Response \(Failed: UnableToProcess\)/);
      expect(filesIn(getDir)).toEqual([]);
      expect(refusals() - refusedBefore).toBe(5); // one per request: store, two finds, move, get
    } finally {
      spy.mockRestore();
    }
  });

  describe('user identity negotiation', () => {
    let ingestKey: string;
    let readKey: string;
    let elsewhereKey: string;
    let keyStudy: string;

    beforeAll(async () => {
      const keys = gw.gateway.keys;
      ingestKey = (await keys.add('dimse-ingest', ['ingest', 'read'], ['pk'])).key;
      readKey = (await keys.add('dimse-read', ['read'], ['pk'])).key;
      elsewhereKey = (await keys.add('dimse-elsewhere', ['ingest', 'read'], ['pz'])).key;
    });

    test('an API key as passcode: the association acts for the key, within the AE grant', async () => {
      const before = await studiesByProject(gw);
      const r = await run('storescu', ['-v', '--user', 'alice', '--password', ingestKey, ...peer('KEYED'), CT_SMALL]);
      expect(r.output).toMatch(/Received Store Response \(Success\)/);
      const after = await studiesByProject(gw);
      const added = after.filter((s) => !before.some((b) => b.uid === s.uid));
      // The key's project (its pseudonym space), not the AE's '*' (which would be the default project).
      expect(added.map((s) => s.projects)).toEqual([['pk']]);
      keyStudy = added[0].uid;
      // Positive response requested: the A-ASSOCIATE-AC carries the server response sub-item.
      const rsp = await run('storescu', ['-v', '--user', 'alice', '--password', ingestKey, '-rsp', ...peer('KEYED'), CT_SMALL]);
      expect(rsp.output).toMatch(/Received Store Response \(Success\)/);
      const raw = await associate(port, 'KEYED', studyFind({ StudyInstanceUID: '' }), { identity: { type: 2, primaryField: 'alice', secondaryField: readKey, positiveResponseRequested: true } });
      expect(raw.association).toBe('accepted');
      expect(raw.identityResponse).toBe(true);
      // The key reads its own project only, though the AE may read every one.
      expect(raw.matches.map((m) => m.StudyInstanceUID)).toEqual([keyStudy]);
      expect(gw.logLines.some((l) => l.includes('"event":"dimse-association"') && l.includes('"principal":"dimse-read"'))).toBe(true);
    });

    test('a key narrowed by the AE grant: roles and projects both', async () => {
      // A read key on an AE that may ingest still cannot store.
      const store = await run('storescu', ['-v', '--user', 'bob', '--password', readKey, ...peer('KEYED'), CT_SMALL]);
      expect(store.output).not.toMatch(REJECTED);
      expect(store.output).toMatch(/No presentation context|No Acceptable Presentation Contexts/i);
      // A key of project pz on an AE of project pn: nothing in common, so no role at all.
      const none = await run('storescu', ['-v', '--user', 'carol', '--password', elsewhereKey, ...peer('NARROW'), CT_SMALL]);
      expect(none.output).toMatch(/No presentation context|No Acceptable Presentation Contexts/i);
      const find = await associate(port, 'NARROW', studyFind({ StudyInstanceUID: '' }), { identity: { type: 2, primaryField: 'carol', secondaryField: elsewhereKey } });
      expect(find.contexts['1.2.840.10008.5.1.4.1.2.2.1']).toBe(PresentationContextResult.RejectUser);
    });

    test('a bad passcode is rejected (no reason given) and counted; identity: required without identity is rejected', async () => {
      const before = await gw.gateway.index.counts();
      const bad = await run('storescu', ['-v', '--user', 'mallory', '--password', 'vgk_' + '0'.repeat(32) + '_' + 'x'.repeat(43), ...peer('KEYED'), CT_SMALL]);
      expect(bad.output).toMatch(REJECTED);
      expect(bad.output).toMatch(/No Reason/i);
      const notAKey = await associate(port, 'KEYED', echo(), { identity: { type: 2, primaryField: 'mallory', secondaryField: 'password123' } });
      expect(notAKey.reject).toEqual({ result: RejectResult.Permanent, source: RejectSource.ServiceUser, reason: RejectReason.NoReasonGiven });
      const missing = await run('storescu', ['-v', ...peer('STRICT'), CT_SMALL]);
      expect(missing.output).toMatch(REJECTED);
      // A username alone proves nothing: still no identity.
      const userOnly = await associate(port, 'STRICT', echo(), { identity: { type: 1, primaryField: 'alice' } });
      expect(userOnly.association).toBe('rejected');
      expect(await gw.gateway.index.counts()).toEqual(before);
      const good = await run('storescu', ['-v', '--user', 'alice', '--password', ingestKey, ...peer('STRICT'), CT_SMALL]);
      expect(good.output).toMatch(/Received Store Response \(Success\)/);
      // Neither the key nor the passcode ever reaches the log.
      for (const secret of [ingestKey, readKey, 'password123']) expect(gw.logLines.some((l) => l.includes(secret))).toBe(false);
      expect(gw.logLines.some((l) => l.includes('"why":"identity-invalid"'))).toBe(true);
      expect(gw.logLines.some((l) => l.includes('"why":"identity-required"'))).toBe(true);
    });
  });

  test('events for the audit trail: association, authentication, query keys (no values), retrieve, store', async () => {
    const seen: { name: string; e: Record<string, unknown> }[] = [];
    const record = new Proxy({} as DimseEvents, {
      get: (_t, name: string) => (e: Record<string, unknown>) => seen.push({ name, e }),
    });
    const key = (await gw.gateway.keys.add('dimse-events', ['ingest', 'read'], ['pa'])).key;
    const listener: DimseListener = await startDimse({
      config: { ...gw.gateway.config, dimse: { ...gw.gateway.config.dimse, port: 0 } },
      index: gw.gateway.index,
      store: gw.gateway.store,
      ingestDeps: gw.gateway.ingestDeps,
      workers: gw.gateway.workers,
      authenticator: gw.gateway.authenticator,
      events: record,
    });
    try {
      const p = (ae: string) => peerArgs(listener.port, ae);
      await run('echoscu', p('NOBODY'));
      await run('storescu', ['--user', 'eve', '--password', 'not-a-key', ...p('KEYED'), CT_SMALL]);
      await run('storescu', ['--user', 'dave', '--password', key, ...p('KEYED'), path.join(CT3, '01.dcm')]);
      await run('findscu', ['-S', ...p('AE_A'), '-k', 'QueryRetrieveLevel=STUDY', '-k', 'PatientName=SECRET^NAME', '-k', 'StudyInstanceUID']);
      await run('movescu', ['-S', ...p('AE_A'), '-aem', 'STORESCP', '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${studyA}`]);
    } finally {
      await listener.close();
    }
    const of = (name: string) => seen.filter((s) => s.name === name).map((s) => s.e);
    expect(of('associationRejected')).toEqual(expect.arrayContaining([{ callingAe: 'NOBODY', host: '127.0.0.1', reason: 'calling-ae-not-allowed' }, { callingAe: 'KEYED', host: '127.0.0.1', reason: 'identity-invalid' }]));
    expect(of('userAuthenticated')).toEqual([
      { callingAe: 'KEYED', host: '127.0.0.1', outcome: 'failure', identityType: 2 },
      { callingAe: 'KEYED', host: '127.0.0.1', outcome: 'success', identityType: 2, principalId: 'dimse-events' },
    ]);
    expect(of('associationAccepted').map((e) => e.principalId)).toEqual(['dimse-events', 'AE_A', 'AE_A']);
    const [stored] = of('instanceStored');
    expect(stored).toMatchObject({ principalId: 'dimse-events', callingAe: 'KEYED', outcome: 'duplicate', studyUid: studyA });
    const [queried] = of('queried');
    expect(queried).toMatchObject({ principalId: 'AE_A', level: 'STUDY', sopClassUid: '1.2.840.10008.5.1.4.1.2.2.1' });
    expect(queried.keys).toEqual(expect.arrayContaining(['PatientName', 'StudyInstanceUID', 'QueryRetrieveLevel']));
    const [retrieve] = of('retrieveBegun');
    expect(retrieve).toMatchObject({ principalId: 'AE_A', service: 'C-MOVE', destinationAe: 'STORESCP', instanceCount: 3, studies: [{ studyUid: studyA, instances: 3 }] });
    // Nothing identifying in any event: not the query's value, not a credential.
    const all = JSON.stringify(seen);
    for (const secret of ['SECRET', 'not-a-key', key]) expect(all).not.toContain(secret);
  });

  test('the audit trail of all this: schema-valid messages for the associations, queries, moves and stores, without a value or a credential', async () => {
    await gw.close({ keepData: true });
    gatewayClosed = true;
    try {
      const messages = readAuditMessages(gw.dataDir);
      expect(invalidAuditMessages(messages)).toEqual([]);
      expect(gw.logLines.filter((l) => /audit-message-(refused|rejected)|audit-sink/.test(l))).toEqual([]);
      const dimse = messages.filter((m) => m.includes('AETITLES='));
      const events = auditEvents(dimse.filter((m) => !m.includes('UserID="veilgate" AlternativeUserID="AETITLES=VEILGATE" UserName="Veilgate" UserIsRequestor="true"')));
      for (const event of ['DICOM Instances Transferred', 'Query', 'Begin Transferring DICOM Instances', 'Security Alert']) expect([event, (events[event] ?? 0) > 0]).toEqual([event, true]);
      const findAudit = messages.find((m) => m.includes('originalText="Query"') && m.includes('AETITLES=AE_A'));
      expect(findAudit).toBeDefined();
      const all = messages.join('\n');
      expect(all).not.toContain('SECRET');
      expect(all).toContain(studyA);
      for (const original of ['1.3.6.1.4.1.5962.1.2.1.20040119072730.12322', 'CompressedSamples^CT1']) expect(all).not.toContain(original);
    } finally {
      fs.rmSync(gw.dataDir, { recursive: true, force: true });
    }
  });
});

describe('DIMSE user identity: failures are rate limited per address', () => {
  test('past failuresPerMinute even a valid key is rejected, transiently', async () => {
    const auth = loadAuthConfig({ mode: 'keys', failuresPerMinute: 2, dimseCallers: { KEYED: { roles: ['ingest', 'read'], projects: ['*'] } } }, {}, '127.0.0.1');
    const gw = await startTestGateway({ auth });
    try {
      const port = gw.gateway.dimse!.port;
      const { key } = await gw.gateway.keys.add('limited', ['read'], ['pa']);
      const bad = { type: 2, primaryField: 'x', secondaryField: 'vgk_wrong' };
      for (let i = 0; i < 2; i++) expect((await associate(port, 'KEYED', echo(), { identity: bad })).reject?.result).toBe(RejectResult.Permanent);
      const limited = await associate(port, 'KEYED', echo(), { identity: { type: 2, primaryField: 'x', secondaryField: key } });
      expect(limited.reject).toEqual({ result: RejectResult.Transient, source: RejectSource.ServiceUser, reason: RejectReason.NoReasonGiven });
      // Without an identity the AE's own grant still works: the limit is on credentials.
      expect((await associate(port, 'KEYED', echo())).association).toBe('accepted');
    } finally {
      await gw.close();
    }
  });
});

describe('DIMSE user identity: a JWT (storescu --jwt)', () => {
  let issuer: TestIssuer;
  let gw: TestGateway;
  let work: string;

  beforeAll(async () => {
    issuer = await startTestIssuer();
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'veilgate-dimse-jwt-'));
    const auth = loadAuthConfig(
      {
        mode: 'keys,oidc',
        oidc: { issuer: issuer.issuer, audience: issuer.audience, jwksUri: issuer.jwksUri },
        dimseCallers: { MODALITY: { roles: ['ingest', 'read'], projects: ['*'], identity: 'required' } },
      },
      {},
      '127.0.0.1',
    );
    gw = await startTestGateway({ auth });
  });

  afterAll(async () => {
    await gw?.close();
    await issuer?.close();
    fs.rmSync(work, { recursive: true, force: true });
  });

  test('a valid token is the association principal; a forged one is rejected', async () => {
    const port = gw.gateway.dimse!.port;
    const good = path.join(work, 'good.jwt');
    const forged = path.join(work, 'forged.jwt');
    fs.writeFileSync(good, await issuer.token('tech1', { roles: ['ingest'], projects: ['pj'] }));
    fs.writeFileSync(forged, await issuer.token('tech1', { roles: ['ingest'], projects: ['pj'] }, { forged: true }));
    const ok = await run('storescu', ['-v', '--jwt', good, ...peerArgs(port, 'MODALITY'), CT_SMALL]);
    expect(ok.output).toMatch(/Received Store Response \(Success\)/);
    const studies = await studiesByProject(gw);
    expect(studies.map((s) => s.projects)).toEqual([['pj']]);
    const bad = await run('storescu', ['-v', '--jwt', forged, ...peerArgs(port, 'MODALITY'), path.join(CT3, '01.dcm')]);
    expect(bad.output).toMatch(REJECTED);
    expect(await gw.gateway.index.counts()).toMatchObject({ instances: 1 });
    expect(gw.logLines.some((l) => l.includes('"event":"dimse-association"') && l.includes('"principal":"oidc:tech1"'))).toBe(true);
  });
});

describe('DICOM TLS', () => {
  let pki: TestPki;
  let gw: TestGateway;
  let port: number;
  let work: string;
  const tlsArgs = (key: string, cert: string) => ['+tls', key, cert, '-pw', '+cf', pki.caCert];

  beforeAll(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'veilgate-dimse-tls-'));
    pki = makeTestPki(path.join(work, 'pki'));
    const auth = loadAuthConfig({ mode: 'keys', dimseCallers: { TLSAE: { roles: ['ingest', 'read'], projects: ['tls'] } } }, {}, '127.0.0.1');
    const dimse = { ...loadConfig({}).dimse, port: 0, tls: { cert: pki.serverCert, key: pki.serverKey, ca: pki.caCert, requireClientCertificate: true } };
    gw = await startTestGateway({ auth, dimse });
    port = gw.gateway.dimse!.port;
  });

  afterAll(async () => {
    await gw?.close();
    fs.rmSync(work, { recursive: true, force: true });
  });

  test('storescu +tls and findscu +tls with a listed AE and a client certificate: stored, then found', async () => {
    const store = await run('storescu', ['-v', '+sd', ...tlsArgs(pki.clientKey, pki.clientCert), ...peerArgs(port, 'TLSAE'), CT3]);
    expect(store.output).not.toMatch(REJECTED);
    expect([...store.output.matchAll(/Received Store Response \(Success\)/g)]).toHaveLength(3);
    const [study] = await studiesByProject(gw);
    expect(study.projects).toEqual(['tls']);
    const find = await run('findscu', ['-S', '-v', ...tlsArgs(pki.clientKey, pki.clientCert), ...peerArgs(port, 'TLSAE'), '-k', 'QueryRetrieveLevel=STUDY', '-k', 'StudyInstanceUID']);
    expect(uidsIn(find.output, '0020,000d')).toEqual([study.uid]);
    expect(gw.logLines.some((l) => l.includes('"event":"dimse-listening"') && l.includes('"tls":true') && l.includes('"clientCertificates":"required"'))).toBe(true);
  });

  test('over TLS an unlisted AE is still rejected; no certificate, a stranger certificate, or plain TCP get nowhere', async () => {
    const before = await gw.gateway.index.counts();
    const unlisted = await run('storescu', ['-v', ...tlsArgs(pki.clientKey, pki.clientCert), ...peerArgs(port, 'STRANGER'), CT_SMALL]);
    expect(unlisted.output).toMatch(REJECTED);
    expect(unlisted.output).toMatch(/Calling AE Title Not Recognized/i);
    const anonymous = await run('echoscu', ['+tla', '+cf', pki.caCert, ...peerArgs(port, 'TLSAE')]);
    const stranger = await run('echoscu', [...tlsArgs(pki.strangerKey, pki.strangerCert), ...peerArgs(port, 'TLSAE')]);
    const plain = await run('storescu', ['-to', '5', ...peerArgs(port, 'TLSAE'), CT_SMALL], 20_000);
    for (const r of [anonymous, stranger, plain]) {
      expect(r.code).not.toBe(0);
      expect(r.output).not.toMatch(/Association Accepted/);
    }
    expect(gw.logLines.some((l) => l.includes('"event":"dimse-tls-handshake-failed"'))).toBe(true);
    expect(await gw.gateway.index.counts()).toEqual(before);
    // ... and the listener keeps serving.
    expect((await run('echoscu', [...tlsArgs(pki.clientKey, pki.clientCert), ...peerArgs(port, 'TLSAE')])).code).toBe(0);
  });
});

describe('DICOM TLS: settings, and a client certificate asked for but not required', () => {
  let work: string;
  let pki: TestPki;

  beforeAll(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'veilgate-dimse-tls2-'));
    pki = makeTestPki(path.join(work, 'pki'));
  });

  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

  test('DIMSE_TLS_* from the environment; requiring client certificates needs a CA', () => {
    const env = { DIMSE_TLS_CERT: pki.serverCert, DIMSE_TLS_KEY: pki.serverKey, DIMSE_TLS_CA: pki.caCert, DIMSE_TLS_REQUIRE_CLIENT_CERT: 'true' };
    expect(loadConfig(env).dimse.tls).toEqual({ cert: pki.serverCert, key: pki.serverKey, ca: pki.caCert, requireClientCertificate: true });
    expect(() => loadConfig({ ...env, DIMSE_TLS_CA: undefined } as NodeJS.ProcessEnv)).toThrow(/requireClientCertificate needs/);
    expect(() => loadConfig({ ...env, DIMSE_TLS_KEY: path.join(work, 'missing.key') })).toThrow(/dimse\.tls\.key/);
  });

  test('with a CA but no requirement: a client without a certificate is served, one with an untrusted certificate is not', async () => {
    const auth = loadAuthConfig({ mode: 'keys', dimseCallers: { TLSAE: { roles: ['read'], projects: ['tls'] } } }, {}, '127.0.0.1');
    const dimse = { ...loadConfig({}).dimse, port: 0, tls: { cert: pki.serverCert, key: pki.serverKey, ca: pki.caCert } };
    const gw = await startTestGateway({ auth, dimse });
    try {
      const port = gw.gateway.dimse!.port;
      expect((await run('echoscu', ['+tla', '+cf', pki.caCert, ...peerArgs(port, 'TLSAE')])).code).toBe(0);
      expect((await run('echoscu', ['+tls', pki.clientKey, pki.clientCert, '-pw', '+cf', pki.caCert, ...peerArgs(port, 'TLSAE')])).code).toBe(0);
      const stranger = await run('echoscu', ['+tls', pki.strangerKey, pki.strangerCert, '-pw', '+cf', pki.caCert, ...peerArgs(port, 'TLSAE')]);
      expect(stranger.code).not.toBe(0);
      expect(gw.logLines.some((l) => l.includes('"event":"dimse-tls-refused"'))).toBe(true);
      expect(gw.logLines.some((l) => l.includes('"clientCertificates":"requested"'))).toBe(true);
    } finally {
      await gw.close();
    }
  });
});

describe('DIMSE with auth off', () => {
  test('on loopback: as before, any AE (DIMSE_ALLOWED_AE defaults to "*") may store and find', async () => {
    const gw = await startTestGateway();
    try {
      const port = gw.gateway.dimse!.port;
      expect((await run('echoscu', peerArgs(port, 'ANYONE'))).code).toBe(0);
      const store = await run('storescu', ['-v', '+sd', ...peerArgs(port, 'ANYONE'), CT3]);
      expect([...store.output.matchAll(/Received Store Response \(Success\)/g)]).toHaveLength(3);
      const find = await run('findscu', ['-S', '-v', ...peerArgs(port, 'SOMEONE'), '-k', 'QueryRetrieveLevel=STUDY', '-k', 'StudyInstanceUID']);
      const [study] = await studiesByProject(gw);
      expect(uidsIn(find.output, '0020,000d')).toEqual([study.uid]);
      expect(study.projects).toEqual(['default']);
      // A user identity is not looked at with auth off.
      expect((await associate(port, 'ANYONE', echo(), { identity: { type: 2, primaryField: 'x', secondaryField: 'nonsense' } })).association).toBe('accepted');
      expect(gw.logLines.some((l) => l.includes('"event":"dimse-no-callers"'))).toBe(false);
    } finally {
      await gw.close();
    }
  });

  test('off loopback without DIMSE_ALLOWED_AE: no AE may associate, and the start-up log names the setting', async () => {
    const host = '0.0.0.0';
    const auth = loadAuthConfig({ mode: 'off' }, {}, host);
    const gw = await startTestGateway({ host, auth });
    try {
      const port = gw.gateway.dimse!.port;
      const echoed = await run('echoscu', ['-v', ...peerArgs(port, 'PACS')]);
      expect(echoed.output).toMatch(/Calling AE Title Not Recognized/i);
      const warning = gw.logLines.filter((l) => l.includes('"event":"dimse-no-callers"'));
      expect(warning).toHaveLength(1);
      expect(warning[0]).toContain('DIMSE_ALLOWED_AE');
    } finally {
      await gw.close();
    }
    // Given explicitly, the list applies off loopback too.
    const listed = await startTestGateway({ host, auth, dimse: { ...loadConfig({ DIMSE_ALLOWED_AE: 'PACS' }).dimse, port: 0 } });
    try {
      const port = listed.gateway.dimse!.port;
      expect((await run('echoscu', peerArgs(port, 'PACS'))).code).toBe(0);
      expect((await run('echoscu', ['-v', ...peerArgs(port, 'OTHER')])).output).toMatch(REJECTED);
      expect(listed.logLines.some((l) => l.includes('"event":"dimse-no-callers"'))).toBe(false);
    } finally {
      await listed.close();
    }
  });
});
