/**
 * Writes that either write every byte or throw. write(2) and writev(2) may write less than
 * asked and still succeed (a disk filling up mid-write is the common case); libuv then reports
 * the bytes that made it and no error, so a caller that does not count them keeps a short
 * file that looks complete. These helpers go on with the rest, and a write that makes no
 * progress at all is the disk's fault: an ENOSPC-kind error, which every adapter answers as
 * "out of resources, retry later".
 */
import fs from 'node:fs';
import type { FileHandle } from 'node:fs/promises';

/** A write that made no progress and gave no reason: treated as a full disk (the only way it happens on a regular file). */
export class ShortWriteError extends Error implements NodeJS.ErrnoException {
  readonly code = 'ENOSPC';

  constructor(readonly written: number, readonly expected: number) {
    super(`ENOSPC: no space left on the device: wrote ${written} of ${expected} bytes`);
    this.name = 'ShortWriteError';
  }
}

/** writev(2) takes at most IOV_MAX (1024 on Linux) buffers at a time. */
const IOV_MAX = 1024;

/** Write all of `chunks`, in order, at the handle's current position. */
export async function writeAllChunks(handle: FileHandle, chunks: readonly Uint8Array[]): Promise<void> {
  const expected = chunks.reduce((n, c) => n + c.length, 0);
  let written = 0;
  let next = 0; // first chunk not yet wholly written
  let head: Uint8Array | undefined; // what is left of chunks[next] after a partial write
  while (written < expected) {
    const batch: Uint8Array[] = [];
    for (let i = next; i < chunks.length && batch.length < IOV_MAX; i++) {
      const c = i === next && head ? head : chunks[i];
      if (c.length) batch.push(c);
    }
    const { bytesWritten } = await handle.writev(batch);
    if (bytesWritten <= 0) throw new ShortWriteError(written, expected);
    written += bytesWritten;
    // Step past what was written: whole chunks, then part of one.
    let left = bytesWritten;
    while (left > 0) {
      const c = next === chunks.length ? undefined : head ?? chunks[next];
      if (!c) break;
      if (left >= c.length) {
        left -= c.length;
        next++;
        head = undefined;
      } else {
        head = c.subarray(left);
        left = 0;
      }
    }
  }
}

/** Write all of `data` to a file descriptor, synchronously, at its current position. */
export function writeAllSync(fd: number, data: Uint8Array): void {
  let written = 0;
  while (written < data.length) {
    const n = fs.writeSync(fd, data, written, data.length - written);
    if (n <= 0) throw new ShortWriteError(written, data.length);
    written += n;
  }
}
