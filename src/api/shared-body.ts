/**
 * A whole request body read into shared memory chunk by chunk, for work a worker thread does
 * on it (a posted NIfTI volume). Each chunk is copied once as it arrives, so no single step
 * copies the whole body on the main thread, and the worker reads the result without a copy.
 */
import type { Request } from 'express';
import { VeilgateError } from '../errors';

const FIRST_CAPACITY = 1024 * 1024;
const MAX_UP_FRONT = 64 * 1024 * 1024;

export async function readBodyShared(req: Request, limit: number, what: string): Promise<Uint8Array> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw new VeilgateError('payload-too-large', `${what} is larger than the ${limit}-byte limit`);
  // A declared length is allocated at once, up to a bound (a length is only a claim until the
  // bytes arrive); past it the buffer doubles, each doubling copying once.
  let buffer = new Uint8Array(new SharedArrayBuffer(Number.isFinite(declared) && declared > 0 ? Math.min(declared, MAX_UP_FRONT) : FIRST_CAPACITY));
  let size = 0;
  for await (const chunk of req) {
    const bytes = chunk as Buffer;
    if (size + bytes.length > limit) throw new VeilgateError('payload-too-large', `${what} is larger than the ${limit}-byte limit`);
    if (size + bytes.length > buffer.length) {
      const grown = new Uint8Array(new SharedArrayBuffer(Math.min(limit, Math.max(buffer.length * 2, size + bytes.length))));
      grown.set(buffer.subarray(0, size));
      buffer = grown;
    }
    buffer.set(bytes, size);
    size += bytes.length;
  }
  return buffer.subarray(0, size);
}
