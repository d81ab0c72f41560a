/**
 * JobStore on the index's SQLite database. Several processes may share it (the server and
 * `veilgate job` beside it): every claim is one UPDATE guarded by the job's state, so two
 * processes never take the same job (SQLite runs one writing statement at a time, which also keeps
 * max(seq) + 1 unique), and leases run on this machine's clock, which they share.
 */
import Database from 'better-sqlite3';
import { JobChanges, JobRecord, JobState, JobStore, NewJob } from './job-store';
import { JobRow, toJobRecord } from './job-row';

type Row = JobRow;
const toRecord = toJobRecord;

export class SqliteJobStore implements JobStore {
  constructor(private readonly db: Database.Database) {}

  private read(id: string): JobRecord | undefined {
    const row = this.db.prepare('SELECT * FROM jobs WHERE id = ?').get(id) as Row | undefined;
    return row && toRecord(row);
  }

  async create(job: NewJob): Promise<JobRecord | undefined> {
    const now = new Date().toISOString();
    const added = this.db
      .prepare(
        `INSERT INTO jobs (id, seq, op, study_uid, series_uid, params, client, state, created_at, once_key)
         VALUES (?, (SELECT coalesce(max(seq), 0) + 1 FROM jobs), ?, ?, ?, ?, ?, 'queued', ?, ?)
         ON CONFLICT DO NOTHING`,
      )
      .run(job.id, job.op, job.study, job.series, JSON.stringify(job.params), job.client ?? null, now, job.onceKey ?? null).changes;
    return added ? this.read(job.id) : undefined;
  }

  async countByState(): Promise<Record<JobState, number>> {
    const out: Record<JobState, number> = { queued: 0, running: 0, done: 0, failed: 0, cancelled: 0 };
    for (const r of this.db.prepare('SELECT state, count(*) AS n FROM jobs GROUP BY state').all() as { state: JobState; n: number }[]) out[r.state] = r.n;
    return out;
  }

  async activeFor(client: string): Promise<number> {
    return (this.db.prepare(`SELECT count(*) AS n FROM jobs WHERE client = ? AND state IN ('queued', 'running')`).get(client) as { n: number }).n;
  }

  async get(id: string): Promise<JobRecord | undefined> {
    return this.read(id);
  }

  async list(limit: number, projects?: readonly string[]): Promise<JobRecord[]> {
    if (projects === undefined) return (this.db.prepare('SELECT * FROM jobs ORDER BY seq DESC LIMIT ?').all(limit) as Row[]).map(toRecord);
    if (projects.length === 0) return [];
    const marks = projects.map(() => '?').join(', ');
    // The projects' studies first (by project), then their jobs by study: never a walk of every job.
    const sql = `SELECT j.* FROM (SELECT DISTINCT study_uid FROM study_projects WHERE project IN (${marks})) p
                 JOIN jobs j INDEXED BY jobs_study ON j.study_uid = p.study_uid ORDER BY j.seq DESC LIMIT ?`;
    return (this.db.prepare(sql).all(...projects, limit) as Row[]).map(toRecord);
  }

  async forSeries(study: string, series: string): Promise<JobRecord[]> {
    return (this.db.prepare('SELECT * FROM jobs WHERE study_uid = ? AND series_uid = ? ORDER BY seq').all(study, series) as Row[]).map(toRecord);
  }

  async claimNext(node: string, leaseMs: number): Promise<JobRecord | undefined> {
    // One statement, so one write lock: another process cannot take the same job in between.
    const row = this.db
      .prepare(
        `UPDATE jobs SET state = 'running', progress = 0, attempts = attempts + 1, started_at = ?, node = ?, lease_until = ?
         WHERE id = (SELECT id FROM jobs WHERE state = 'queued' ORDER BY seq LIMIT 1) RETURNING *`,
      )
      .get(new Date().toISOString(), node, Date.now() + leaseMs) as Row | undefined;
    return row && toRecord(row);
  }

  async claim(id: string, node: string, leaseMs: number): Promise<JobRecord | undefined> {
    const changed = this.db
      .prepare(
        `UPDATE jobs SET state = 'running', progress = 0, attempts = attempts + 1, started_at = ?, node = ?, lease_until = ?
         WHERE id = ? AND state = 'queued'`,
      )
      .run(new Date().toISOString(), node, Date.now() + leaseMs, id).changes;
    return changed ? this.read(id) : undefined;
  }

  async renew(node: string, ids: readonly string[], leaseMs: number): Promise<string[]> {
    const extend = this.db.prepare(`UPDATE jobs SET lease_until = ? WHERE id = ? AND state = 'running' AND node = ?`);
    const until = Date.now() + leaseMs;
    return this.db.transaction(() => ids.filter((id) => extend.run(until, id, node).changes === 0))();
  }

  async update(id: string, node: string, changes: JobChanges): Promise<boolean> {
    const sets: string[] = [];
    const values: (string | number | null)[] = [];
    if (changes.state !== undefined) sets.push('state = ?', 'node = NULL', 'lease_until = NULL'), values.push(changes.state);
    if (changes.progress !== undefined) (sets.push('progress = ?'), values.push(Math.round(changes.progress)));
    if (changes.error !== undefined) (sets.push('error = ?'), values.push(changes.error));
    if (changes.result !== undefined) (sets.push('result = ?'), values.push(JSON.stringify(changes.result)));
    if (changes.finishedAt !== undefined) (sets.push('finished_at = ?'), values.push(changes.finishedAt));
    if (!sets.length) return this.read(id)?.node === node;
    return this.db.prepare(`UPDATE jobs SET ${sets.join(', ')} WHERE id = ? AND state = 'running' AND node = ?`).run(...values, id, node).changes > 0;
  }

  async cancel(id: string): Promise<JobRecord | undefined> {
    this.db
      .prepare(`UPDATE jobs SET state = 'cancelled', finished_at = ?, node = NULL, lease_until = NULL WHERE id = ? AND state IN ('queued', 'running')`)
      .run(new Date().toISOString(), id);
    return this.read(id);
  }

  async recoverExpired(maxAttempts: number, restartedNode?: string): Promise<{ requeued: number; failed: number }> {
    const lost = `state = 'running' AND (lease_until IS NULL OR lease_until < ? OR node = ?)`;
    const now = Date.now();
    return this.db.transaction(() => {
      const failed = this.db
        .prepare(`UPDATE jobs SET state = 'failed', error = 'interrupted too many times', finished_at = ?, node = NULL, lease_until = NULL WHERE ${lost} AND attempts >= ?`)
        .run(new Date().toISOString(), now, restartedNode ?? null, maxAttempts).changes;
      const requeued = this.db.prepare(`UPDATE jobs SET state = 'queued', progress = 0, node = NULL, lease_until = NULL WHERE ${lost}`).run(now, restartedNode ?? null).changes;
      return { requeued, failed };
    })();
  }
}
