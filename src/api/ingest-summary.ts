/**
 * GET /api/ingest/summary: what went through the one ingest path lately, per kind of source
 * (stow, dimse, import, job, nifti-post, rejection): instances stored, duplicates, refused, and
 * instances that raised warnings, since this node started and over the last hour. The tally is
 * in memory, per node, fed by the ingest outcome hook (IngestDeps.onOutcome) beside the metrics.
 * It holds counts only: the kind of an origin, never an address, an AE title, a UID or a project.
 * The counts are gateway-wide (they cannot be narrowed to a caller's projects): for admins only,
 * as /metrics is.
 */
import express, { Request, Response } from 'express';
import { requireRole } from '../auth/middleware';

export interface IngestCounts {
  stored: number;
  duplicate: number;
  refused: number;
  /** Instances stored (or found duplicate) that raised at least one warning. */
  warnings: number;
}

interface SourceTally {
  total: IngestCounts;
  /** Per minute (minutes since the epoch), the last WINDOW_MINUTES of them. */
  minutes: Map<number, IngestCounts>;
  lastAt: number;
}

const WINDOW_MINUTES = 60;
/** Origin kinds are short words (core/origin.ts); anything else is counted as "other". */
const KIND = /^[a-z][a-z-]{0,31}$/;

const zero = (): IngestCounts => ({ stored: 0, duplicate: 0, refused: 0, warnings: 0 });

export class IngestTally {
  readonly since = new Date();
  private readonly sources = new Map<string, SourceTally>();

  constructor(private readonly now: () => number = Date.now) {}

  /** One ingest's outcome (the IngestDeps.onOutcome signature). */
  add(outcome: 'stored' | 'duplicate' | 'rejected', source: string, warnings = 0): void {
    const kind = KIND.test(source) ? source : 'other';
    const at = this.now();
    let s = this.sources.get(kind);
    if (!s) this.sources.set(kind, (s = { total: zero(), minutes: new Map(), lastAt: at }));
    const minute = Math.floor(at / 60_000);
    let m = s.minutes.get(minute);
    if (!m) {
      s.minutes.set(minute, (m = zero()));
      for (const k of s.minutes.keys()) if (k <= minute - WINDOW_MINUTES) s.minutes.delete(k);
    }
    for (const c of [s.total, m]) {
      if (outcome === 'rejected') c.refused++;
      else c[outcome]++;
      if (outcome !== 'rejected' && warnings > 0) c.warnings++;
    }
    s.lastAt = at;
  }

  summary() {
    const minute = Math.floor(this.now() / 60_000);
    const sources = [...this.sources.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([source, s]) => {
        const recent = zero();
        for (const [k, c] of s.minutes) {
          if (k <= minute - WINDOW_MINUTES) continue;
          recent.stored += c.stored;
          recent.duplicate += c.duplicate;
          recent.refused += c.refused;
          recent.warnings += c.warnings;
        }
        return { source, ...s.total, lastAt: new Date(s.lastAt).toISOString(), recent };
      });
    return { since: this.since.toISOString(), windowMinutes: WINDOW_MINUTES, sources };
  }
}

export function ingestSummaryRouter(tally: IngestTally, node?: string): express.Router {
  const r = express.Router();
  r.get('/summary', requireRole('admin'), (_req: Request, res: Response) => {
    res.set('Cache-Control', 'no-store').json({ node, ...tally.summary() });
  });
  return r;
}
