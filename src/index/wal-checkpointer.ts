/**
 * WAL checkpoints off the main thread, when writes pause. A checkpoint copies WAL pages into
 * the database and fsyncs it, holding WAL read-mark 0 exclusively meanwhile; on ext4 that fsync
 * can wait for every blob written just before (hundreds of milliseconds under ingest). Run
 * inside a commit (SQLite's automatic checkpoint) it stalls the thread that routes requests; run
 * beside a writer, it makes the writer sleep in SQLite's busy handler. So a thread of its own,
 * with its own connection, checkpoints only once the index has had no write for a moment; the
 * main connection's automatic checkpoint stays as a distant safety net for endless ingest.
 */
import { Worker } from 'node:worker_threads';

/** The main connection checkpoints by itself only past this many WAL pages (about 256 MB). */
export const SAFETY_NET_PAGES = 65_536;

const CHECKPOINTER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
const db = new Database(workerData.file);
db.pragma('busy_timeout = 1000');
const writes = new Int32Array(workerData.writes);
let seen = Atomics.load(writes, 0);
let done = seen;
const tick = () => {
  const now = Atomics.load(writes, 0);
  // Quiet since the last look, and written since the last checkpoint.
  if (now === seen && now !== done) {
    try { db.pragma('wal_checkpoint(PASSIVE)'); done = now; } catch {}
  }
  seen = now;
};
const timer = setInterval(tick, workerData.intervalMs);
parentPort.on('message', () => { clearInterval(timer); db.close(); parentPort.close(); });
`;

export class WalCheckpointer {
  private readonly worker: Worker;
  /** A count of writes, shared with the checkpointer thread (it looks for a pause). */
  private readonly writes = new Int32Array(new SharedArrayBuffer(4));

  constructor(file: string, intervalMs = 500) {
    this.worker = new Worker(CHECKPOINTER, { eval: true, workerData: { file, intervalMs, writes: this.writes.buffer, module: require.resolve('better-sqlite3') } });
    this.worker.unref();
    // A checkpointer that fails leaves the safety net in charge: never a reason to stop serving.
    this.worker.on('error', () => undefined);
  }

  /** Called after each write transaction. */
  wrote(): void {
    Atomics.add(this.writes, 0, 1);
  }

  async close(): Promise<void> {
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.postMessage('stop');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise<void>((r) => (timer = setTimeout(r, 2000)))]);
    clearTimeout(timer);
    await this.worker.terminate().catch(() => undefined);
  }
}
