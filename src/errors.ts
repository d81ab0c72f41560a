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
  | 'unprocessable';

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
  'out-of-resources': 507,
  refused: 409,
  'bad-request': 400,
  'not-found': 404,
  'not-acceptable': 406,
  'unsupported-media-type': 415,
  'payload-too-large': 413,
  unprocessable: 422,
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
};

/** Warning statuses (PS3.4 Table B.2-1). */
export const DicomWarning = {
  CoercionOfDataElements: 0xb000,
  ElementsDiscarded: 0xb006,
  DataSetDoesNotMatchSopClass: 0xb007,
} as const;

export function httpStatusOf(err: unknown): number {
  return err instanceof VeilgateError ? HTTP_STATUS[err.kind] : 500;
}

export function dicomStatusOf(err: unknown): number {
  if (err instanceof VeilgateError) return DICOM_STATUS[err.kind] ?? 0xc000;
  if (isOutOfResources(err)) return 0xa700;
  return 0x0110; // processing failure
}

/** Disk full or too many open files: the sender should retry later. */
export function isOutOfResources(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT' || code === 'EMFILE' || code === 'ENFILE' || code === 'ENOMEM';
}

export function messageOf(err: unknown): string {
  if (err instanceof VeilgateError) return err.message;
  if (isOutOfResources(err)) return 'out of resources: storage is full or unavailable';
  return 'internal error';
}
