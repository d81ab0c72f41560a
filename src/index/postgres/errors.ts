/**
 * PostgreSQL failures that are ours, not the sender's: the database unreachable, restarting, out
 * of connections, disk or memory, or too slow. They become VeilgateError('out-of-resources'), so
 * ingest answers A700 / 503 with Retry-After (src/errors.ts) rather than blaming the data set.
 */
import { VeilgateError } from '../../errors';

/** SQLSTATE classes and codes (PostgreSQL appendix A) that mean the database cannot serve now. */
const UNAVAILABLE_SQLSTATE = /^(08|53|58|28|3D000|57P0[1-4]|57014|55P03|25006)/;
/** Socket-level failures reaching the server. */
const UNAVAILABLE_ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE']);
/** What pg says, without a code, when a connection drops or cannot be had from the pool in time. */
const UNAVAILABLE_MESSAGE = /Connection terminated|timeout exceeded when trying to connect|not queryable|Connection ended|Cannot use a pool after calling end/i;

export function isUnavailable(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | undefined;
  const code = typeof e?.code === 'string' ? e.code : '';
  if (UNAVAILABLE_ERRNO.has(code) || (/^[0-9A-Z]{5}$/.test(code) && UNAVAILABLE_SQLSTATE.test(code))) return true;
  return !code && typeof e?.message === 'string' && UNAVAILABLE_MESSAGE.test(e.message);
}

/** Deadlocks and serialization failures: the transaction may simply be run again. */
export function isRetryable(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  return code === '40P01' || code === '40001';
}

/**
 * The error callers see. pg's messages name the host and user at most, never the password; the
 * URL is not added here (the caller logs the redacted one where it helps).
 */
export function mapPgError(err: unknown): unknown {
  if (err instanceof VeilgateError || !isUnavailable(err)) return err;
  const e = err as { code?: string; message?: string };
  return new VeilgateError('out-of-resources', `the index database is unavailable (${e.code ?? 'connection'}: ${e.message ?? 'no reason given'})`);
}
