/**
 * The built-in OHIF viewer at /viewer, driven end to end in Debian's Chromium with
 * playwright-core: real CT and SEG data go in through STOW-RS (and so through
 * de-identification), the study list finds them, images are drawn and the SEG's segment
 * shows in the segmentation panel. The gateway's own processing results (a segment job's SEG
 * and a denoise job's derived series) are listed next to their source and open too. The
 * HTTP-level checks run without a browser.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import sharp from 'sharp';
import type { BrowserContext, Page } from 'playwright-core';
import { CHROMIUM, launchChromium, TestBrowser } from '../support/chromium';
import { startTestGateway, TestGateway, SHARED_DATA, multipartBody } from '../support/gateway';
import { viewerRouter } from '../../src/viewer/router';
import { loadAuthConfig } from '../../src/auth/config';
import type { DicomWebContext } from '../../src/dicomweb/context';

type Json = Record<string, { Value?: unknown[] }>;
interface JobView {
  id: string;
  state: string;
  error?: string;
  result?: { seriesInstanceUID: string; kind: string; instances: number }[];
}
const CT_DIR = path.join(SHARED_DATA, 'dcm_qa_ct/In/Philips/S21570/S2010');
const SEG_DIR = path.join(SHARED_DATA, 'dcmqi/data/segmentations');

/** STOW-RS the files in one request; returns the (de-identified) Study Instance UID. */
async function stow(gw: TestGateway, files: string[], key?: string): Promise<string> {
  const { body, contentType } = multipartBody(files.map((f) => fs.readFileSync(f)));
  const res = await fetch(`${gw.url}/studies`, { method: 'POST', headers: { 'Content-Type': contentType, ...(key ? { Authorization: `Bearer ${key}` } : {}) }, body });
  const json = (await res.json()) as Json;
  expect([res.status, json['00081198']]).toEqual([200, undefined]);
  const urls = json['00081199'].Value!.map((i) => String((i as Json)['00081190'].Value![0]));
  expect(urls).toHaveLength(files.length);
  return /\/studies\/([^/]+)\//.exec(urls[0])![1];
}

describe('viewer over HTTP', () => {
  let gw: TestGateway;
  // The test itself plays the reverse proxy in front of the gateway.
  beforeAll(async () => (gw = await startTestGateway({ auth: loadAuthConfig({ trustProxy: ['127.0.0.1'] }, {}, '127.0.0.1') })));
  afterAll(() => gw.close());
  const origin = () => gw.url.replace(/\/dicom-web$/, '');

  test('/viewer redirects to /viewer/, which is OHIF with its public path rewritten', async () => {
    const redirect = await fetch(`${origin()}/viewer?x=1`, { redirect: 'manual' });
    expect([redirect.status, redirect.headers.get('location')]).toEqual([301, '/viewer/?x=1']);
    const html = await (await fetch(`${origin()}/viewer/`)).text();
    expect(html).toContain('window.PUBLIC_URL="/viewer/"');
    expect(html).toContain('src="/viewer/app-config.js"');
    expect(html).not.toMatch(/(?:src|href)="\/(?!viewer\/)/);
  });

  test('app-config.js points at this server, and at the proxy’s view of it', async () => {
    const direct = await (await fetch(`${origin()}/viewer/app-config.js`)).text();
    expect(direct).toContain(`"wadoRoot": "${gw.url}"`);
    expect(direct).toContain(`"qidoRoot": "${gw.url}"`);
    expect(direct).toContain('"routerBasename": "/viewer"');
    const config = new Function('window', `${direct}; return window.config;`)({}) as {
      dataSources: { configuration: Record<string, unknown> }[];
    };
    expect(config.dataSources).toHaveLength(1);
    expect(config.dataSources[0].configuration).toMatchObject({
      wadoUriRoot: gw.url,
      qidoSupportsIncludeField: true,
      imageRendering: 'wadors',
      enableStudyLazyLoad: true,
      supportsFuzzyMatching: true,
      supportsWildcard: true,
      omitQuotationForMultipartRequest: true,
      bulkDataURI: { enabled: true },
    });
    const proxied = await fetch(`${origin()}/viewer/app-config.js`, {
      headers: { 'X-Forwarded-Proto': 'https', 'X-Forwarded-Host': 'pacs.example.org', 'X-Forwarded-Prefix': '/gw' },
    });
    const text = await proxied.text();
    expect(text).toContain('"wadoRoot": "https://pacs.example.org/gw/dicom-web"');
    expect(text).toContain('"routerBasename": "/gw/viewer"');
  });

  test('app routes answer index.html, bundles get a computed public path, missing files 404', async () => {
    const route = await fetch(`${origin()}/viewer/viewer?StudyInstanceUIDs=1.2.3`);
    expect([route.status, route.headers.get('content-type')]).toEqual([200, 'text/html; charset=utf-8']);
    const html = await route.text();
    const app = /src="\/viewer\/(app\.bundle\.[\w]+\.js)"/.exec(html)![1];
    const bundle = await (await fetch(`${origin()}/viewer/${app}`)).text();
    expect(bundle).not.toContain('__webpack_require__.p = "/";');
    expect(bundle).toContain('window.PUBLIC_URL');
    expect((await fetch(`${origin()}/viewer/no-such-chunk.js`)).status).toBe(404);
  });

  test('without @ohif/app, /viewer is a 404 that says so', async () => {
    const app = express();
    app.use('/viewer', viewerRouter({} as DicomWebContext, { distDir: null }));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const port = (server.address() as { port: number }).port;
      const res = await fetch(`http://127.0.0.1:${port}/viewer/`);
      expect(res.status).toBe(404);
      expect(await res.text()).toMatch(/@ohif\/app is missing/);
    } finally {
      server.close();
    }
  });
});

const haveChromium = fs.existsSync(CHROMIUM);
if (!haveChromium) {
  // eslint-disable-next-line no-console
  console.warn(`viewer browser tests skipped: ${CHROMIUM} is not installed (apt-get install chromium; .ci/run installs it)`);
}

/**
 * The viewer in a real browser, with auth off (loopback) and with AUTH=keys: there the viewer is
 * opened by the `?token=` hand-off, and every DICOMweb request it makes must carry the key as a
 * bearer token (the study list, the images, the SEG).
 */
for (const mode of ['off', 'keys'] as const)
(haveChromium ? describe : describe.skip)(`viewer in Chromium, AUTH=${mode} (${haveChromium ? CHROMIUM : 'skipped: no ' + CHROMIUM})`, () => {
  let gw: TestGateway;
  /** AUTH=keys: an ingest and read key of one project, which the viewer is opened with. */
  let key: string | undefined;
  const authorised = (): Record<string, string> => (key ? { Authorization: `Bearer ${key}` } : {});
  let browser: BrowserContext;
  let launched: TestBrowser | undefined;
  let ctStudy: string;
  let segStudy: string;
  let origin: string;

  beforeAll(async () => {
    gw = await startTestGateway(mode === 'keys' ? { auth: loadAuthConfig({ mode: 'keys' }, {}, '127.0.0.1') } : {});
    key = mode === 'keys' ? (await gw.gateway.keys.add('viewer-user', ['ingest', 'read'], ['research'])).key : undefined;
    origin = gw.url.replace(/\/dicom-web$/, '');
    ctStudy = await stow(
      gw,
      fs
        .readdirSync(CT_DIR)
        .filter((n) => n !== 'DIRFILE')
        .map((n) => path.join(CT_DIR, n)),
      key,
    );
    // Three CT slices and the SEG made on them: the SEG's references to its source images
    // are remapped with the same keyed UID mapping, so they still resolve.
    segStudy = await stow(gw, [...['01', '02', '03'].map((n) => path.join(SEG_DIR, `ct-3slice/${n}.dcm`)), path.join(SEG_DIR, 'liver.dcm')], key);
    launched = await launchChromium();
    browser = launched.browser;
  }, 120_000);

  afterAll(async () => {
    await launched?.close();
    await gw?.close();
  });

  /**
   * A fresh tab that records page errors, console errors, requests leaving the server it opens,
   * and (AUTH=keys) DICOMweb or API requests that went without the bearer token. With a key, the
   * URL carries the `?token=` hand-off.
   */
  async function open(target: string): Promise<{ page: Page; errors: string[]; foreign: string[]; consoleErrors: string[]; unauthorised: string[]; authorisedCount: () => number }> {
    const url = key ? `${target}${target.includes('?') ? '&' : '?'}token=${encodeURIComponent(key)}` : target;
    const page = await browser.newPage();
    const home = new URL(url).origin;
    const errors: string[] = [];
    const foreign: string[] = [];
    const consoleErrors: string[] = [];
    const unauthorised: string[] = [];
    let withBearer = 0;
    page.on('request', (r) => {
      if (!key || !r.url().startsWith(home) || !/\/(dicom-web|api)\//.test(new URL(r.url()).pathname)) return;
      if (r.headers()['authorization'] === `Bearer ${key}`) withBearer++;
      else unauthorised.push(`${r.method()} ${new URL(r.url()).pathname}`);
    });
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('request', (r) => {
      if (!r.url().startsWith(home) && !/^(blob|data):/.test(r.url())) foreign.push(r.url());
    });
    await page.goto(url);
    return { page, errors, foreign, consoleErrors, unauthorised, authorisedCount: () => withBearer };
  }

  /** Dismiss the investigational-use banner and the first-visit tour when they show. */
  async function dismissOverlays(page: Page): Promise<void> {
    const confirm = page.locator('[data-cy=confirm-and-hide-button]');
    if (await confirm.isVisible()) await confirm.click();
    const skip = page.getByText('Skip all', { exact: true });
    if (await skip.isVisible()) await skip.click();
  }

  /** Statistics of what the first cornerstone canvas shows (a 2D canvas the renderer copies into). */
  async function canvasStats(page: Page): Promise<{ width: number; height: number; stdev: number; litFraction: number }> {
    return page.evaluate(() => {
      const canvas = document.querySelector('canvas.cornerstone-canvas') as HTMLCanvasElement | null;
      if (!canvas || !canvas.width || !canvas.height) return { width: 0, height: 0, stdev: 0, litFraction: 0 };
      const { data } = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
      let sum = 0;
      let sum2 = 0;
      let lit = 0;
      const n = data.length / 4;
      for (let i = 0; i < data.length; i += 4) {
        const y = 0.299 * data[i] + 0.587 * data[i + 1] + 0.114 * data[i + 2];
        sum += y;
        sum2 += y * y;
        if (y > 50) lit++;
      }
      const mean = sum / n;
      return { width: canvas.width, height: canvas.height, stdev: Math.sqrt(Math.max(0, sum2 / n - mean * mean)), litFraction: lit / n };
    });
  }

  /** VIEWER_SCREENSHOTS=/some/dir keeps a screenshot of each case, to see what the browser saw. */
  async function keepScreenshot(page: Page, name: string): Promise<void> {
    const dir = process.env.VIEWER_SCREENSHOTS;
    if (dir) await page.screenshot({ path: path.join(dir, `${name}.png`) });
  }

  /** The image id (a WADO-RS URL) the active cornerstone viewport shows, through OHIF's services. */
  async function currentImageId(page: Page): Promise<string> {
    return page.evaluate(() => {
      const services = (window as unknown as { services?: Record<string, any> }).services; // eslint-disable-line @typescript-eslint/no-explicit-any
      const viewportId = services?.viewportGridService?.getActiveViewportId?.();
      const viewport = viewportId && services?.cornerstoneViewportService?.getCornerstoneViewport?.(viewportId);
      return String(viewport?.getCurrentImageId?.() ?? '');
    });
  }

  async function waitForImage(page: Page): Promise<{ stdev: number; litFraction: number }> {
    let stats = await canvasStats(page);
    for (const deadline = Date.now() + 60_000; Date.now() < deadline; ) {
      stats = await canvasStats(page);
      if (stats.stdev > 10 && stats.litFraction > 0.005) return stats;
      await page.waitForTimeout(500);
    }
    throw new Error(`the viewport stayed blank: ${JSON.stringify(stats)}`);
  }

  test('the study list shows the stored CT study, which opens and is drawn', async () => {
    const [study] = (await (await fetch(`${gw.url}/studies?StudyInstanceUID=${ctStudy}`, { headers: authorised() })).json()) as Json[];
    const pseudonym = String((study['00100010'].Value![0] as { Alphabetic: string }).Alphabetic);
    expect(pseudonym).toMatch(/^VG-/);

    const { page, errors, foreign, unauthorised, authorisedCount } = await open(`${origin}/viewer/`);
    // The key left the address bar at once (kept for the tab only).
    if (key) expect(page.url()).not.toContain('token=');
    await page.getByText(pseudonym, { exact: true }).first().click({ timeout: 60_000 });
    await dismissOverlays(page);
    await page.getByRole('button', { name: 'Basic Viewer' }).click();
    await page.waitForURL((u) => u.pathname === '/viewer/viewer' && u.searchParams.get('StudyInstanceUIDs') === ctStudy, { timeout: 30_000 });
    const stats = await waitForImage(page);
    expect(stats.stdev).toBeGreaterThan(10);
    await dismissOverlays(page);
    await keepScreenshot(page, 'viewer-ct');
    // The screenshot of the viewport (what a user sees, not only the canvas buffer) is not blank.
    const shot = await page.locator('canvas.cornerstone-canvas').first().screenshot();
    const { channels } = await sharp(shot).stats();
    expect(channels[0].stdev).toBeGreaterThan(10);
    expect(channels[0].max - channels[0].min).toBeGreaterThan(100);
    // The series is in the study browser with its 28 instances.
    await expect(page.locator('[data-cy=studyBrowser-panel]').getByText('28', { exact: true }).first().isVisible()).resolves.toBe(true);
    expect(errors).toEqual([]);
    expect(foreign).toEqual([]);
    expect(unauthorised).toEqual([]);
    if (key) expect(authorisedCount()).toBeGreaterThan(28);
    await page.close();
  }, 150_000);

  test('a DICOM SEG on its CT series loads and its segment is listed in the segmentation panel', async () => {
    // A deep link into the app: served as index.html, routed by OHIF.
    const { page, errors, foreign, unauthorised } = await open(`${origin}/viewer/viewer?StudyInstanceUIDs=${segStudy}`);
    await waitForImage(page);
    await dismissOverlays(page);
    const segThumbnail = page.locator('[data-cy=series-modality-label]', { hasText: /^SEG$/ }).first();
    await segThumbnail.waitFor({ timeout: 30_000 });
    await dismissOverlays(page);
    await segThumbnail.dblclick();
    // OHIF asks before hydrating a SEG into the viewport.
    const yes = page.getByRole('button', { name: 'Yes', exact: true });
    await yes.waitFor({ timeout: 30_000 });
    await yes.click();
    const panelButton = page.locator('[data-cy=panelSegmentation-btn]');
    const segmentLabel = page.getByText('Liver', { exact: true });
    for (const deadline = Date.now() + 30_000; !(await segmentLabel.first().isVisible()) && Date.now() < deadline; ) {
      if (await panelButton.isVisible()) await panelButton.click();
      await page.waitForTimeout(1000);
    }
    await expect(segmentLabel.first().isVisible()).resolves.toBe(true);
    await keepScreenshot(page, 'viewer-seg');
    expect(errors).toEqual([]);
    expect(foreign).toEqual([]);
    expect(unauthorised).toEqual([]);
    await page.close();
  }, 150_000);

  if (mode === 'keys') {
    test('without the key the viewer is refused, and a wrong key is too', async () => {
      // Asked as a browser without the viewer's cookie would ask.
      for (const url of [`${origin}/viewer/`, `${origin}/viewer/?token=vgk_00000000000000000000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA`]) {
        const res = await fetch(url);
        expect(res.status).toBe(401);
        expect(await res.text()).toContain('?token=');
      }
      expect((await fetch(`${gw.url}/studies`)).status).toBe(401);
    });
  }

  // Once is enough for the processing results: with auth off.
  if (mode === 'off') describe('the gateway’s own processing results', () => {
    let jobsGw: TestGateway;
    let study: string;
    let source: string;

    /** POST /api/jobs on the source series; the job's id. */
    async function submit(op: string, params: unknown): Promise<string> {
      const res = await fetch(`${jobsGw.url.replace(/\/dicom-web$/, '')}/api/jobs`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ op, input: { study, series: source }, params }),
      });
      const job = (await res.json()) as JobView;
      expect([res.status, res.headers.get('location')?.endsWith(`/api/jobs/${job.id}`), ['queued', 'running'].includes(job.state)]).toEqual([202, true, true]);
      return job.id;
    }

    /** Polls GET /api/jobs/{id} until the job is over. */
    async function finished(id: string, timeoutMs = 120_000): Promise<JobView> {
      for (const deadline = Date.now() + timeoutMs; ; ) {
        const job = (await (await fetch(`${jobsGw.url.replace(/\/dicom-web$/, '')}/api/jobs/${id}`)).json()) as JobView;
        if (['done', 'failed', 'cancelled'].includes(job.state)) return job;
        if (Date.now() > deadline) throw new Error(`job ${id} still ${job.state} after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 250));
      }
    }

    beforeAll(async () => {
      // A gateway of its own, so the CT study of the cases above keeps its single series.
      jobsGw = await startTestGateway();
      study = await stow(
        jobsGw,
        fs
          .readdirSync(CT_DIR)
          .filter((n) => n !== 'DIRFILE')
          .map((n) => path.join(CT_DIR, n)),
      );
      const series = (await (await fetch(`${jobsGw.url}/studies/${study}/series`)).json()) as Json[];
      expect(series).toHaveLength(1);
      source = String(series[0]['0020000E'].Value![0]);
    }, 120_000);

    afterAll(async () => {
      await jobsGw?.close();
    });

    test('a segment job’s SEG and a denoise job’s derived series show next to their source, and both open', async () => {
      const segJob = await submit('segment', { method: 'threshold', preset: 'bone', post: ['largest'], structure: 'bone' });
      const denoiseJob = await submit('denoise', { method: 'gaussian', sigma: 1 });
      const [seg, denoised] = [await finished(segJob), await finished(denoiseJob)];
      expect([seg.state, seg.error, denoised.state, denoised.error]).toEqual(['done', undefined, 'done', undefined]);
      expect([seg.result![0].kind, seg.result![0].instances]).toEqual(['segmentation', 1]);
      expect([denoised.result![0].kind, denoised.result![0].instances]).toEqual(['image', 28]);
      const segSeries = seg.result![0].seriesInstanceUID;
      const denoisedSeries = denoised.result![0].seriesInstanceUID;

      // What the gateway says about them: their series descriptions, and the SEG's segment label.
      const qido = (await (await fetch(`${jobsGw.url}/studies/${study}/series?includefield=0008103E`)).json()) as Json[];
      const described = new Map(qido.map((s) => [String(s['0020000E'].Value![0]), { modality: String(s['00080060'].Value![0]), description: String(s['0008103E']?.Value?.[0] ?? '') }]));
      expect(described.size).toBe(3);
      expect([described.get(segSeries)?.modality, described.get(denoisedSeries)?.modality]).toEqual(['SEG', 'CT']);
      const segDescription = described.get(segSeries)!.description;
      const denoisedDescription = described.get(denoisedSeries)!.description;
      expect(segDescription).toMatch(/^segment: /);
      expect(denoisedDescription).toMatch(/^denoise: /);
      const [segMetadata] = (await (await fetch(`${jobsGw.url}/studies/${study}/series/${segSeries}/metadata`)).json()) as Json[];
      const segmentLabels = segMetadata['00620002'].Value!.map((item) => String((item as Json)['00620005'].Value![0]));
      expect(segmentLabels).toEqual(['Bone']);

      const { page, errors, foreign, consoleErrors } = await open(`${jobsGw.url.replace(/\/dicom-web$/, '')}/viewer/viewer?StudyInstanceUIDs=${study}`);
      const failure = (what: string) => `${what}; page errors: ${JSON.stringify(errors)}; console errors: ${JSON.stringify(consoleErrors)}`;
      try {
        await waitForImage(page);
        await dismissOverlays(page);

        // The study browser lists the source, the derived series and the SEG, by the gateway's descriptions.
        const browserPanel = page.locator('[data-cy=studyBrowser-panel]');
        const descriptionLabels = browserPanel.locator('[data-cy=series-description-label]');
        for (const deadline = Date.now() + 30_000; (await descriptionLabels.count()) < 3 && Date.now() < deadline; ) await page.waitForTimeout(500);
        const shown = await descriptionLabels.allInnerTexts();
        expect(shown.length).toBeGreaterThanOrEqual(3);
        expect(shown.map((t) => t.trim())).toEqual(expect.arrayContaining([segDescription, denoisedDescription]));
        const modalities = (await browserPanel.locator('[data-cy=series-modality-label]').allInnerTexts()).map((t) => t.trim()).sort();
        expect(modalities).toEqual(['CT', 'CT', 'SEG']);
        await keepScreenshot(page, 'viewer-jobs-list');

        // The denoised series, double-clicked, is what the viewport shows, and it is drawn.
        await dismissOverlays(page);
        await descriptionLabels.filter({ hasText: denoisedDescription }).first().dblclick();
        let imageId = '';
        for (const deadline = Date.now() + 30_000; !imageId.includes(denoisedSeries) && Date.now() < deadline; ) {
          await page.waitForTimeout(500);
          imageId = await currentImageId(page);
        }
        expect(imageId).toContain(`/series/${denoisedSeries}/`);
        const stats = await waitForImage(page);
        expect(stats.stdev).toBeGreaterThan(10);
        await keepScreenshot(page, 'viewer-jobs-denoised');

        // The SEG loads onto its source and its segment is listed in the segmentation panel. (The
        // gateway's SEG has no RecommendedDisplayCIELabValue, an optional attribute, so OHIF shows a
        // warning toast and gives the segment its default colour.)
        await dismissOverlays(page);
        await browserPanel.locator('[data-cy=series-modality-label]', { hasText: /^SEG$/ }).first().dblclick();
        const yes = page.getByRole('button', { name: 'Yes', exact: true });
        await yes.waitFor({ timeout: 30_000 });
        await yes.click();
        const panelButton = page.locator('[data-cy=panelSegmentation-btn]');
        const segmentLabel = page.getByText(segmentLabels[0], { exact: true });
        for (const deadline = Date.now() + 30_000; !(await segmentLabel.first().isVisible()) && Date.now() < deadline; ) {
          if (await panelButton.isVisible()) await panelButton.click();
          await page.waitForTimeout(1000);
        }
        await keepScreenshot(page, 'viewer-jobs-seg');
        // OHIF reports SEG import problems as toasts: none at all for the gateway's own SEG (each
        // segment carries its RecommendedDisplayCIELabValue).
        const toasts = await page.locator('[data-sonner-toast][data-type=error], [data-sonner-toast][data-type=warning]').allInnerTexts();
        expect(toasts).toEqual([]);
        expect(await segmentLabel.first().isVisible()).toBe(true);
        expect(errors).toEqual([]);
        expect(foreign).toEqual([]);
      } catch (e) {
        throw new Error(failure(String((e as Error).message ?? e)));
      } finally {
        await page.close();
      }
    }, 240_000);
  });
});
