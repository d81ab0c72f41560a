/**
 * Group commit for SQLite in WAL mode. Commits run with synchronous=NORMAL (written to the WAL,
 * not yet flushed), and an instance is acknowledged only after the WAL has been fdatasync'ed
 * since its commit. The flush runs on libuv's thread pool, never on the main thread, and one
 * flush covers every commit made before it started: under load, many instances share it.
 *
 * Why this is as durable as synchronous=FULL: a commit's frames are in the WAL file when the
 * commit returns, and SQLite syncs the WAL before any checkpoint copies frames into the database
 * (and syncs the database after), so once the WAL is flushed the commit survives power loss.
 */
import fs from 'node:fs';
import { CoalescedFlush } from '../store/coalesced-flush';

export class WalSync {
  private fd?: number;
  private readonly flush = new CoalescedFlush(() => new Promise<void>((resolve, reject) => fs.fdatasync(this.open(), (e) => (e ? reject(e) : resolve()))));

  constructor(private readonly walPath: string) {}

  private open(): number {
    // The WAL exists from the first write; fsync works on a read-only descriptor on Linux.
    if (this.fd === undefined) this.fd = fs.openSync(this.walPath, 'r');
    return this.fd;
  }

  /** Resolves once every commit made before this call is on disk. */
  durable(): Promise<void> {
    return this.flush.durable();
  }

  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }
}
