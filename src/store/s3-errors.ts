/**
 * What an S3 or network failure means to Veilgate. A store we cannot reach, one that throttles
 * us, one that is full or one that refuses our credentials is our own failure, never the
 * sender's: 'out-of-resources', so ingest answers A700 / HTTP 503 and the sender retries. A key
 * the index points at but the store lacks is an internal inconsistency, 'processing-failure'
 * (500 / 0x0110), the statuses a missing file gets from the file-system store.
 *
 * Messages name the operation and the S3 or socket error code only: SDK messages can carry the
 * endpoint, bucket paths or request ids, and a message may reach a client.
 */
import { VeilgateError } from '../errors';

export type StoreOperation = 'write' | 'read' | 'check' | 'delete' | 'list' | 'quarantine';

const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN', 'EPROTO', 'ERR_SOCKET_CONNECTION_TIMEOUT']);
const UNREACHABLE_NAMES = new Set(['TimeoutError', 'RequestTimeout', 'RequestTimeoutException', 'NetworkingError']);
const THROTTLED = new Set(['SlowDown', 'Throttling', 'ThrottlingException', 'TooManyRequests', 'TooManyRequestsException', 'RequestLimitExceeded', 'ServiceUnavailable', 'InternalError', 'OperationAborted']);
/** MinIO, Ceph and others report a full disk or an exhausted quota with their own codes. */
const FULL = new Set(['XMinioStorageFull', 'XMinioAdminBucketQuotaExceeded', 'QuotaExceeded', 'StorageFull', 'InsufficientStorage', 'XMinioDiskFull']);
const REFUSED_CREDENTIALS = new Set(['AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'ExpiredToken', 'InvalidToken', 'TokenRefreshRequired', 'AccountProblem', 'AllAccessDisabled', 'RequestTimeTooSkewed']);
const MISSING_KEY = new Set(['NoSuchKey', 'NotFound']);

/** The fields of an SDK or socket error this mapping reads. */
interface FailureShape {
  name?: unknown;
  code?: unknown;
  Code?: unknown;
  errors?: unknown;
  $metadata?: { httpStatusCode?: number };
}

/** The S3 error code (SDK errors are named after it) or the socket error code, if it is a plain word. */
function codeOf(err: unknown): string {
  const e = (err ?? {}) as FailureShape;
  // Node's happy-eyeballs connect gives an AggregateError whose members carry the code.
  const first = Array.isArray(e.errors) ? ((e.errors[0] ?? {}) as FailureShape) : undefined;
  for (const candidate of [e.code, e.Code, first?.code, e.name]) {
    if (typeof candidate === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(candidate) && candidate !== 'Error' && candidate !== 'AggregateError') return candidate;
  }
  // The SDK's retry layer turns a thrown value that is not `instanceof Error` (a socket error from
  // another realm, as under jest's vm sandbox) into "AWS SDK error wrapper for Error: connect
  // ECONNREFUSED 127.0.0.1:9000", keeping the code only in the text.
  const wrapped = /^AWS SDK error wrapper for .*?\b(E[A-Z]{3,}|ERR_[A-Z_]+)\b/.exec(String((err as Error | undefined)?.message ?? ''));
  if (wrapped && UNREACHABLE_CODES.has(wrapped[1])) return wrapped[1];
  return 'unknown';
}

function statusOf(err: unknown): number | undefined {
  return ((err ?? {}) as FailureShape).$metadata?.httpStatusCode;
}

/** The key (not the bucket) is absent: 404 on GET, HEAD, COPY. A HEAD cannot tell the two apart. */
export function isMissingKey(err: unknown): boolean {
  const code = codeOf(err);
  return MISSING_KEY.has(((err ?? {}) as FailureShape).name as string) || MISSING_KEY.has(code) || (statusOf(err) === 404 && code !== 'NoSuchBucket');
}

export function isAbort(err: unknown): boolean {
  return ((err ?? {}) as FailureShape).name === 'AbortError';
}

/** The error to throw for a failed S3 call: typed, with a message safe to show. */
export function storeFailure(err: unknown, operation: StoreOperation): Error {
  if (err instanceof VeilgateError || isAbort(err)) return err as Error;
  const code = codeOf(err);
  const status = statusOf(err);
  const what = `${operation} a blob`;
  if (code === 'InvalidRange' || status === 416) return new Error('stored file is shorter than its index says');
  if (isMissingKey(err)) return new VeilgateError('processing-failure', `the blob to ${what} is not in the object store`);
  if (code === 'EntityTooLarge') return new VeilgateError('payload-too-large', `the object store refused an object this large (${code})`);
  if (code === 'NoSuchBucket') return new VeilgateError('out-of-resources', `the object store bucket does not exist (${code}); could not ${what}`);
  if (FULL.has(code) || status === 507) return new VeilgateError('out-of-resources', `the object store is full (${code}); could not ${what}`);
  if (code === 'CredentialsProviderError') {
    return new VeilgateError('out-of-resources', `no credentials for the object store (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE); could not ${what}`);
  }
  if (REFUSED_CREDENTIALS.has(code) || status === 401 || status === 403) {
    return new VeilgateError('out-of-resources', `the object store refused our credentials or access (${code}); could not ${what}`);
  }
  if (THROTTLED.has(code) || status === 429 || (status !== undefined && status >= 500)) {
    return new VeilgateError('out-of-resources', `the object store is busy or unavailable (${code}); could not ${what}`);
  }
  if (UNREACHABLE_CODES.has(code) || UNREACHABLE_NAMES.has(code) || UNREACHABLE_NAMES.has(String(((err ?? {}) as FailureShape).name))) {
    return new VeilgateError('out-of-resources', `the object store could not be reached (${code}); could not ${what}`);
  }
  // Any other answer from the store (a 4xx we did not expect) is a bug or a misconfiguration on
  // our side; an error without an answer is a bug in this process, kept as it is for its stack.
  if (status !== undefined) return new VeilgateError('processing-failure', `the object store refused to ${what} (${code}, HTTP ${status})`);
  return err instanceof Error ? err : new Error(`could not ${what}`);
}
