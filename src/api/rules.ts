/**
 * GET /api/rules: the configured rules, as the console shows them. Job rules (jobs queued when a
 * series arrives, processing/jobs/rules.ts) and routing rules (series forwarded to destinations,
 * egress/config.ts). Each field is picked by name, so nothing a rule may later carry (a secret,
 * a path) is shown by accident; destinations appear by name only (their settings, without
 * secrets, are at /api/transfers/destinations). Rules are the gateway's configuration, and job
 * rules and routing rules without a project apply to every project's series: for admins only, as
 * the destinations are. An admin limited to projects sees the routing rules of its projects and
 * those without a project.
 */
import express, { Request, Response } from 'express';
import { requireRole } from '../auth/middleware';
import type { DicomWebContext } from '../dicomweb/context';
import { readView } from '../dicomweb/context';

export function rulesView(ctx: DicomWebContext, projects: readonly string[] | undefined) {
  const { config } = ctx;
  return {
    jobRules: {
      quietSeconds: config.jobRulesQuietSeconds,
      rules: config.jobRules.map((r) => ({
        modality: r.modality,
        minInstances: r.minInstances,
        jobs: r.jobs.map((j) => ({ op: j.op, params: j.params ?? {} })),
      })),
    },
    routes: {
      quietSeconds: config.egress.quietSeconds ?? config.jobRulesQuietSeconds,
      rules: config.egress.routes
        .filter((r) => projects === undefined || r.project === undefined || projects.includes(r.project))
        .map((r) => ({
          name: r.name,
          from: r.from,
          modality: r.modality,
          sopClassUID: r.sopClassUID,
          project: r.project,
          seriesDescription: r.seriesDescription,
          minInstances: r.minInstances,
          destinations: [...r.destinations],
        })),
    },
  };
}

export function rulesRouter(ctx: DicomWebContext): express.Router {
  const r = express.Router();
  r.get('/', requireRole('admin'), (req: Request, res: Response) => {
    res.json(rulesView(ctx, readView(ctx, req).projects));
  });
  return r;
}
