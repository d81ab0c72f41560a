/**
 * Every size and count a client can declare, bounded before it costs memory or CPU, and the
 * concurrency of heavy work. One set, in the config file (`limits`), with environment
 * variables for the common ones; each refusal names the limit it hit.
 */
import os from 'node:os';
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

export interface Concurrency {
  /** Rendered images and thumbnails at once. */
  render: number;
  /** Instances transcoded on retrieve at once. */
  transcode: number;
  /** Frames decoded on request at once. */
  decode: number;
  /** Zip downloads at once. */
  zip: number;
  /** Series ⇄ NIfTI conversions and NIfTI posts at once. */
  nifti: number;
  /** How long a request may wait for a free slot before it is answered 503 with Retry-After. */
  queueWaitMs: number;
}

export interface Limits {
  /** Decoded pixel bytes an instance may declare (Rows × Columns × Samples × Bits × Frames). */
  maxDecodedPixelBytes: number;
  /** NumberOfFrames an instance may declare. */
  maxFrames: number;
  /** Sequence nesting depth of any data set (instances, C-FIND identifiers), checked while parsing. */
  maxNestingDepth: number;
  /** Size of a C-FIND, C-MOVE or C-GET identifier, checked before it is parsed. */
  maxIdentifierBytes: number;
  /** Decoded or transcoded bytes one response may produce. */
  maxResponseDecodedBytes: number;
  /** Frames one frames request may name, after duplicates are folded. */
  maxFramesPerRequest: number;
  /** Pixels of an image that may be rendered (rows × columns). */
  maxRenderPixels: number;
  /** Inflated size of a posted NIfTI volume. */
  maxNiftiBytes: number;
  /** Voxels a processing job may produce. */
  maxJobOutputVoxels: number;
  /** Jobs one client may have queued or running at once. */
  maxQueuedJobsPerClient: number;
  /** HTTP: the request headers must arrive within this. */
  httpHeadersTimeoutSeconds: number;
  /** HTTP: a connection silent for this long (mid-body included) is closed. */
  httpIdleTimeoutSeconds: number;
  /** HTTP: connections open at once; more are refused. */
  httpMaxConnections: number;
  /** Connections one client address may hold (trusted proxies excepted): one client cannot take them all. */
  httpMaxConnectionsPerClient: number;
  /** Readiness (GET /health) fails below this much free space in the data directory. */
  minFreeDiskBytes: number;
  /** Worker threads for request work (parsing, de-identifying, decoding, rendering, volumes): one per core. */
  workerThreads: number;
  concurrency: Concurrency;
}

export const DEFAULT_LIMITS: Limits = {
  maxDecodedPixelBytes: 4 * GiB,
  maxFrames: 200_000,
  maxNestingDepth: 32,
  maxIdentifierBytes: 1 * MiB,
  maxResponseDecodedBytes: 1 * GiB,
  maxFramesPerRequest: 2_000,
  maxRenderPixels: 64 * 1024 * 1024,
  maxNiftiBytes: 2 * GiB - 1,
  maxJobOutputVoxels: 2 ** 26, // 64 Mi voxels: 256 MB as float32, the size a job holds several times over
  maxQueuedJobsPerClient: 8,
  httpHeadersTimeoutSeconds: 30,
  httpIdleTimeoutSeconds: 60,
  httpMaxConnections: 512,
  httpMaxConnectionsPerClient: 64,
  minFreeDiskBytes: 512 * MiB,
  workerThreads: Math.max(1, os.availableParallelism()),
  concurrency: { render: 4, transcode: 2, decode: 4, zip: 4, nifti: 2, queueWaitMs: 2000 },
};

/** Environment variables for the limits an administrator most often changes. */
export const LIMIT_ENV: Record<string, keyof Omit<Limits, 'concurrency'>> = {
  MAX_DECODED_PIXEL_BYTES: 'maxDecodedPixelBytes',
  MAX_FRAMES: 'maxFrames',
  MAX_NESTING_DEPTH: 'maxNestingDepth',
  MAX_IDENTIFIER_BYTES: 'maxIdentifierBytes',
  MAX_RESPONSE_DECODED_BYTES: 'maxResponseDecodedBytes',
  MAX_NIFTI_BYTES: 'maxNiftiBytes',
  MAX_JOB_OUTPUT_VOXELS: 'maxJobOutputVoxels',
  HTTP_IDLE_TIMEOUT: 'httpIdleTimeoutSeconds',
  HTTP_MAX_CONNECTIONS: 'httpMaxConnections',
  HTTP_MAX_CONNECTIONS_PER_CLIENT: 'httpMaxConnectionsPerClient',
  WORKER_THREADS: 'workerThreads',
};

function positive(name: string, v: unknown): number {
  const n = typeof v === 'string' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1) throw new Error(`configuration: limits.${name} must be a positive integer`);
  return n;
}

/** Limits from the defaults, the config file's `limits` and the environment; a mistake is a configuration error. */
export function loadLimits(file: unknown, env: NodeJS.ProcessEnv): Limits {
  if (file !== undefined && (typeof file !== 'object' || file === null || Array.isArray(file))) throw new Error('configuration: limits must be an object');
  const given = (file ?? {}) as Partial<Limits>;
  const out: Limits = { ...DEFAULT_LIMITS, concurrency: { ...DEFAULT_LIMITS.concurrency } };
  for (const [key, value] of Object.entries(given)) {
    if (key === 'concurrency') continue;
    if (!(key in DEFAULT_LIMITS)) throw new Error(`configuration: limits.${key} is not a limit`);
    (out as unknown as Record<string, number>)[key] = positive(key, value);
  }
  for (const [key, value] of Object.entries(given.concurrency ?? {})) {
    if (!(key in DEFAULT_LIMITS.concurrency)) throw new Error(`configuration: limits.concurrency.${key} is not a limit`);
    (out.concurrency as unknown as Record<string, number>)[key] = positive(`concurrency.${key}`, value);
  }
  for (const [name, key] of Object.entries(LIMIT_ENV)) if (env[name]) out[key] = positive(key, env[name]);
  return out;
}
