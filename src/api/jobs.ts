/**
 * /api/jobs: processing jobs on stored series. POST queues one (202 with its id and
 * Location), GET reads one or lists them, DELETE cancels one.
 *
 * Jobs are on studies: a job is visible to a caller who may see its study, and a registration's
 * to one who may see both its moving study and its fixed study (params.fixed, where its result
 * goes); any other job is as absent (404) as an unknown one.
 */
import express, { Request, Response } from 'express';
import { VeilgateError } from '../errors';
import { requireUid } from '../dicomweb/params';
import { DicomWebContext, baseUrl, clientOf, publicBase, readView } from '../dicomweb/context';
import type { AccessView } from '../index/access-view';
import { requireRole } from '../auth/middleware';
import { JobRunner } from '../processing/jobs/runner';
import { JobRecord } from '../processing/jobs/job-store';
import { seriesPath } from '../metadata/urls';

const JOB_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function view(job: JobRecord, req: Request, ctx: DicomWebContext) {
  const base = baseUrl(ctx, req);
  return {
    id: job.id,
    op: job.op,
    input: { study: job.study, series: job.series },
    params: job.params,
    state: job.state,
    progress: job.progress,
    /** The node running it (several gateways on one queue). */
    node: job.node,
    error: job.error,
    created: job.createdAt,
    started: job.startedAt,
    finished: job.finishedAt,
    seconds: job.startedAt && job.finishedAt ? (Date.parse(job.finishedAt) - Date.parse(job.startedAt)) / 1000 : undefined,
    result: job.result?.series.map((s) => ({ ...s, retrieveURL: base + seriesPath(resultStudy(job), s.seriesInstanceUID) })),
    transform: job.result?.transform,
  };
}

/** The study a job's results are in: a registration's lie in its fixed series' study. */
function resultStudy(job: JobRecord): string {
  const fixed = job.op === 'register' ? (job.params.fixed as { study?: string } | undefined) : undefined;
  return fixed?.study ?? job.study;
}

/**
 * The studies a job is on: its input's, and a registration's fixed study (validateOperation
 * requires one; a record without it names '', which no caller limited to projects can see).
 */
function jobStudies(job: JobRecord): string[] {
  if (job.op !== 'register') return [job.study];
  const fixed = job.params.fixed as { study?: unknown } | undefined;
  return [job.study, typeof fixed?.study === 'string' ? fixed.study : ''];
}

/** Whether the caller may see a job: every study it is on (an unreadable fixed study hides it). */
async function canSeeJob(view: AccessView, job: JobRecord): Promise<boolean> {
  if (view.projects === undefined) return true;
  for (const study of jobStudies(job)) if (!study || !(await view.canSee(study))) return false;
  return true;
}

function jobId(req: Request): string {
  const id = String(req.params.id);
  if (!JOB_ID.test(id)) throw new VeilgateError('bad-request', 'job id is malformed');
  return id;
}

export function jobsRouter(ctx: DicomWebContext, runner: JobRunner): express.Router {
  const r = express.Router();
  // Jobs are on studies: a job on a study the caller may not see is as absent as an unknown one.
  const visibleJob = async (req: Request): Promise<JobRecord> => {
    const job = await ctx.jobs.get(jobId(req));
    if (!job || !(await canSeeJob(readView(ctx, req), job))) throw new VeilgateError('not-found', 'no such job');
    return job;
  };
  r.post('/', requireRole('process'), express.json({ limit: '1mb' }), async (req: Request, res: Response) => {
    const body = req.body as { op?: unknown; input?: { study?: unknown; series?: unknown }; params?: unknown } | undefined;
    if (!body || typeof body !== 'object' || typeof body.op !== 'string') throw new VeilgateError('bad-request', 'body must be JSON { "op", "input": { "study", "series" }, "params" }');
    const study = requireUid(body.input?.study, 'input study');
    const series = requireUid(body.input?.series, 'input series');
    const job = (await runner.submit(body.op, study, series, body.params, clientOf(req), { visible: readView(ctx, req) }))!;
    res.status(202).setHeader('Location', `${publicBase(ctx, req)}/api/jobs/${job.id}`);
    res.json(view(job, req, ctx));
  });
  r.get('/', requireRole('read', 'process'), async (req: Request, res: Response) => {
    const raw = req.query.limit === undefined ? '100' : String(req.query.limit);
    if (!/^\d{1,9}$/.test(raw) || Number(raw) < 1) throw new VeilgateError('bad-request', 'limit must be a whole number from 1');
    const limit = Math.min(1000, Number(raw));
    // The store filters by the input's study; a registration whose fixed study is unreadable is dropped here.
    const visible = readView(ctx, req);
    const out = [];
    for (const j of await ctx.jobs.list(limit, visible.projects)) if (j.op !== 'register' || (await canSeeJob(visible, j))) out.push(view(j, req, ctx));
    res.json(out);
  });
  r.get('/:id', requireRole('read', 'process'), async (req: Request, res: Response) => {
    res.json(view(await visibleJob(req), req, ctx));
  });
  r.delete('/:id', requireRole('process'), async (req: Request, res: Response) => {
    const job = await runner.cancel((await visibleJob(req)).id);
    if (!job) throw new VeilgateError('not-found', 'no such job');
    res.json(view(job, req, ctx));
  });
  return r;
}
