/**
 * GET /health: liveness (the process answers) and readiness (the index takes a write, the data
 * directory has room). 200 when ready, 503 with Retry-After when not, with what failed; never
 * anything about the data itself.
 */
import fs from 'node:fs';
import type { Request, Response } from 'express';
import type { Index } from '../index/index';
import { RETRY_AFTER_SECONDS, isOutOfResources } from '../errors';

export interface HealthDeps {
  index: Index;
  dataDir: string;
  minFreeDiskBytes: number;
}

export function healthHandler(deps: HealthDeps) {
  return async (_req: Request, res: Response): Promise<void> => {
    const checks: Record<string, { ok: boolean; detail?: string }> = {};
    try {
      await deps.index.checkWritable();
      checks.index = { ok: true };
    } catch (e) {
      checks.index = { ok: false, detail: isOutOfResources(e) ? 'the index cannot write: storage full or unavailable' : 'the index cannot write' };
    }
    try {
      const s = fs.statfsSync(deps.dataDir);
      const free = s.bavail * s.bsize;
      checks.disk = { ok: free >= deps.minFreeDiskBytes, detail: `${free} bytes free, ${deps.minFreeDiskBytes} required` };
    } catch {
      checks.disk = { ok: false, detail: 'the data directory cannot be read' };
    }
    const ready = Object.values(checks).every((c) => c.ok);
    if (!ready) res.setHeader('Retry-After', String(RETRY_AFTER_SECONDS));
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready', live: true, checks });
  };
}
