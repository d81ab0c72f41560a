/** A job's row as both job stores keep it (the same column names), and the record it stands for. */
import type { JobRecord, JobState } from './job-store';

export interface JobRow {
  id: string;
  op: string;
  study_uid: string;
  series_uid: string;
  params: string;
  client: string | null;
  state: JobState;
  progress: number;
  attempts: number;
  error: string | null;
  result: string | null;
  node: string | null;
  /** ISO text (SQLite) or a timestamp (PostgreSQL). */
  created_at: string | Date;
  started_at: string | Date | null;
  finished_at: string | Date | null;
}

const iso = (t: string | Date | null): string | undefined => (t === null ? undefined : typeof t === 'string' ? t : t.toISOString());

export function toJobRecord(r: JobRow): JobRecord {
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
    createdAt: iso(r.created_at)!,
    startedAt: iso(r.started_at),
    finishedAt: iso(r.finished_at),
    node: r.node ?? undefined,
  };
}
