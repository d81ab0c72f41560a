/**
 * Every failure the gateway reports is a VeilgateError of one kind; this file alone
 * maps a kind to its HTTP status and its DICOM status (STOW-RS FailureReason, PS3.18
 * Table 10.5.3-3, and C-STORE status, PS3.4 Annex B).
 */
export type FailureKind =
  | 'cannot-understand'
  | 'sop-class-mismatch'
  | 'study-mismatch'
  | 'unsupported-transfer-syntax'
  | 'out-of-resources'
  | 'refused'
  | 'bad-request'
  | 'not-found'
  | 'not-acceptable'
  | 'unsupported-media-type'
  | 'payload-too-large'
  | 'unprocessable'
  /** Our own saturation: heavy work at its concurrency limit. The client should retry. */
  | 'busy'
  /** A SOP Instance UID already stored with other content. */
  | 'duplicate-conflict'
  /** Our own unexpected failure (a bug), not the sender's: DICOM 0x0110. */
  | 'processing-failure'
  /** One client over its own share (queued jobs): 429 with Retry-After. */
  | 'too-many-requests'
  /** No credential, or one that does not verify: 401. */
  | 'unauthenticated'
  /** A credential without the role, or a source adding to another project's study: 403 / DICOM 0x0124. */
  | 'forbidden';

export class VeilgateError extends Error {
  constructor(
    readonly kind: FailureKind,
    message: string,
  ) {
    super(message);
    this.name = 'VeilgateError';
  }
}

const HTTP_STATUS: Record<FailureKind, number> = {
  'cannot-understand': 400,
  'sop-class-mismatch': 400,
  'study-mismatch': 409,
  'unsupported-transfer-syntax': 400,
  'out-of-resources': 503,
  refused: 409,
  'bad-request': 400,
  'not-found': 404,
  'not-acceptable': 406,
  'unsupported-media-type': 415,
  'payload-too-large': 413,
  unprocessable: 422,
  busy: 503,
  'duplicate-conflict': 409,
  'processing-failure': 500,
  'too-many-requests': 429,
  unauthenticated: 401,
  forbidden: 403,
};

/** DICOM status codes: Failure reasons for storage, one per kind that storage can hit. */
const DICOM_STATUS: Partial<Record<FailureKind, number>> = {
  'cannot-understand': 0xc000,
  'sop-class-mismatch': 0xa900,
  'study-mismatch': 0xc409,
  'unsupported-transfer-syntax': 0xc122,
  'out-of-resources': 0xa700,
  refused: 0xc000,
  'payload-too-large': 0xa700,
  busy: 0xa700,
  'duplicate-conflict': 0x0111, // PS3.7 C.5.8: Duplicate SOP Instance
  'processing-failure': 0x0110, // PS3.7 C.5.7: Processing Failure
  forbidden: 0x0124, // PS3.7 C.5: Refused, Not Authorized
};

/** Seconds a client is asked to wait before retrying after our own failure (disk, saturation). */
export const RETRY_AFTER_SECONDS = 5;

/** Whether the failure is ours, not the sender's: it should retry later (A700, 503 with Retry-After). */
export function isOurFault(err: unknown): boolean {
  return err instanceof VeilgateError ? err.kind === 'out-of-resources' || err.kind === 'busy' : isOutOfResources(err);
}

/** Warning statuses (PS3.4 Table B.2-1). */
export const DicomWarning = {
  CoercionOfDataElements: 0xb000,
  ElementsDiscarded: 0xb006,
  DataSetDoesNotMatchSopClass: 0xb007,
} as const;

export function httpStatusOf(err: unknown): number {
  if (err instanceof VeilgateError) return HTTP_STATUS[err.kind];
  return isOutOfResources(err) ? 503 : 500;
}

export function dicomStatusOf(err: unknown): number {
  if (err instanceof VeilgateError) return DICOM_STATUS[err.kind] ?? 0xc000;
  if (isOutOfResources(err)) return 0xa700;
  return 0x0110; // processing failure
}

/** SQLite's codes for a full or failing disk (better-sqlite3 puts them in `code`). */
const SQLITE_RESOURCE_CODES = /^SQLITE_(FULL|IOERR|CANTOPEN|NOMEM|BUSY|LOCKED|READONLY)/;

/** Disk full, out of descriptors or memory, or the database unable to write: the sender should retry later. */
export function isOutOfResources(err: unknown): boolean {
  const code = String((err as NodeJS.ErrnoException | undefined)?.code ?? '');
  return ['ENOSPC', 'EDQUOT', 'EMFILE', 'ENFILE', 'ENOMEM', 'EIO', 'EROFS'].includes(code) || SQLITE_RESOURCE_CODES.test(code);
}

export function messageOf(err: unknown): string {
  if (err instanceof VeilgateError) return err.message;
  if (isOutOfResources(err)) return 'out of resources: storage is full or unavailable';
  return 'internal error';
}
