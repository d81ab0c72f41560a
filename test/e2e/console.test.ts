/**
 * The web console at /console, driven in Debian's Chromium with playwright-core (as the viewer
 * is): a gateway stores the 28-slice Philips CT through STOW-RS, the console shows the ingest per
 * source kind, the destinations and their queue, the rules (escaped: a rule's text that looks like
 * markup stays text), and a job started through the API whose progress bar reaches done. With
 * AUTH=keys the page itself holds no data: without a credential its API calls get 401 and it says
 * so; with the `?token=` hand-off or a key typed into it, every API call carries the key. The
 * destinations, the ingest summary and the rules answer the admin role only: a project-limited
 * key's console says "admin only" there (and shows none of it), an admin's shows them.
 * The HTTP-level checks (files, CSP, the JSON routes and the tally) run without a browser.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { CHROMIUM, launchChromium, TestBrowser } from '../support/chromium';
import { startTestGateway, TestGateway, SHARED_DATA, multipartBody } from '../support/gateway';
import { loadAuthConfig } from '../../src/auth/config';
import { validateEgress } from '../../src/egress/config';
import { IngestTally } from '../../src/api/ingest-summary';

jest.setTimeout(240_000);

type Json = Record<string, { Value?: unknown[] }>;
const CT_DIR = path.join(SHARED_DATA, 'dcm_qa_ct/In/Philips/S21570/S2010');
const CT_FILES = fs
  .readdirSync(CT_DIR)
  .filter((n) => n !== 'DIRFILE')
  .sort()
  .map((n) => path.join(CT_DIR, n));
/** Text in a routing rule that would be markup if the console rendered with innerHTML. */
const MARKUP = '<img src=x onerror="window.__pwned=1">*';

/** One destination nothing listens on (a transfer to it queues and retries), a job rule and a routing rule that never fire here. */
const egress = () =>
  validateEgress({
    destinations: { archive: { type: 'dicomweb', url: 'http://127.0.0.1:9/dicom-web', concurrency: 2, batchSize: 10 } },
    routes: [{ name: 'bone-seg', from: 'jobs', modality: 'SEG', seriesDescription: MARKUP, destinations: ['archive'] }],
    retryBaseSeconds: 30,
    retryCapSeconds: 60,
  });
const jobRules = [{ modality: 'MR', minInstances: 20, jobs: [{ op: 'normalize', params: { method: 'minmax' } }] }];

const originOf = (gw: TestGateway) => gw.url.replace(/\/dicom-web$/, '');
const bearer = (key?: string): Record<string, string> => (key ? { Authorization: `Bearer ${key}` } : {});

/** STOW-RS the files in one request; the (de-identified) study and series. */
async function stow(gw: TestGateway, files: string[], key?: string): Promise<{ study: string; series: string }> {
  const { body, contentType } = multipartBody(files.map((f) => fs.readFileSync(f)));
  const res = await fetch(`${gw.url}/studies`, { method: 'POST', headers: { 'Content-Type': contentType, ...bearer(key) }, body });
  const json = (await res.json()) as Json;
  expect([res.status, json['00081198']]).toEqual([200, undefined]);
  const url = String((json['00081199'].Value![0] as Json)['00081190'].Value![0]);
  const m = /\/studies\/([^/]+)\/series\/([^/]+)\//.exec(url)!;
  return { study: m[1], series: m[2] };
}

async function submitJob(gw: TestGateway, input: { study: string; series: string }, key?: string): Promise<string> {
  const res = await fetch(`${originOf(gw)}/api/jobs`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...bearer(key) },
    body: JSON.stringify({ op: 'denoise', input, params: { method: 'median', radius: 2 } }),
  });
  expect(res.status).toBe(202);
  return ((await res.json()) as { id: string }).id;
}

describe('ingest tally', () => {
  test('counts per source kind, since start and over the last hour; never anything but the kind', () => {
    let now = Date.parse('2025-01-01T10:00:00Z');
    const tally = new IngestTally(() => now);
    tally.add('stored', 'stow', 0);
    tally.add('stored', 'stow', 2);
    tally.add('duplicate', 'stow', 1);
    tally.add('rejected', 'dimse', 0);
    tally.add('stored', '10.0.0.7:104', 0); // not a kind: never shown as such
    now += 61 * 60_000;
    tally.add('stored', 'stow', 0);
    const s = tally.summary();
    expect(s.sources.map((x) => x.source)).toEqual(['dimse', 'other', 'stow']);
    const stowed = s.sources.find((x) => x.source === 'stow')!;
    expect([stowed.stored, stowed.duplicate, stowed.refused, stowed.warnings]).toEqual([3, 1, 0, 2]);
    expect(stowed.recent).toEqual({ stored: 1, duplicate: 0, refused: 0, warnings: 0 });
    expect(s.sources.find((x) => x.source === 'dimse')).toMatchObject({ refused: 1, stored: 0 });
    expect(JSON.stringify(s)).not.toContain('10.0.0.7');
  });
});

describe('console over HTTP', () => {
  let gw: TestGateway;
  beforeAll(async () => (gw = await startTestGateway({ egress: egress(), jobRules })));
  afterAll(() => gw?.close());

  test('/console redirects to /console/: a page, a stylesheet and one module, under a CSP without inline scripts', async () => {
    const redirect = await fetch(`${originOf(gw)}/console?x=1`, { redirect: 'manual' });
    expect([redirect.status, redirect.headers.get('location')]).toEqual([301, 'console/?x=1']);
    const page = await fetch(`${originOf(gw)}/console/`);
    const csp = page.headers.get('content-security-policy') ?? '';
    expect([page.status, page.headers.get('content-type')]).toEqual([200, 'text/html; charset=utf-8']);
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).toContain("connect-src 'self'");
    const html = await page.text();
    // Every script has a src (nothing inline), and it is the one module.
    expect([...html.matchAll(/<script\b[^>]*>/g)].map((m) => m[0])).toEqual(['<script type="module" src="console.js">']);
    expect(html).not.toMatch(/\son[a-z]+=/i);
    const js = await fetch(`${originOf(gw)}/console/console.js`);
    expect([js.status, js.headers.get('content-type')]).toEqual([200, 'text/javascript; charset=utf-8']);
    const source = await js.text();
    expect(source).not.toMatch(/\.innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(/);
    expect((await fetch(`${originOf(gw)}/console/console.css`)).headers.get('content-type')).toBe('text/css; charset=utf-8');
    expect((await fetch(`${originOf(gw)}/console/nothing.js`)).status).toBe(404);
  });

  test('GET /api/rules shows the job rules and routing rules, and nothing of a destination but its name', async () => {
    const res = await fetch(`${originOf(gw)}/api/rules`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      jobRules: { quietSeconds: 10, rules: [{ modality: 'MR', minInstances: 20, jobs: [{ op: 'normalize', params: { method: 'minmax' } }] }] },
      routes: { quietSeconds: 10, rules: [{ name: 'bone-seg', from: 'jobs', modality: ['SEG'], seriesDescription: MARKUP, destinations: ['archive'] }] },
    });
  });
});

const haveChromium = fs.existsSync(CHROMIUM);
if (!haveChromium) {
  // eslint-disable-next-line no-console
  console.warn(`console browser tests skipped: ${CHROMIUM} is not installed (apt-get install chromium; .ci/run installs it)`);
}

(haveChromium ? describe : describe.skip)(`console in Chromium (${haveChromium ? CHROMIUM : 'skipped: no ' + CHROMIUM})`, () => {
  let browser: BrowserContext;
  let launched: TestBrowser | undefined;

  beforeAll(async () => {
    launched = await launchChromium();
    browser = launched.browser;
  }, 120_000);
  afterAll(async () => {
    await launched?.close();
  });

  /** A fresh tab that records page errors, console errors, requests to other origins, and every /api answer. */
  async function open(url: string) {
    const page = await browser.newPage();
    const home = new URL(url).origin;
    const errors: string[] = [];
    const consoleErrors: string[] = [];
    const foreign: string[] = [];
    const api: { method: string; path: string; status: number; authorization?: string }[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(`${m.text()} ${m.location().url}`);
    });
    page.on('request', (r) => {
      if (!r.url().startsWith(home) && !/^(blob|data):/.test(r.url())) foreign.push(r.url());
    });
    page.on('response', (r) => {
      const u = new URL(r.url());
      if (u.origin === home && u.pathname.startsWith('/api/')) api.push({ method: r.request().method(), path: u.pathname, status: r.status(), authorization: r.request().headers()['authorization'] });
    });
    await page.goto(url);
    return { page, errors, consoleErrors, foreign, api };
  }

  /** Console errors other than the browser's note of an answer the console expects (/api/exports absent, 401 without a key). */
  const unexpected = (consoleErrors: string[], allowed: RegExp) => consoleErrors.filter((e) => !(/Failed to load resource/.test(e) && allowed.test(e)));

  describe('AUTH=off (loopback)', () => {
    let gw: TestGateway;
    let ct: { study: string; series: string };
    beforeAll(async () => {
      gw = await startTestGateway({ egress: egress(), jobRules });
      ct = await stow(gw, CT_FILES);
    }, 120_000);
    afterAll(() => gw?.close());

    test('ingest, destinations, rules and a job whose progress bar moves to done', async () => {
      const { page, errors, consoleErrors, foreign, api } = await open(`${originOf(gw)}/console/`);
      // Recent ingest: the 28 slices, stored through STOW-RS.
      const stowRow = page.locator('#ingest tr[data-source="stow"]');
      await page.waitForFunction(() => document.querySelector('#ingest tr[data-source="stow"] td[data-count="stored"]')?.textContent === '28', undefined, { timeout: 20_000 });
      expect(await stowRow.locator('td[data-count="refused"]').textContent()).toBe('0');
      // A resend of three slices: duplicates, and the stored count stays.
      await stow(gw, CT_FILES.slice(0, 3));
      await page.waitForFunction(() => document.querySelector('#ingest tr[data-source="stow"] td[data-count="duplicate"]')?.textContent === '3', undefined, { timeout: 20_000 });
      expect(await stowRow.locator('td[data-count="stored"]').textContent()).toBe('28');

      // Destinations and rules, as configured; the rule's markup-like text stays text.
      const archive = page.locator('#destinations tr[data-destination="archive"]');
      await archive.waitFor({ timeout: 10_000 });
      expect(await archive.textContent()).toContain('http://127.0.0.1:9/dicom-web');
      const route = page.locator('#routes tr[data-route="bone-seg"]');
      await route.waitFor({ timeout: 10_000 });
      expect(await route.textContent()).toContain(MARKUP);
      expect(await page.locator('#rules img').count()).toBe(0);
      expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
      expect(await page.locator('#job-rules tbody').textContent()).toContain('normalize');

      // Exports: shown only when the gateway answers /api/exports.
      const exportsStatus = (await fetch(`${originOf(gw)}/api/exports`)).status;
      await page.waitForTimeout(2000);
      expect(await page.locator('#exports').isVisible()).toBe(exportsStatus === 200);

      // A transfer to the destination nothing listens on: its row, 0 of 28 sent, and the destination's queue.
      const transfer = await fetch(`${originOf(gw)}/api/transfers`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ destination: 'archive', series: ct.series, study: ct.study }) });
      expect(transfer.status).toBe(202);
      const transferId = ((await transfer.json()) as { id: string }).id;
      const transferRow = page.locator(`#transfers tr[data-transfer="${transferId}"]`);
      await transferRow.waitFor({ timeout: 10_000 });
      expect(await transferRow.textContent()).toContain('0 / 28');
      await page.waitForFunction(() => /\b(queued|sending|retrying) \d+/.test(document.querySelector('#destinations tr[data-destination="archive"] .queue')?.textContent ?? ''), undefined, { timeout: 10_000 });

      // A job started through the API: its row appears, and its bar moves to done at 100%.
      const jobId = await submitJob(gw, ct);
      const row = page.locator(`#jobs tr[data-job="${jobId}"]`);
      await row.waitFor({ timeout: 10_000 });
      const seen: { state: string; percent: number }[] = [];
      for (const deadline = Date.now() + 120_000; Date.now() < deadline; ) {
        const now = await row.evaluate((tr) => ({ state: tr.getAttribute('data-state') ?? '', percent: (tr.querySelector('progress') as HTMLProgressElement).value }));
        if (!seen.length || seen[seen.length - 1].state !== now.state || seen[seen.length - 1].percent !== now.percent) seen.push(now);
        if (now.state === 'done' || now.state === 'failed') break;
        await page.waitForTimeout(200);
      }
      // eslint-disable-next-line no-console
      if (process.env.CONSOLE_TRACE) console.log('job as the console showed it', JSON.stringify(seen));
      expect(seen[seen.length - 1]).toEqual({ state: 'done', percent: 100 });
      // It was seen before it was done (queued or running, below 100%), and the bar never went back.
      expect(seen[0].state).not.toBe('done');
      expect(seen[0].percent).toBeLessThan(100);
      for (let i = 1; i < seen.length; i++) expect(seen[i].percent).toBeGreaterThanOrEqual(seen[i - 1].percent);
      expect(await row.locator('.state').textContent()).toBe('done');
      expect(await row.locator('.percent').textContent()).toBe('100%');
      expect(await row.textContent()).toContain('image series, 28 instances');
      // The job's own result came in through ingest as source "job".
      await page.waitForFunction(() => document.querySelector('#ingest tr[data-source="job"] td[data-count="stored"]')?.textContent === '28', undefined, { timeout: 20_000 });

      expect(errors).toEqual([]);
      expect(unexpected(consoleErrors, /\/api\/exports/)).toEqual([]);
      expect(foreign).toEqual([]);
      // It polls: every section's route was asked more than once.
      for (const p of ['/api/jobs', '/api/transfers', '/api/transfers/destinations', '/api/ingest/summary', '/api/rules']) expect(api.filter((a) => a.path === p).length).toBeGreaterThan(1);
      await page.close();
    });
  });

  describe('AUTH=keys', () => {
    let gw: TestGateway;
    let key: string;
    let adminKey: string;
    let ct: { study: string; series: string };
    let jobId: string;
    const ADMIN_PATHS = ['/api/transfers/destinations', '/api/ingest/summary', '/api/rules'];
    beforeAll(async () => {
      gw = await startTestGateway({ auth: loadAuthConfig({ mode: 'keys' }, {}, '127.0.0.1'), egress: egress(), jobRules });
      key = (await gw.gateway.keys.add('console-user', ['ingest', 'read', 'process'], ['research'])).key;
      adminKey = (await gw.gateway.keys.add('console-admin', ['read', 'admin'], ['*'])).key;
      ct = await stow(gw, CT_FILES.slice(0, 4), key);
      jobId = await submitJob(gw, ct, key);
    }, 120_000);
    afterAll(() => gw?.close());

    test('without a credential the page shows no data: its API calls get 401 and it says so', async () => {
      const { page, errors, foreign, api } = await open(`${originOf(gw)}/console/`);
      await page.locator('#signin').waitFor({ state: 'visible', timeout: 10_000 });
      expect(await page.locator('#signin-message').textContent()).toMatch(/Not signed in.*401/);
      expect(await page.locator('#status').textContent()).toContain('401');
      expect(await page.locator('#data').isVisible()).toBe(false);
      const calls = api.filter((a) => a.path !== '/api/exports');
      expect(calls.length).toBeGreaterThan(0);
      expect(calls.filter((a) => a.status !== 401)).toEqual([]);
      const content = await page.content();
      for (const secret of [ct.study, ct.series, jobId, 'bone-seg', 'http://127.0.0.1:9']) expect(content).not.toContain(secret);
      expect(await page.locator('tbody tr').count()).toBe(0);
      // A key that does not verify: still 401, and the page says the key was refused.
      await page.fill('#key', 'vgk_00000000000000000000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
      await page.click('#signin-form button[type=submit]');
      await page.waitForFunction(() => /refused that API key.*forgotten/.test(document.querySelector('#signin-message')?.textContent ?? ''), undefined, { timeout: 10_000 });
      expect(await page.locator('#data').isVisible()).toBe(false);
      // The right key, typed in: the data shows.
      await page.fill('#key', key);
      await page.click('#signin-form button[type=submit]');
      await page.locator(`#jobs tr[data-job="${jobId}"]`).waitFor({ timeout: 10_000 });
      expect(await page.locator('#signin').isVisible()).toBe(false);
      expect(errors).toEqual([]);
      expect(foreign).toEqual([]);
      await page.close();
    });

    test('with the ?token= hand-off, the key leaves the address bar and goes with every API call; the admin sections say "admin only"', async () => {
      const { page, errors, consoleErrors, api } = await open(`${originOf(gw)}/console/?token=${encodeURIComponent(key)}`);
      expect(page.url()).not.toContain('token=');
      await page.locator(`#jobs tr[data-job="${jobId}"]`).waitFor({ timeout: 10_000 });
      // A key limited to its project: the gateway-wide sections answer 403 and say why, showing nothing.
      for (const id of ['destinations', 'ingest', 'rules']) {
        await page.waitForFunction((sid) => /^Admin only/.test(document.querySelector(`#${sid} [data-note]`)?.textContent ?? ''), id, { timeout: 10_000 });
        expect(await page.locator(`#${id} table`).first().isVisible()).toBe(false);
      }
      expect(await page.locator('#destinations tbody tr, #ingest tbody tr, #rules tbody tr').count()).toBe(0);
      expect(await page.locator('#status').textContent()).toContain('3 admin only');
      expect(await page.content()).not.toContain('http://127.0.0.1:9');
      expect(api.length).toBeGreaterThan(0);
      expect(api.filter((a) => a.authorization !== `Bearer ${key}`)).toEqual([]);
      expect(api.filter((a) => a.status === 401)).toEqual([]);
      expect([...new Set(api.filter((a) => a.status === 403).map((a) => a.path))].sort()).toEqual([...ADMIN_PATHS].sort());
      expect(errors).toEqual([]);
      expect(unexpected(consoleErrors, /\/api\/(exports|transfers\/destinations|ingest\/summary|rules)/)).toEqual([]);
      // "Forget key": back to the sign-in, and the data is gone from the page.
      await page.click('#forget');
      await page.locator('#signin').waitFor({ state: 'visible', timeout: 10_000 });
      expect(await page.content()).not.toContain(jobId);
      await page.close();
    });

    test('an admin key sees the destinations, the ingest per source and the rules', async () => {
      const { page, errors, consoleErrors, api } = await open(`${originOf(gw)}/console/?token=${encodeURIComponent(adminKey)}`);
      await page.waitForFunction(() => document.querySelector('#ingest tr[data-source="stow"] td[data-count="stored"]')?.textContent === '4', undefined, { timeout: 20_000 });
      await page.locator('#destinations tr[data-destination="archive"]').waitFor({ timeout: 10_000 });
      await page.locator('#routes tr[data-route="bone-seg"]').waitFor({ timeout: 10_000 });
      await page.locator(`#jobs tr[data-job="${jobId}"]`).waitFor({ timeout: 10_000 });
      for (const id of ['destinations', 'ingest', 'rules']) expect(await page.locator(`#${id} [data-note]`).textContent()).not.toMatch(/admin only/i);
      expect(api.filter((a) => a.authorization !== `Bearer ${adminKey}`)).toEqual([]);
      expect(api.filter((a) => a.status === 401 || a.status === 403)).toEqual([]);
      for (const p of ADMIN_PATHS) expect(api.filter((a) => a.path === p && a.status === 200).length).toBeGreaterThan(0);
      expect(errors).toEqual([]);
      expect(unexpected(consoleErrors, /\/api\/exports/)).toEqual([]);
      await page.close();
    });
  });
});
