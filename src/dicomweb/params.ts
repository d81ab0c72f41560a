/** Path parameters: every UID is checked before it reaches the index or a file path. */
import { isSafeUid } from '../dicom/uid';
import { VeilgateError } from '../errors';

export function requireUid(value: unknown, what: string): string {
  if (typeof value !== 'string' || !isSafeUid(value)) throw new VeilgateError('bad-request', `${what} UID is not a valid UID`);
  return value;
}
