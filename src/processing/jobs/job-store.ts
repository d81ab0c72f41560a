/** Durable job records: the queue lives in the index database, so a restart finds it. */
export type JobState = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

export interface JobRecord {
  id: string;
  op: string;
  study: string;
  series: string;
  params: Record<string, unknown>;
  /** Who queued it (client address, or 'rule' and 'cli'): jobs per client are bounded. */
  client?: string;
  state: JobState;
  progress: number;
  attempts: number;
  error?: string;
  /** What the job made: the new series and instances. */
  result?: { series: { seriesInstanceUID: string; kind: 'image' | 'segmentation'; instances: number }[] };
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
}

export interface JobStore {
  create(job: Pick<JobRecord, 'id' | 'op' | 'study' | 'series' | 'params' | 'client'>): JobRecord;
  /** Jobs of one client that are queued or running. */
  activeFor(client: string): number;
  /** How many jobs are in each state (for /metrics). */
  countByState(): Record<JobState, number>;
  get(id: string): JobRecord | undefined;
  /** The newest jobs; only those on studies of `projects` when given. */
  list(limit: number, projects?: readonly string[]): JobRecord[];
  /** Jobs on one series, any state. */
  forSeries(study: string, series: string): JobRecord[];
  /** Take the oldest queued job and mark it running, atomically. */
  claimNext(): JobRecord | undefined;
  /** Take one queued job and mark it running, atomically (the command line runs its own job). */
  claim(id: string): JobRecord | undefined;
  update(id: string, changes: Partial<Pick<JobRecord, 'state' | 'progress' | 'error' | 'result' | 'finishedAt'>>): void;
  /** After a restart: jobs left running were interrupted; queue them again or fail them. */
  recoverInterrupted(maxAttempts: number): { requeued: number; failed: number };
}
