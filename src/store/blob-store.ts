/**
 * Where instance files live. The file-system store is the embedded default; an object
 * store can implement the same interface. Keys are built from validated UIDs only.
 */
import type { Readable } from 'node:stream';

export interface ByteSpan {
  /** First byte, inclusive. */
  start: number;
  /** Last byte, inclusive. */
  end: number;
}

export interface BlobStore {
  /** Store the concatenation of chunks under key, atomically: readers see all of it or nothing. */
  put(key: string, chunks: Uint8Array[]): Promise<void>;
  /** Stream a blob, or a byte span of it. */
  stream(key: string, span?: ByteSpan): Readable;
  /** Read byte spans of a blob into memory (frames and small bulk data). */
  read(key: string, spans: ByteSpan[]): Promise<Buffer>;
  exists(key: string): Promise<boolean>;
  delete(key: string): Promise<void>;
  /** Every blob, with its last-modified time (ms since the epoch), for maintenance sweeps. */
  list(): AsyncIterable<{ key: string; modified: number }>;
  /** Move a blob out of the store into a quarantine area, kept for an administrator to inspect. */
  quarantine(key: string): Promise<void>;
  /** Release what the store holds for this process (temporary space). */
  close?(): void;
}

const KEY = /^[0-9A-Za-z._-]+(\/[0-9A-Za-z._-]+)*$/;

/** Throws unless `key` is a blob key: path components of UID characters, never "." or "..". */
export function checkBlobKey(key: string): void {
  if (!KEY.test(key) || key.split('/').some((p) => p === '.' || p === '..')) throw new Error('invalid blob key');
}
