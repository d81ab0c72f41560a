/**
 * Access control over HTTP, with AUTH=keys and two projects (test/support/auth-world.ts):
 * - the route crawler reads every route express has registered and, for each, asserts 401
 *   without a credential, 403 with a key that lacks the role, 404 (or nothing found) with the
 *   right role of another project, and success with the right key. A route added without a
 *   guard, or without an entry here, fails it.
 * - project isolation: a reader of A never sees B through QIDO, WADO, NIfTI or jobs, and its
 *   404 for B's study is the same as for a made-up UID.
 * - ownership and admin-only views: a transfer or an export is cancelled or deleted by its owner
 *   or an admin only (403 for another reader who sees it, 404 for one who does not); destinations,
 *   the ingest summary and the rules answer the admin role only; a registration job is visible
 *   only to a caller who may see its fixed study as well as its moving one.
 * - the oracle: a forged instance carrying a victim's MRN and study UID, sent by another
 *   project's key, neither lands in the victim's study nor reveals its pseudonym, UID or date offset.
 */
import fs from 'node:fs';
import path from 'node:path';
import { startAuthWorld, AuthWorld, KeyName, StoredStudy } from '../support/auth-world';
import { multipartBody, deidentified } from '../support/gateway';
import { syntheticInstance, randomUid } from '../../src/synthetic/instances';
import { RegisteredRoute, registeredRoutes } from '../support/routes';
import { validateEgress } from '../../src/egress/config';
import { projectSecret, mapUid, patientPseudonym, dateOffsetDays } from '../../src/deid/keyed';
import { auditEvents, invalidAuditMessages, readAuditMessages } from '../support/audit-files';

jest.setTimeout(180_000);

type Json = Record<string, { Value?: unknown[] }>;

/** How to call one route for a study: the path and request, and what success looks like. */
interface Call {
  path: string;
  init?: RequestInit;
  ok: number;
  /** The right role of the other project: 'absent' (404) or 'hidden' (succeeds, shows none of it), or not applicable. */
  otherProject?: 'absent' | 'hidden';
}

describe('access control over HTTP (AUTH=keys)', () => {
  let w: AuthWorld;
  let jobA: string;
  let transferA: string;
  let exportA: string;
  let niftiA: Buffer;
  let bundle: string;
  /** Studies of project A that the destructive routes (DELETE, reject) remove: one each. */
  const disposable: Record<string, { study: string; series: string; instance: string }> = {};

  beforeAll(async () => {
    // One destination, on a port nothing listens on: a transfer is queued and retried, never sent.
    w = await startAuthWorld({ egress: validateEgress({ destinations: { archive: { type: 'dicomweb', url: 'http://127.0.0.1:9/dicom-web' } } }) });
    for (const name of ['deleteStudy', 'deleteSeries', 'deleteInstance', 'reject']) {
      const seen = new Set((((await (await w.request(w.keys.readA, '/dicom-web/studies?limit=1000')).json()) as Json[]).map((r) => String(r['0020000D'].Value![0]))));
      const [studyUID, seriesUID, patientID] = [randomUid(), randomUid(), `MRN-D-${name}`];
      const parts = [1, 2].map((i) => syntheticInstance({ studyUID, seriesUID, patientID, instanceNumber: i, rows: 8, columns: 8 }).bytes);
      const { body, contentType } = multipartBody(parts);
      expect((await w.request(w.keys.ingestA, '/dicom-web/studies', { method: 'POST', headers: { 'Content-Type': contentType }, body })).status).toBe(200);
      const row = ((await (await w.request(w.keys.readA, '/dicom-web/instances?limit=1000')).json()) as Json[]).find((r) => !seen.has(String(r['0020000D'].Value![0])))!;
      disposable[name] = { study: String(row['0020000D'].Value![0]), series: String(row['0020000E'].Value![0]), instance: String(row['00080018'].Value![0]) };
    }
    const job = await w.request(w.keys.processA, '/api/jobs', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ op: 'normalize', input: { study: w.A.study, series: w.A.series }, params: { method: 'minmax' } }),
    });
    expect(job.status).toBe(202);
    jobA = ((await job.json()) as { id: string }).id;
    const transfer = await w.request(w.keys.readA, '/api/transfers', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ destination: 'archive', study: w.A.study }) });
    expect(transfer.status).toBe(202);
    transferA = ((await transfer.json()) as { id: string }).id;
    const exported = await w.request(w.keys.readA, '/api/exports', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ studies: [w.A.study] }) });
    expect(exported.status).toBe(202);
    exportA = ((await exported.json()) as { id: string }).id;
    for (let t = 0; t < 300 && ((await (await w.request(w.keys.readA, `/api/exports/${exportA}`)).json()) as { state: string }).state !== 'done'; t++) await new Promise((r) => setTimeout(r, 100));
    const nifti = await w.request(w.keys.readA, `/api/studies/${w.A.study}/series/${w.A.series}/nifti`);
    expect(nifti.status).toBe(200);
    niftiA = Buffer.from(await nifti.arrayBuffer());
    const dist = path.join(path.dirname(require.resolve('@ohif/app/package.json')), 'dist');
    bundle = fs.readdirSync(dist).find((f) => /^app\.bundle\.[0-9a-f]+\.js$/.test(f))!;
  });
  let closed = false;
  afterAll(async () => {
    if (!closed) await w?.close();
  });

  const stow = (study: string | undefined, original: StoredStudy['original']) => {
    const inst = syntheticInstance({ studyUID: original.study, seriesUID: randomUid(), patientID: original.patientID, rows: 8, columns: 8 });
    const { body, contentType } = multipartBody([inst.bytes]);
    return { path: `/dicom-web/studies${study ? `/${study}` : ''}`, init: { method: 'POST', headers: { 'Content-Type': contentType }, body } };
  };

  /** The request for each registered route, on study `s`. */
  function callFor(route: RegisteredRoute, s: StoredStudy): Call | undefined {
    const st = `/dicom-web/studies/${s.study}`;
    const se = `${st}/series/${s.series}`;
    const inst = `${se}/instances/${s.instance}`;
    const calls: Record<string, Call> = {
      'GET /health': { path: '/health', ok: 200 },
      'GET /': { path: '/', ok: 200 },
      'GET /metrics': { path: '/metrics', ok: 200 },
      'GET /dicom-web/': { path: '/dicom-web/', ok: 200 },
      'OPTIONS /dicom-web/': { path: '/dicom-web/', init: { method: 'OPTIONS' }, ok: 200 },
      'POST /dicom-web/studies': { ...stow(undefined, { ...s.original, study: randomUid() }), ok: 200 },
      'POST /dicom-web/studies/:study': { ...stow(s.original.study, s.original), ok: 200 },
      'GET /dicom-web/studies': { path: '/dicom-web/studies', ok: 200, otherProject: 'hidden' },
      'GET /dicom-web/series': { path: '/dicom-web/series', ok: 200, otherProject: 'hidden' },
      'GET /dicom-web/instances': { path: '/dicom-web/instances', ok: 200, otherProject: 'hidden' },
      'GET /dicom-web/studies/:study/series': { path: `${st}/series`, ok: 200, otherProject: 'hidden' },
      'GET /dicom-web/studies/:study/instances': { path: `${st}/instances`, ok: 200, otherProject: 'hidden' },
      'GET /dicom-web/studies/:study/series/:series/instances': { path: `${se}/instances`, ok: 200, otherProject: 'hidden' },
      'GET /dicom-web/studies/:study': { path: st, ok: 200, otherProject: 'absent' },
      'GET /dicom-web/studies/:study/series/:series': { path: se, ok: 200, otherProject: 'absent' },
      'GET /dicom-web/studies/:study/series/:series/instances/:instance': { path: inst, ok: 200, otherProject: 'absent' },
      'GET /dicom-web/studies/:study/metadata': { path: `${st}/metadata`, ok: 200, otherProject: 'absent' },
      'GET /dicom-web/studies/:study/series/:series/metadata': { path: `${se}/metadata`, ok: 200, otherProject: 'absent' },
      'GET /dicom-web/studies/:study/series/:series/instances/:instance/metadata': { path: `${inst}/metadata`, ok: 200, otherProject: 'absent' },
      'GET /dicom-web/studies/:study/series/:series/instances/:instance/bulk/:path': { path: `${inst}/bulk/${s.bulkPath}`, ok: 200, otherProject: 'absent' },
      'GET /dicom-web/studies/:study/series/:series/instances/:instance/frames/:frames': { path: `${inst}/frames/1`, ok: 200, otherProject: 'absent' },
      'GET /dicom-web/studies/:study/rendered': { path: `${st}/rendered`, ok: 200, otherProject: 'absent' },
      'GET /dicom-web/studies/:study/thumbnail': { path: `${st}/thumbnail`, ok: 200, otherProject: 'absent' },
      'GET /dicom-web/studies/:study/series/:series/rendered': { path: `${se}/rendered`, ok: 200, otherProject: 'absent' },
      'GET /dicom-web/studies/:study/series/:series/thumbnail': { path: `${se}/thumbnail`, ok: 200, otherProject: 'absent' },
      'GET /dicom-web/studies/:study/series/:series/instances/:instance/rendered': { path: `${inst}/rendered`, ok: 200, otherProject: 'absent' },
      'GET /dicom-web/studies/:study/series/:series/instances/:instance/thumbnail': { path: `${inst}/thumbnail`, ok: 200, otherProject: 'absent' },
      'GET /dicom-web/studies/:study/series/:series/instances/:instance/frames/:frames/rendered': { path: `${inst}/frames/1/rendered`, ok: 200, otherProject: 'absent' },
      'GET /dicom-web/studies/:study/series/:series/instances/:instance/frames/:frames/thumbnail': { path: `${inst}/frames/1/thumbnail`, ok: 200, otherProject: 'absent' },
      'POST /api/jobs/': {
        path: '/api/jobs',
        init: { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ op: 'normalize', input: { study: s.study, series: s.series }, params: { method: 'minmax' } }) },
        ok: 202,
        otherProject: 'absent',
      },
      'GET /api/jobs/': { path: '/api/jobs', ok: 200, otherProject: 'hidden' },
      'GET /api/openapi.json': { path: '/api/openapi.json', ok: 200 },
      'POST /api/transfers/': {
        path: '/api/transfers',
        init: { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ destination: 'archive', series: s.series, study: s.study }) },
        ok: 202,
        otherProject: 'absent',
      },
      'GET /api/transfers/': { path: '/api/transfers', ok: 200, otherProject: 'hidden' },
      // Admin only (the crawler's wrong key is a sender; the role-gaps test below tries readers).
      'GET /api/transfers/destinations': { path: '/api/transfers/destinations', ok: 200 },
      'GET /api/transfers/:id': { path: `/api/transfers/${transferA}`, ok: 200, otherProject: 'absent' },
      'DELETE /api/transfers/:id': { path: `/api/transfers/${transferA}`, init: { method: 'DELETE' }, ok: 200, otherProject: 'absent' },
      'GET /api/jobs/:id': { path: `/api/jobs/${jobA}`, ok: 200, otherProject: 'absent' },
      'POST /api/exports/': {
        path: '/api/exports',
        init: { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ studies: [s.study] }) },
        ok: 202,
        otherProject: 'absent',
      },
      'GET /api/exports/': { path: '/api/exports', ok: 200, otherProject: 'hidden' },
      'GET /api/exports/:id': { path: `/api/exports/${exportA}`, ok: 200, otherProject: 'absent' },
      'GET /api/exports/:id/bundle': { path: `/api/exports/${exportA}/bundle`, ok: 200, otherProject: 'absent' },
      'DELETE /api/exports/:id': { path: `/api/exports/${exportA}`, init: { method: 'DELETE' }, ok: 204, otherProject: 'absent' },
      'DELETE /dicom-web/studies/:study': { path: `/dicom-web/studies/${disposable.deleteStudy.study}`, init: { method: 'DELETE' }, ok: 204 },
      'DELETE /dicom-web/studies/:study/series/:series': { path: `/dicom-web/studies/${disposable.deleteSeries.study}/series/${disposable.deleteSeries.series}`, init: { method: 'DELETE' }, ok: 204 },
      'DELETE /dicom-web/studies/:study/series/:series/instances/:instance': {
        path: `/dicom-web/studies/${disposable.deleteInstance.study}/series/${disposable.deleteInstance.series}/instances/${disposable.deleteInstance.instance}`,
        init: { method: 'DELETE' },
        ok: 204,
      },
      'POST /dicom-web/studies/:study/series/:series/reject/:code': {
        path: `/dicom-web/studies/${disposable.reject.study}/series/${disposable.reject.series}/reject/113001%5EDCM`,
        init: { method: 'POST' },
        ok: 204,
      },
      'DELETE /api/jobs/:id': { path: `/api/jobs/${jobA}`, init: { method: 'DELETE' }, ok: 200, otherProject: 'absent' },
      'GET /api/studies/:study/series/:series/nifti': { path: `/api/studies/${s.study}/series/${s.series}/nifti`, ok: 200, otherProject: 'absent' },
      'GET /api/studies/:study/series/:series/nifti.json': { path: `/api/studies/${s.study}/series/${s.series}/nifti.json`, ok: 200, otherProject: 'absent' },
      'POST /api/studies/:study/series/:series/nifti': {
        path: `/api/studies/${s.study}/series/${s.series}/nifti`,
        init: { method: 'POST', headers: { 'Content-Type': 'application/octet-stream' }, body: niftiA },
        ok: 201,
        otherProject: 'absent',
      },
      'GET /viewer/app-config.js': { path: '/viewer/app-config.js', ok: 200 },
      'GET /viewer/veilgate-token.js': { path: '/viewer/veilgate-token.js', ok: 200 },
      'GET /viewer/,/index.html': { path: '/viewer/', ok: 200 },
      'GET /viewer/manifest.json': { path: '/viewer/manifest.json', ok: 200 },
      [`GET /viewer${String(/^\/[\w.\-]+\.(?:js|css)$/)}`]: { path: `/viewer/${bundle}`, ok: 200 },
      'GET /console/,/index.html': { path: '/console/', ok: 200 },
      'GET /console/console.js': { path: '/console/console.js', ok: 200 },
      'GET /console/console.css': { path: '/console/console.css', ok: 200 },
      'GET /console/favicon.svg': { path: '/console/favicon.svg', ok: 200 },
      'GET /api/ingest/summary': { path: '/api/ingest/summary', ok: 200 },
      'GET /api/rules/': { path: '/api/rules', ok: 200 },
    };
    return calls[`${route.method} ${route.path}`];
  }

  /** A key of project A that has none of the roles. */
  function wrongKey(roles: readonly string[]): KeyName {
    const candidates: KeyName[] = ['ingestA', 'readA', 'processA', 'adminAll'];
    const grants: Record<string, string[]> = { ingestA: ['ingest'], readA: ['read'], processA: ['process', 'read'], adminAll: ['admin'] };
    return candidates.find((k) => !grants[k].some((r) => roles.includes(r)))!;
  }
  /**
   * The least-privileged key of the project with one of the roles: a reader before a processor or
   * an admin, so that a route open to readers or admins (DELETE of a transfer or an export) is
   * tried by readA (the owner of transferA and exportA) and, for the other project, by readB.
   */
  function rightKey(roles: readonly string[], project: 'A' | 'B'): KeyName | undefined {
    if (roles.includes('read')) return project === 'A' ? 'readA' : 'readB';
    if (roles.includes('ingest')) return project === 'A' ? 'ingestA' : 'ingestB';
    if (roles.includes('process')) return project === 'A' ? 'processA' : undefined;
    if (roles.includes('admin')) return project === 'A' ? 'adminAll' : undefined;
    return undefined;
  }

  test('the route crawler: every registered route is guarded, and the guard holds', async () => {
    const routes = registeredRoutes(w.gw.gateway.app);
    expect(routes.length).toBeGreaterThan(40);
    const unguarded = routes.filter((r) => !r.guard).map((r) => `${r.method} ${r.path}`);
    expect(unguarded).toEqual([]);
    const untested = routes.filter((r) => !callFor(r, w.A)).map((r) => `${r.method} ${r.path}`);
    expect(untested).toEqual([]);

    const failures: string[] = [];
    const expectStatus = async (what: string, res: Response, status: number) => {
      if (res.status !== status) failures.push(`${what}: ${res.status}, expected ${status}`);
      await res.arrayBuffer();
    };
    // The job is cancelled by DELETE and the nifti POST adds a series: run those last.
    const order = (r: RegisteredRoute) => (r.method === 'DELETE' ? 2 : r.method === 'POST' ? 1 : 0);
    for (const route of [...routes].sort((a, b) => order(a) - order(b))) {
      const name = `${route.method} ${route.path}`;
      const call = callFor(route, w.A)!;
      if (route.guard!.publicBecause) {
        await expectStatus(`${name} (public) without a credential`, await w.request(undefined, call.path, call.init), call.ok);
        continue;
      }
      const roles = route.guard!.requiredRoles!;
      await expectStatus(`${name} without a credential`, await w.request(undefined, call.path, call.init), 401);
      await expectStatus(`${name} with a bad credential`, await w.request('vgk_00000000000000000000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', call.path, call.init), 401);
      await expectStatus(`${name} with ${wrongKey(roles)} (wrong role)`, await w.request(w.keys[wrongKey(roles)], call.path, call.init), 403);
      const other = rightKey(roles, 'B');
      if (call.otherProject && other) {
        const res = await w.request(w.keys[other], call.path, callFor(route, w.A)!.init);
        if (call.otherProject === 'absent') await expectStatus(`${name} with ${other} (other project)`, res, 404);
        else {
          const text = await res.text();
          if (res.status !== 200 || text.includes(w.A.study)) failures.push(`${name} with ${other}: ${res.status}, shows A's study: ${text.includes(w.A.study)}`);
        }
      }
      const right = rightKey(roles, 'A')!;
      const fresh = callFor(route, w.A)!; // a body can be read only once
      await expectStatus(`${name} with ${right}`, await w.request(w.keys[right], fresh.path, fresh.init), fresh.ok);
    }
    expect(failures).toEqual([]);
  });

  test('project isolation: a reader of A never sees B, and B is exactly as absent as a made-up UID', async () => {
    const { readA } = w.keys;
    for (const level of ['studies', 'series', 'instances']) {
      const all = await (await w.request(readA, `/dicom-web/${level}?limit=1000`)).text();
      expect(all).toContain(w.A.study);
      expect(all).not.toContain(w.B.study);
      const byPatient = await (await w.request(readA, `/dicom-web/${level}?PatientID=*`)).text();
      expect(byPatient).not.toContain(w.B.study);
      const byUid = await w.request(readA, `/dicom-web/${level}?StudyInstanceUID=${w.B.study}`);
      expect(await byUid.json()).toEqual([]);
    }
    const madeUp = { study: randomUid(), series: randomUid(), instance: randomUid() };
    const forms = (s: { study: string; series: string; instance: string }) => [
      `/dicom-web/studies/${s.study}`,
      `/dicom-web/studies/${s.study}/metadata`,
      `/dicom-web/studies/${s.study}/series/${s.series}`,
      `/dicom-web/studies/${s.study}/series/${s.series}/metadata`,
      `/dicom-web/studies/${s.study}/series/${s.series}/instances/${s.instance}`,
      `/dicom-web/studies/${s.study}/series/${s.series}/instances/${s.instance}/metadata`,
      `/dicom-web/studies/${s.study}/series/${s.series}/instances/${s.instance}/frames/1`,
      `/dicom-web/studies/${s.study}/series/${s.series}/instances/${s.instance}/rendered`,
      `/dicom-web/studies/${s.study}/series/${s.series}/instances/${s.instance}/thumbnail`,
      `/dicom-web/studies/${s.study}/thumbnail`,
      `/api/studies/${s.study}/series/${s.series}/nifti`,
      `/api/studies/${s.study}/series/${s.series}/nifti.json`,
    ];
    const answer = async (p: string) => {
      const started = process.hrtime.bigint();
      const res = await w.request(readA, p);
      const body = await res.text();
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      return { status: res.status, body, type: res.headers.get('content-type'), ms };
    };
    const forbidden = forms(w.B);
    const unknown = forms(madeUp);
    const timings: { b: number[]; u: number[] } = { b: [], u: [] };
    for (let i = 0; i < forbidden.length; i++) {
      for (let round = 0; round < 5; round++) {
        const b = await answer(forbidden[i]);
        const u = await answer(unknown[i]);
        expect({ path: forbidden[i].replace(w.B.study, 'S').replace(w.B.series, 'R').replace(w.B.instance, 'I'), status: b.status, body: b.body, type: b.type }).toEqual({
          path: unknown[i].replace(madeUp.study, 'S').replace(madeUp.series, 'R').replace(madeUp.instance, 'I'),
          status: 404,
          body: u.body,
          type: u.type,
        });
        timings.b.push(b.ms);
        timings.u.push(u.ms);
      }
    }
    // The same timing class: both answered by the same filtered lookups, neither touches B's files.
    const median = (v: number[]) => [...v].sort((x, y) => x - y)[Math.floor(v.length / 2)];
    expect(median(timings.b)).toBeLessThan(median(timings.u) * 3 + 5);
    expect(median(timings.u)).toBeLessThan(median(timings.b) * 3 + 5);

    // Jobs: B's reader does not see A's job, in the list or by id.
    const list = await (await w.request(w.keys.readB, '/api/jobs')).text();
    expect(list).not.toContain(jobA);
    expect(list).not.toContain(w.A.study);
    const byId = await w.request(w.keys.readB, `/api/jobs/${jobA}`);
    const unknownJob = await w.request(w.keys.readB, '/api/jobs/00000000-0000-4000-8000-000000000000');
    expect([byId.status, await byId.text()]).toEqual([unknownJob.status, await unknownJob.text()]);
    // A job may not be queued on a study its submitter cannot see, nor a NIfTI posted into one.
    const queued = await w.request(w.keys.processA, '/api/jobs', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ op: 'normalize', input: { study: w.B.study, series: w.B.series }, params: { method: 'minmax' } }),
    });
    expect(queued.status).toBe(404);
    const posted = await w.request(w.keys.processA, `/api/studies/${w.B.study}/series/${w.B.series}/nifti`, { method: 'POST', body: niftiA });
    expect(posted.status).toBe(404);
  });

  test('a sender may not read, and learns no mapping from its STOW response', async () => {
    const original = { study: randomUid(), series: randomUid(), sop: randomUid(), patientID: 'MRN-SENDER-1' };
    const inst = syntheticInstance({ studyUID: original.study, seriesUID: original.series, sopInstanceUID: original.sop, patientID: original.patientID, rows: 8, columns: 8 });
    const res = await w.request(w.keys.ingestA, '/dicom-web/studies', { method: 'POST', headers: { 'Content-Type': 'application/dicom' }, body: inst.bytes });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { '00081199': { Value: Json[] } } & Json;
    const [item] = body['00081199'].Value;
    // Named by the UIDs it sent; no RetrieveURL, no stored UID.
    expect(item['00081155'].Value).toEqual([original.sop]);
    expect(item['00081190']).toBeUndefined();
    expect(body['00081190']).toBeUndefined();
    const text = JSON.stringify(body);
    const keyA = projectSecret(deidentified(w.gw.dataDir).secret, 'A', 'default');
    expect(text).not.toContain(mapUid(keyA, original.sop));
    expect(text).not.toContain(mapUid(keyA, original.study));
    // And it cannot search.
    expect((await w.request(w.keys.ingestA, '/dicom-web/studies')).status).toBe(403);
  });

  test('the oracle: a forged instance with a victim’s MRN and study UID, from another project’s key, learns nothing', async () => {
    const victim = w.A; // stored by ingestA (project A); the attacker holds B's keys
    const seen = (await (await w.request(w.keys.readA, `/dicom-web/studies/${victim.study}/series/${victim.series}/instances/${victim.instance}/metadata`)).json()) as Json[];
    const victimPseudonym = String(seen[0]['00100020'].Value![0]);
    const victimDate = String(seen[0]['00080020'].Value![0]);
    const before = ((await (await w.request(w.keys.readA, `/dicom-web/studies/${victim.study}/instances`)).json()) as Json[]).length;

    // The attacker's key may send to B and read B: the strongest outsider short of the site secret.
    const attacker = (await w.gw.gateway.keys.add('attackerB', ['ingest', 'read'], ['B'])).key;
    const forged = syntheticInstance({ studyUID: victim.original.study, seriesUID: randomUid(), patientID: victim.original.patientID, studyDate: victim.original.studyDate, rows: 8, columns: 8 });
    const { body, contentType } = multipartBody([forged.bytes]);
    for (const target of [`/dicom-web/studies/${victim.original.study}`, '/dicom-web/studies']) {
      const res = await w.request(attacker, target, { method: 'POST', headers: { 'Content-Type': contentType }, body });
      const text = await res.text();
      expect(text).not.toContain(victim.study);
      expect(text).not.toContain(victim.series);
      expect(text).not.toContain(victimPseudonym);
    }
    // Nothing landed in the victim's study.
    const after = ((await (await w.request(w.keys.readA, `/dicom-web/studies/${victim.study}/instances`)).json()) as Json[]).length;
    expect(after).toBe(before);
    // What the attacker can read back of its own forgery is in B's pseudonym space: not the victim's pseudonym, UID or date offset.
    const mine = (await (await w.request(attacker, `/dicom-web/instances?includefield=00080020&includefield=00100020&limit=1000`)).json()) as Json[];
    const text = JSON.stringify(mine);
    expect(text).not.toContain(victim.study);
    expect(text).not.toContain(victimPseudonym);
    const forgedBack = mine.find((m) => String(m['00100020']?.Value?.[0] ?? '') !== '' && !JSON.stringify(m).includes(w.B.study));
    expect(forgedBack).toBeDefined();
    expect(String(forgedBack!['00080020'].Value![0])).not.toBe(victimDate);
    // The keys are per project: A's pseudonym of the MRN is not B's.
    const secret = deidentified(w.gw.dataDir).secret;
    const [keyA, keyB] = [projectSecret(secret, 'A', 'default'), projectSecret(secret, 'B', 'default')];
    expect(patientPseudonym(keyA, '', victim.original.patientID)).toBe(victimPseudonym);
    expect(patientPseudonym(keyB, '', victim.original.patientID)).toBe(String(forgedBack!['00100020'].Value![0]));
    expect(dateOffsetDays(keyA, '', victim.original.patientID)).not.toBe(dateOffsetDays(keyB, '', victim.original.patientID));
  });

  test('ownership: a transfer or an export is cancelled or deleted by its owner or an admin; another reader who sees it gets 403', async () => {
    // A second reader of A: it sees A's transfers and exports, and owns none of them.
    const otherReaderA = (await w.gw.gateway.keys.add('readA-colleague', ['read'], ['A'])).key;
    const post = (key: string, p: string, body: unknown) => w.request(key, p, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    const status = async (key: string, p: string, init?: RequestInit) => {
      const res = await w.request(key, p, init);
      await res.arrayBuffer();
      return res.status;
    };
    const made = async (p: string, body: unknown) => {
      const res = await post(w.keys.readA, p, body);
      expect(res.status).toBe(202);
      return ((await res.json()) as { id: string }).id;
    };
    const DELETE = { method: 'DELETE' };
    const [t1, t2] = [await made('/api/transfers', { destination: 'archive', study: w.A.study }), await made('/api/transfers', { destination: 'archive', study: w.A.study })];
    const [e1, e2] = [await made('/api/exports', { studies: [w.A.study] }), await made('/api/exports', { studies: [w.A.study] })];

    for (const [p, done] of [[`/api/transfers/${t1}`, 200], [`/api/exports/${e1}`, 204]] as const) {
      expect(await status(otherReaderA, p)).toBe(200); // it sees it ...
      expect(await status(otherReaderA, p, DELETE)).toBe(403); // ... and may not cancel or delete it
      expect(await status(w.keys.readB, p, DELETE)).toBe(404); // another project: as absent as an unknown id
      expect(await status(w.keys.ingestA, p, DELETE)).toBe(403); // no role
      expect(await status(w.keys.readA, p)).toBe(200); // still there, untouched
      expect(await status(w.keys.adminAll, p, DELETE)).toBe(done); // an admin may
    }
    expect(((await (await w.request(w.keys.readA, `/api/transfers/${t1}`)).json()) as { state: string }).state).toBe('cancelled');
    expect(await status(w.keys.readA, `/api/exports/${e1}`)).toBe(404);
    // The owner may.
    expect(await status(w.keys.readA, `/api/transfers/${t2}`, DELETE)).toBe(200);
    expect(await status(w.keys.readA, `/api/exports/${e2}`, DELETE)).toBe(204);
    // A refusal is audited as a role refusal is: the Security Alert is checked in the audit test below.
  });

  test('admin only: destinations, the ingest summary and the rules are the gateway’s, not a reader’s', async () => {
    for (const p of ['/api/transfers/destinations', '/api/ingest/summary', '/api/rules']) {
      for (const key of ['readA', 'readB', 'processA', 'ingestA'] as const) {
        const res = await w.request(w.keys[key], p);
        const text = await res.text();
        expect([p, key, res.status]).toEqual([p, key, 403]);
        expect(text).not.toContain('127.0.0.1:9');
      }
      for (const key of ['adminAll', 'everythingA'] as const) {
        const res = await w.request(w.keys[key], p);
        await res.arrayBuffer();
        expect([p, key, res.status]).toEqual([p, key, 200]);
      }
    }
    const destinations = (await (await w.request(w.keys.adminAll, '/api/transfers/destinations')).json()) as { name: string; url?: string }[];
    expect(destinations.map((d) => [d.name, d.url])).toEqual([['archive', 'http://127.0.0.1:9/dicom-web']]);
  });

  // After the oracle test: the moving study here is in B too, and the oracle reads B's instances.
  test('a registration job is visible only to a caller who may see its fixed study as well as its moving one', async () => {
    // The moving study is in projects A and B (sent by a key of both); the fixed one is B's study.
    const ingestAB = (await w.gw.gateway.keys.add('ingestAB', ['ingest'], ['A', 'B'])).key;
    const processAB = (await w.gw.gateway.keys.add('processAB', ['process', 'read'], ['A', 'B'])).key;
    const seriesSeen = async () => new Set((((await (await w.request(processAB, '/dicom-web/series?limit=1000')).json()) as Json[]).map((r) => `${String(r['0020000D'].Value![0])}/${String(r['0020000E'].Value![0])}`)));
    const before = await seriesSeen();
    const [studyUID, seriesUID] = [randomUid(), randomUid()];
    const parts = [1, 2, 3].map((i) => syntheticInstance({ studyUID, seriesUID, patientID: 'MRN-AB-MOVING', instanceNumber: i, rows: 8, columns: 8 }).bytes);
    const { body, contentType } = multipartBody(parts);
    expect((await w.request(ingestAB, '/dicom-web/studies', { method: 'POST', headers: { 'Content-Type': contentType }, body })).status).toBe(200);
    const [moving] = [...(await seriesSeen())].filter((x) => !before.has(x)).map((x) => ({ study: x.split('/')[0], series: x.split('/')[1] }));
    expect(moving).toBeDefined();
    // readA sees the moving study, not the fixed one; readB sees both.
    expect((await w.request(w.keys.readA, `/dicom-web/studies/${moving.study}/metadata`)).status).toBe(200);
    expect((await w.request(w.keys.readB, `/dicom-web/studies/${moving.study}/metadata`)).status).toBe(200);

    const posted = await w.request(processAB, '/api/jobs', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ op: 'register', input: moving, params: { transform: 'rigid', fixed: { study: w.B.study, series: w.B.series } } }),
    });
    expect(posted.status).toBe(202);
    const job = ((await posted.json()) as { id: string }).id;
    // Stopped at once: only its visibility is looked at here.
    expect((await w.request(processAB, `/api/jobs/${job}`, { method: 'DELETE' })).status).toBe(200);

    const byId = await w.request(w.keys.readA, `/api/jobs/${job}`);
    const unknownJob = await w.request(w.keys.readA, '/api/jobs/00000000-0000-4000-8000-000000000000');
    expect([byId.status, await byId.text()]).toEqual([404, await unknownJob.text()]);
    const listA = await (await w.request(w.keys.readA, '/api/jobs?limit=1000')).text();
    expect(listA).not.toContain(job);
    expect(listA).not.toContain(w.B.study);
    // Its cancel is refused the same way to a processor of A (404, before any other check).
    expect((await w.request(w.keys.processA, `/api/jobs/${job}`, { method: 'DELETE' })).status).toBe(404);
    // Who sees both studies sees the job.
    expect((await w.request(w.keys.readB, `/api/jobs/${job}`)).status).toBe(200);
    expect(await (await w.request(w.keys.readB, '/api/jobs?limit=1000')).text()).toContain(job);
    expect(await (await w.request(processAB, '/api/jobs?limit=1000')).text()).toContain(job);
  });

  test('the audit trail: every message validates against the PS3.15 schema, names no original and no secret', async () => {
    // A zip download, so an Export is among the events.
    const zip = await w.request(w.keys.readA, `/dicom-web/studies/${w.A.study}`, { headers: { Accept: 'application/zip' } });
    expect(zip.status).toBe(200);
    await zip.arrayBuffer();
    await w.gw.close({ keepData: true });
    closed = true;
    try {
      const messages = readAuditMessages(w.gw.dataDir);
      expect(invalidAuditMessages(messages)).toEqual([]);
      const events = auditEvents(messages);
      // Nothing the gateway tried to audit was refused by a builder (a refusal would be a gap in the trail).
      expect(w.gw.logLines.filter((l) => /audit-message-(refused|rejected)|audit-sink/.test(l))).toEqual([]);
      if (process.env.AUDIT_EVENTS) console.log(JSON.stringify(events));
      for (const event of ['Application Activity', 'User Authentication', 'DICOM Instances Transferred', 'Query', 'Begin Transferring DICOM Instances', 'Security Alert', 'Export']) {
        expect([event, events[event] ?? 0]).toEqual([event, expect.any(Number)]);
        expect(events[event]).toBeGreaterThan(0);
      }
      const all = messages.join('\n');
      for (const s of [w.A, w.B]) {
        for (const original of [s.original.study, s.original.series, s.original.patientID, `Person^${s.original.patientID}`]) expect(all).not.toContain(original);
      }
      for (const key of Object.values(w.keys)) expect(all).not.toContain(key.slice(37));
      // The stored (pseudonymous) study is named where it was moved.
      expect(all).toContain(w.A.study);
    } finally {
      fs.rmSync(w.gw.dataDir, { recursive: true, force: true });
    }
  });
});
