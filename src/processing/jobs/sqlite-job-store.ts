/** JobStore on the index's SQLite database. */
import Database from 'better-sqlite3';
import { JobRecord, JobStore } from './job-store';

interface Row {
  id: string;
  op: string;
  study_uid: string;
  series_uid: string;
  params: string;
  client: string | null;
  state: JobRecord['state'];
  progress: number;
  attempts: number;
  error: string | null;
  result: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
}

function toRecord(r: Row): JobRecord {
  return {
    id: r.id,
    op: r.op,
    study: r.study_uid,
    series: r.series_uid,
    params: JSON.parse(r.params),
    client: r.client ?? undefined,
    state: r.state,
    progress: r.progress,
    attempts: r.attempts,
    error: r.error ?? undefined,
    result: r.result ? JSON.parse(r.result) : undefined,
    createdAt: r.created_at,
    startedAt: r.started_at ?? undefined,
    finishedAt: r.finished_at ?? undefined,
  };
}

export class SqliteJobStore implements JobStore {
  constructor(private readonly db: Database.Database) {}

  create(job: Pick<JobRecord, 'id' | 'op' | 'study' | 'series' | 'params' | 'client'>): JobRecord {
    const now = new Date().toISOString();
    this.db
      .prepare(
        `INSERT INTO jobs (id, seq, op, study_uid, series_uid, params, client, state, created_at)
         VALUES (?, (SELECT coalesce(max(seq), 0) + 1 FROM jobs), ?, ?, ?, ?, ?, 'queued', ?)`,
      )
      .run(job.id, job.op, job.study, job.series, JSON.stringify(job.params), job.client ?? null, now);
    return this.get(job.id)!;
  }

  countByState(): Record<JobRecord['state'], number> {
    const out: Record<JobRecord['state'], number> = { queued: 0, running: 0, done: 0, failed: 0, cancelled: 0 };
    for (const r of this.db.prepare('SELECT state, count(*) AS n FROM jobs GROUP BY state').all() as { state: JobRecord['state']; n: number }[]) out[r.state] = r.n;
    return out;
  }

  activeFor(client: string): number {
    return (this.db.prepare(`SELECT count(*) AS n FROM jobs WHERE client = ? AND state IN ('queued', 'running')`).get(client) as { n: number }).n;
  }

  get(id: string): JobRecord | undefined {
    const row = this.db.prepare('SELECT * FROM jobs WHERE id = ?').get(id) as Row | undefined;
    return row && toRecord(row);
  }

  list(limit: number, projects?: readonly string[]): JobRecord[] {
    if (projects === undefined) return (this.db.prepare('SELECT * FROM jobs ORDER BY seq DESC LIMIT ?').all(limit) as Row[]).map(toRecord);
    if (projects.length === 0) return [];
    const marks = projects.map(() => '?').join(', ');
    const sql = `SELECT * FROM jobs WHERE study_uid IN (SELECT study_uid FROM study_projects WHERE project IN (${marks})) ORDER BY seq DESC LIMIT ?`;
    return (this.db.prepare(sql).all(...projects, limit) as Row[]).map(toRecord);
  }

  forSeries(study: string, series: string): JobRecord[] {
    return (this.db.prepare('SELECT * FROM jobs WHERE study_uid = ? AND series_uid = ? ORDER BY seq').all(study, series) as Row[]).map(toRecord);
  }

  claimNext(): JobRecord | undefined {
    const row = this.db.prepare(`SELECT id FROM jobs WHERE state = 'queued' ORDER BY seq LIMIT 1`).get() as { id: string } | undefined;
    return row ? this.claim(row.id) : undefined;
  }

  claim(id: string): JobRecord | undefined {
    const changed = this.db
      .prepare(`UPDATE jobs SET state = 'running', progress = 0, attempts = attempts + 1, started_at = ? WHERE id = ? AND state = 'queued'`)
      .run(new Date().toISOString(), id).changes;
    return changed ? this.get(id) : undefined;
  }

  update(id: string, changes: Partial<Pick<JobRecord, 'state' | 'progress' | 'error' | 'result' | 'finishedAt'>>): void {
    const sets: string[] = [];
    const values: (string | number | null)[] = [];
    if (changes.state !== undefined) (sets.push('state = ?'), values.push(changes.state));
    if (changes.progress !== undefined) (sets.push('progress = ?'), values.push(Math.round(changes.progress)));
    if (changes.error !== undefined) (sets.push('error = ?'), values.push(changes.error));
    if (changes.result !== undefined) (sets.push('result = ?'), values.push(JSON.stringify(changes.result)));
    if (changes.finishedAt !== undefined) (sets.push('finished_at = ?'), values.push(changes.finishedAt));
    if (!sets.length) return;
    this.db.prepare(`UPDATE jobs SET ${sets.join(', ')} WHERE id = ?`).run(...values, id);
  }

  recoverInterrupted(maxAttempts: number): { requeued: number; failed: number } {
    const failed = this.db
      .prepare(`UPDATE jobs SET state = 'failed', error = 'interrupted by a restart too many times', finished_at = ? WHERE state = 'running' AND attempts >= ?`)
      .run(new Date().toISOString(), maxAttempts).changes;
    const requeued = this.db.prepare(`UPDATE jobs SET state = 'queued', progress = 0 WHERE state = 'running'`).run().changes;
    return { requeued, failed };
  }
}
