/**
 * The job queue on PostgreSQL, shared by the nodes of a cluster (table jobs, db/postgres/001).
 *
 * A job is claimed with SELECT ... FOR UPDATE SKIP LOCKED inside the claiming UPDATE: two nodes
 * claiming at once lock different rows, and a row another claim changed first is re-checked
 * (state = 'queued') and passed over, so no job is ever claimed twice. Leases are reckoned by the
 * database's clock (now()), never a node's, so nodes with skewed clocks agree on who holds what.
 * Every change a running job's node makes is conditional on it still holding the job: a job
 * cancelled or taken back elsewhere stays so.
 */
import type { JobChanges, JobRecord, JobState, JobStore, NewJob } from '../../processing/jobs/job-store';
import type { Param, PgDatabase } from './database';
import { JobRow, toJobRecord } from '../../processing/jobs/job-row';

const COLUMNS = 'id, op, study_uid, series_uid, params, client, state, progress, attempts, error, result, node, created_at, started_at, finished_at';

type Row = JobRow;
const toRecord = toJobRecord;

/** The claim itself: running for `node` under a lease from now, one attempt more. */
const CLAIM_SET = `state = 'running', node = $1, lease_expires_at = now() + $2 * interval '1 millisecond',
  attempts = attempts + 1, progress = 0, started_at = now()`;

/** What recoverExpired says of a job that ran out of attempts. */
export const TOO_MANY_INTERRUPTIONS = 'interrupted too many times';

export class PostgresJobStore implements JobStore {
  constructor(private readonly db: PgDatabase) {}

  private async rows(sql: string, values: Param[]): Promise<JobRecord[]> {
    return (await this.db.query<Row>(sql, values)).rows.map(toRecord);
  }

  async create(job: NewJob): Promise<JobRecord | undefined> {
    const [created] = await this.rows(
      `INSERT INTO jobs (id, op, study_uid, series_uid, params, client, once_key, state)
       VALUES ($1, $2, $3, $4, $5, $6, $7, 'queued')
       ON CONFLICT (once_key) WHERE once_key IS NOT NULL DO NOTHING
       RETURNING ${COLUMNS}`,
      [job.id, job.op, job.study, job.series, JSON.stringify(job.params), job.client ?? null, job.onceKey ?? null],
    );
    return created;
  }

  async activeFor(client: string): Promise<number> {
    const r = await this.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM jobs WHERE client = $1 AND state IN ('queued', 'running')`, [client]);
    return r.rows[0].n;
  }

  async countByState(): Promise<Record<JobState, number>> {
    const out: Record<JobState, number> = { queued: 0, running: 0, done: 0, failed: 0, cancelled: 0 };
    const r = await this.db.query<{ state: JobState; n: number }>('SELECT state, count(*)::int AS n FROM jobs GROUP BY state');
    for (const row of r.rows) out[row.state] = row.n;
    return out;
  }

  async get(id: string): Promise<JobRecord | undefined> {
    return (await this.rows(`SELECT ${COLUMNS} FROM jobs WHERE id = $1`, [id]))[0];
  }

  async list(limit: number, projects?: readonly string[]): Promise<JobRecord[]> {
    if (projects === undefined) return this.rows(`SELECT ${COLUMNS} FROM jobs ORDER BY seq DESC LIMIT $1`, [limit]);
    if (projects.length === 0) return [];
    // Newest first by the seq index, each job's study checked by study_projects' primary key
    // (or, for a small project, its studies by study_projects_by_project: the planner chooses).
    return this.rows(
      `SELECT ${COLUMNS} FROM jobs j
       WHERE EXISTS (SELECT 1 FROM study_projects sp WHERE sp.study_uid = j.study_uid AND sp.project = ANY($1))
       ORDER BY seq DESC LIMIT $2`,
      [projects, limit],
    );
  }

  async forSeries(study: string, series: string): Promise<JobRecord[]> {
    return this.rows(`SELECT ${COLUMNS} FROM jobs WHERE study_uid = $1 AND series_uid = $2 ORDER BY seq`, [study, series]);
  }

  async claimNext(node: string, leaseMs: number): Promise<JobRecord | undefined> {
    const [claimed] = await this.rows(
      `UPDATE jobs SET ${CLAIM_SET}
       WHERE id = (SELECT id FROM jobs WHERE state = 'queued' ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED)
       RETURNING ${COLUMNS}`,
      [node, leaseMs],
    );
    return claimed;
  }

  async claim(id: string, node: string, leaseMs: number): Promise<JobRecord | undefined> {
    const [claimed] = await this.rows(`UPDATE jobs SET ${CLAIM_SET} WHERE id = $3 AND state = 'queued' RETURNING ${COLUMNS}`, [node, leaseMs, id]);
    return claimed;
  }

  async renew(node: string, ids: readonly string[], leaseMs: number): Promise<string[]> {
    if (!ids.length) return [];
    const r = await this.db.query<{ id: string }>(
      `UPDATE jobs SET lease_expires_at = now() + $2 * interval '1 millisecond'
       WHERE id = ANY($3) AND node = $1 AND state = 'running' RETURNING id`,
      [node, leaseMs, ids],
    );
    const held = new Set(r.rows.map((x) => x.id));
    return ids.filter((id) => !held.has(id));
  }

  async update(id: string, node: string, changes: JobChanges): Promise<boolean> {
    const values: Param[] = [id, node];
    const sets: string[] = [];
    const set = (column: string, value: Param) => sets.push(`${column} = $${values.push(value)}`);
    if (changes.progress !== undefined) set('progress', Math.round(changes.progress));
    if (changes.error !== undefined) set('error', changes.error);
    if (changes.result !== undefined) set('result', JSON.stringify(changes.result));
    if (changes.finishedAt !== undefined) set('finished_at', changes.finishedAt);
    if (changes.state !== undefined) {
      set('state', changes.state);
      // A finished job is held by no node any more.
      sets.push('node = NULL', 'lease_expires_at = NULL');
    }
    // Nothing to change still answers whether the node holds the job.
    if (!sets.length) sets.push('id = id');
    const r = await this.db.query(`UPDATE jobs SET ${sets.join(', ')} WHERE id = $1 AND node = $2 AND state = 'running'`, values);
    return r.rowCount > 0;
  }

  async cancel(id: string): Promise<JobRecord | undefined> {
    const [cancelled] = await this.rows(
      `UPDATE jobs SET state = 'cancelled', finished_at = now(), node = NULL, lease_expires_at = NULL
       WHERE id = $1 AND state IN ('queued', 'running') RETURNING ${COLUMNS}`,
      [id],
    );
    return cancelled ?? this.get(id);
  }

  async recoverExpired(maxAttempts: number, restartedNode?: string): Promise<{ requeued: number; failed: number }> {
    // Rows another statement holds (a renewal in flight) are passed over: their node is alive.
    // A running job without a lease has no holder that could renew it: recovered as well.
    const r = await this.db.query<{ requeued: number; failed: number }>(
      `WITH lost AS (
         SELECT id FROM jobs WHERE state = 'running' AND (lease_expires_at IS NULL OR lease_expires_at < now() OR node = $2) FOR UPDATE SKIP LOCKED
       ), changed AS (
         UPDATE jobs j SET
           state = CASE WHEN j.attempts >= $1 THEN 'failed' ELSE 'queued' END,
           error = CASE WHEN j.attempts >= $1 THEN $3 ELSE j.error END,
           finished_at = CASE WHEN j.attempts >= $1 THEN now() END,
           progress = CASE WHEN j.attempts >= $1 THEN j.progress ELSE 0 END,
           node = NULL, lease_expires_at = NULL
         FROM lost WHERE j.id = lost.id RETURNING j.state
       )
       SELECT count(*) FILTER (WHERE state = 'queued')::int AS requeued, count(*) FILTER (WHERE state = 'failed')::int AS failed FROM changed`,
      [maxAttempts, restartedNode ?? null, TOO_MANY_INTERRUPTIONS],
    );
    return r.rows[0];
  }
}
