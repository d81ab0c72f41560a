/**
 * Processing jobs end to end on the 28-slice Philips CT: resample to 1 mm, bone threshold,
 * Otsu, largest connected component. Results are read back with pydicom (an independent
 * reader) and checked against masks computed in Python from the source pixels; every created
 * object passes dciodvfy.
 */
import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startTestGateway, TestGateway, SHARED_DATA, parseMultipart } from '../support/gateway';
import { importFolder } from '../../src/cli/import';

jest.setTimeout(300_000);
const exec = promisify(execFile);

type Json = Record<string, { Value?: unknown[] }>;
interface JobView {
  id: string;
  state: string;
  progress: number;
  error?: string;
  result?: { seriesInstanceUID: string; kind: string; instances: number }[];
}

describe('processing jobs', () => {
  let gw: TestGateway;
  let api: string;
  let study: string;
  let series: string;
  let work: string;

  async function submit(op: string, params: unknown, input = { study, series }): Promise<Response> {
    return fetch(`${api}/jobs`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ op, input, params }) });
  }

  async function finished(id: string, timeoutMs = 120_000): Promise<JobView> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const job = (await (await fetch(`${api}/jobs/${id}`)).json()) as JobView;
      if (['done', 'failed', 'cancelled'].includes(job.state)) return job;
      if (Date.now() > until) throw new Error(`job ${id} still ${job.state}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** Every instance of a series as files in a folder, through WADO-RS. */
  async function download(seriesUID: string, dir: string): Promise<string[]> {
    fs.mkdirSync(dir, { recursive: true });
    const res = await fetch(`${gw.url}/studies/${study}/series/${seriesUID}`, { headers: { Accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' } });
    const parts = parseMultipart(Buffer.from(await res.arrayBuffer()), res.headers.get('content-type')!);
    return parts.map((p, i) => {
      const f = path.join(dir, `${i}.dcm`);
      fs.writeFileSync(f, p.body);
      return f;
    });
  }

  async function dciodvfyErrors(file: string): Promise<string[]> {
    const { stderr } = await exec('dciodvfy', [file]).catch((e) => e as { stderr: string });
    return stderr.split('\n').filter((l) => l.startsWith('Error'));
  }

  beforeAll(async () => {
    gw = await startTestGateway();
    api = gw.url.replace('/dicom-web', '/api');
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'veilgate-jobs-'));
    await importFolder(path.join(SHARED_DATA, 'dcm_qa_ct/In/Philips/S21570/S2010'), gw.gateway.config);
    const [s] = (await (await fetch(`${gw.url}/series`)).json()) as Json[];
    study = String(s['0020000D'].Value![0]);
    series = String(s['0020000E'].Value![0]);
  });
  afterAll(async () => {
    await gw.close();
    fs.rmSync(work, { recursive: true, force: true });
  });

  test('bad requests are refused before anything is queued', async () => {
    expect((await submit('sharpen', {})).status).toBe(400);
    const bad = await submit('denoise', { method: 'gaussian', sigma: -1 });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toMatch(/sigma/);
    expect((await submit('segment', { method: 'threshold', preset: 'unobtanium' })).status).toBe(400);
    expect((await submit('resample', { spacing: 1, size: [2, 2, 2] })).status).toBe(400);
    expect((await submit('segment', { preset: 'bone' }, { study, series: '2.25.1' })).status).toBe(404);
    expect((await fetch(`${api}/jobs`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{not json' })).status).toBe(400);
    expect((await fetch(`${api}/jobs/00000000-0000-0000-0000-000000000000`)).status).toBe(404);
    expect(await gw.gateway.jobs.list(10)).toEqual([]);
  });

  test('resample to 1 mm, bone threshold, Otsu and largest component: all in QIDO, valid, and right', async () => {
    const requests = [
      ['resample', { spacing: 1, method: 'linear' }],
      ['segment', { method: 'threshold', preset: 'bone' }],
      ['segment', { method: 'otsu', structure: 'soft-tissue' }],
      ['segment', { method: 'threshold', preset: 'bone', post: ['largest'] }],
    ] as const;
    const ids: string[] = [];
    for (const [op, params] of requests) {
      const res = await submit(op, params);
      expect(res.status).toBe(202);
      expect(res.headers.get('location')).toMatch(/\/api\/jobs\/[0-9a-f-]{36}$/);
      ids.push(((await res.json()) as JobView).id);
    }
    const jobs = [];
    for (const id of ids) jobs.push(await finished(id));
    for (const j of jobs) expect([j.state, j.error]).toEqual(['done', undefined]);
    const [resampled, bone, otsu, largest] = jobs.map((j) => j.result![0]);
    expect([resampled.kind, bone.kind, otsu.kind, largest.kind]).toEqual(['image', 'segmentation', 'segmentation', 'segmentation']);

    // The results are series of the source's study.
    const inStudy = (await (await fetch(`${gw.url}/studies/${study}/series?includefield=0008103E`)).json()) as Json[];
    const modality = new Map(inStudy.map((s) => [s['0020000E'].Value![0], s['00080060'].Value![0]]));
    expect(modality.get(resampled.seriesInstanceUID)).toBe('CT');
    expect([bone, otsu, largest].map((r) => modality.get(r.seriesInstanceUID))).toEqual(['SEG', 'SEG', 'SEG']);

    // Files for Python: the source slices, the SEGs, and a sample of the resampled images.
    const source = await download(series, path.join(work, 'source'));
    const segs = Object.fromEntries(await Promise.all([['bone', bone], ['otsu', otsu], ['largest', largest]].map(async ([name, r]) => [name, (await download((r as { seriesInstanceUID: string }).seriesInstanceUID, path.join(work, String(name))))[0]])));
    const resampledFiles = await download(resampled.seriesInstanceUID, path.join(work, 'resampled'));
    expect(resampledFiles).toHaveLength(resampled.instances);

    const check = spawnSync('/usr/bin/python3', [path.join(__dirname, '../support/check_processing.py')], {
      input: JSON.stringify({ source, segs, resampled: resampledFiles }),
      encoding: 'utf8',
    });
    expect(check.stderr).toBe('');
    const report = JSON.parse(check.stdout);
    expect(report.bone).toEqual({ frames_match: true, empty_slices_match: true });
    expect(report.largest).toEqual({ frames_match: true, empty_slices_match: true });
    expect(report.otsu.voxels).toBeGreaterThan(0);
    expect(report.resampled.spacing).toEqual([1, 1]);
    expect(report.resampled.slice_step).toBeCloseTo(1, 3);
    expect(report.resampled.origin_distance_mm).toBeLessThan(0.5);
    expect(report.resampled.origin_value_difference).toBeLessThan(1);

    for (const f of [segs.bone, segs.otsu, segs.largest, resampledFiles[0], resampledFiles[resampledFiles.length - 1]]) {
      expect([f, await dciodvfyErrors(f)]).toEqual([f, []]);
    }
  });

  test('an ONNX model built by the test runs by sliding window and comes back as a SEG', async () => {
    expect((await submit('model', { model: 'nothing-here' })).status).toBe(404);
    const folder = path.join(gw.dataDir, 'models', 'threshold');
    fs.mkdirSync(folder, { recursive: true });
    // The model sees (clip(HU) + 0) * 0.001 and marks values above 300.5 HU; patches of 64×64×8 overlap.
    const made = spawnSync('/usr/bin/python3', [path.join(__dirname, '../support/make_threshold_model.py'), path.join(folder, 'model.onnx'), '0.3005']);
    expect(made.stderr.toString()).toBe('');
    fs.writeFileSync(
      path.join(folder, 'model.json'),
      JSON.stringify({ patchSize: [64, 64, 8], input: 'image', output: 'logits', preprocessing: { clip: [-1024, 3071], scale: 0.001 }, labels: [{ value: 1, structure: 'bone' }] }),
    );
    const res = await submit('model', { model: 'threshold' });
    expect(res.status).toBe(202);
    const job = await finished(((await res.json()) as JobView).id);
    expect([job.state, job.error]).toEqual(['done', undefined]);
    const source = await download(series, path.join(work, 'model-source'));
    const [seg] = await download(job.result![0].seriesInstanceUID, path.join(work, 'model-seg'));
    const check = spawnSync('/usr/bin/python3', [path.join(__dirname, '../support/check_processing.py')], { input: JSON.stringify({ source, segs: { model: seg } }), encoding: 'utf8' });
    expect(check.stderr).toBe('');
    expect(JSON.parse(check.stdout).model).toEqual({ frames_match: true, empty_slices_match: true });
    expect(await dciodvfyErrors(seg)).toEqual([]);
  });

  test('a queued job can be cancelled and never runs', async () => {
    const a = (await (await submit('denoise', { method: 'median', radius: 1 })).json()) as JobView;
    const b = (await (await submit('denoise', { method: 'gaussian', sigma: 1 })).json()) as JobView;
    const cancelled = (await (await fetch(`${api}/jobs/${b.id}`, { method: 'DELETE' })).json()) as JobView;
    expect(cancelled.state).toBe('cancelled');
    expect((await finished(a.id)).state).toBe('done');
    const after = (await (await fetch(`${api}/jobs/${b.id}`)).json()) as JobView;
    expect([after.state, after.result]).toEqual(['cancelled', undefined]);
  });
});

describe('jobs survive a restart', () => {
  test('a job left running by a stop is queued again and completes', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'veilgate-restart-'));
    const first = await startTestGateway({ dataDir });
    await importFolder(path.join(SHARED_DATA, 'dcm_qa_ct/In/Philips/S21570/S2010'), first.gateway.config);
    const [s] = (await (await fetch(`${first.url}/series`)).json()) as Json[];
    // Stop taking jobs, then leave one marked running, as a crash would.
    await first.gateway.runner.stop();
    const jobs = first.gateway.jobs;
    await jobs.create({ id: '11111111-2222-3333-4444-555555555555', op: 'normalize', study: String(s['0020000D'].Value![0]), series: String(s['0020000E'].Value![0]), params: { method: 'minmax' } });
    expect((await jobs.claimNext(first.gateway.nodeId, 60_000))?.state).toBe('running');
    await first.gateway.close();

    const second = await startTestGateway({ dataDir });
    try {
      const until = Date.now() + 60_000;
      let job = (await second.gateway.jobs.get('11111111-2222-3333-4444-555555555555'))!;
      while (!['done', 'failed'].includes(job.state) && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 200));
        job = (await second.gateway.jobs.get(job.id))!;
      }
      expect([job.state, job.attempts]).toEqual(['done', 2]);
    } finally {
      await second.close();
    }
  });
});

describe('job rules on ingest', () => {
  test('a CT series of at least 20 slices gets its body mask; a single image does not', async () => {
    const rule = { modality: 'CT', minInstances: 20, jobs: [{ op: 'segment', params: { method: 'threshold', low: -500, high: 3000, post: ['largest'], structure: 'tissue' } }] };
    const gw = await startTestGateway({ jobRules: [rule], jobRulesQuietSeconds: 1 });
    try {
      const stow = (file: string) => fetch(`${gw.url}/studies`, { method: 'POST', headers: { 'Content-Type': 'application/dicom' }, body: fs.readFileSync(file) });
      const folder = path.join(SHARED_DATA, 'dcm_qa_ct/In/Philips/S21570/S2010');
      for (const f of fs.readdirSync(folder).filter((n) => n !== 'DIRFILE')) await stow(path.join(folder, f));
      await stow(path.join(SHARED_DATA, 'pydicom/CT_small.dcm'));
      const until = Date.now() + 60_000;
      let jobs = await gw.gateway.jobs.list(10);
      while ((jobs.length === 0 || jobs.some((j) => j.state === 'queued' || j.state === 'running')) && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 250));
        jobs = await gw.gateway.jobs.list(10);
      }
      await new Promise((r) => setTimeout(r, 1500)); // past the quiet period of CT_small too
      jobs = await gw.gateway.jobs.list(10);
      expect(jobs.map((j) => [j.op, j.state])).toEqual([['segment', 'done']]);
      const instances = (await (await fetch(`${gw.url}/studies/${jobs[0].study}/series/${jobs[0].series}/instances`)).json()) as Json[];
      expect(instances).toHaveLength(28); // the job is on the 28-slice series
      // The SEG the rule made did not trigger the rule again.
      const segs = (await (await fetch(`${gw.url}/series?Modality=SEG`)).json()) as Json[];
      expect(segs).toHaveLength(1);
    } finally {
      await gw.close();
    }
  });
});
