/**
 * Durable job records: the queue lives in a database (the index's SQLite file by default, or
 * PostgreSQL shared by several gateway nodes), so a restart or another node finds it.
 *
 * A job is claimed by one node at a time, under a lease the node renews while it runs the job:
 * a node that dies stops renewing, and once the lease has run out any node queues the job again
 * (recoverExpired). A cancel is a state change in the store; the node running the job sees it at
 * its next renewal and stops the job's thread.
 */
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
  result?: {
    series: { seriesInstanceUID: string; kind: 'image' | 'segmentation'; instances: number }[];
    /** A registration's final elastix transform parameter map. */
    transform?: Record<string, string[]>;
  };
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  /** The node holding the job while it runs (unset when queued or finished). */
  node?: string;
}

export type NewJob = Pick<JobRecord, 'id' | 'op' | 'study' | 'series' | 'params' | 'client'> & {
  /**
   * A key no other job may share (a rule's job on one series): creating a second job with it is a
   * no-op that returns undefined, so a rule fires once in a cluster, whichever nodes judge it.
   */
  onceKey?: string;
};

export type JobChanges = Partial<Pick<JobRecord, 'progress' | 'error' | 'result' | 'finishedAt'>> & { state?: 'done' | 'failed' };

export interface JobStore {
  /** A new queued job, or undefined when its onceKey is taken already. */
  create(job: NewJob): Promise<JobRecord | undefined>;
  /** Jobs of one client that are queued or running. */
  activeFor(client: string): Promise<number>;
  /** How many jobs are in each state (for /metrics). */
  countByState(): Promise<Record<JobState, number>>;
  get(id: string): Promise<JobRecord | undefined>;
  /** The newest jobs; only those on studies of `projects` when given. */
  list(limit: number, projects?: readonly string[]): Promise<JobRecord[]>;
  /** Jobs on one series, any state. */
  forSeries(study: string, series: string): Promise<JobRecord[]>;
  /** Take the oldest queued job for `node` and mark it running under a lease of leaseMs, atomically across nodes. */
  claimNext(node: string, leaseMs: number): Promise<JobRecord | undefined>;
  /** Take one queued job, as claimNext() would (the command line runs its own job). */
  claim(id: string, node: string, leaseMs: number): Promise<JobRecord | undefined>;
  /**
   * Extend the leases of jobs `node` runs; returns the ids among them it no longer holds
   * (cancelled, or taken back after its lease ran out): the node stops those.
   */
  renew(node: string, ids: readonly string[], leaseMs: number): Promise<string[]>;
  /** Record progress or the outcome of a job `node` holds; false (and nothing changed) when it no longer holds it. */
  update(id: string, node: string, changes: JobChanges): Promise<boolean>;
  /** Cancel a queued or running job; the record as it is afterwards. */
  cancel(id: string): Promise<JobRecord | undefined>;
  /**
   * Jobs whose lease ran out (their node stopped or died), and jobs `restartedNode` held before it
   * restarted: queue them again, or fail them once tried maxAttempts times.
   */
  recoverExpired(maxAttempts: number, restartedNode?: string): Promise<{ requeued: number; failed: number }>;
}
