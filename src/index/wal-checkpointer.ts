/**
 * WAL checkpoints off the main thread. SQLite's automatic checkpoint runs inside the commit that
 * crosses the threshold, copying pages and fsyncing the database on whichever thread committed:
 * on the main thread that is a stall of tens to hundreds of milliseconds. Here a thread of its
 * own, with its own connection, runs a PASSIVE checkpoint (it never blocks a writer) every
 * quarter second; the main connection's automatic checkpoint stays as a distant safety net.
 */
import { Worker } from 'node:worker_threads';

/** The main connection checkpoints by itself only past this many WAL pages (about 40 MB). */
export const SAFETY_NET_PAGES = 10_000;

const CHECKPOINTER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
const db = new Database(workerData.file);
db.pragma('busy_timeout = 1000');
const tick = () => {
  try { db.pragma('wal_checkpoint(PASSIVE)'); } catch {}
};
const timer = setInterval(tick, workerData.intervalMs);
parentPort.on('message', () => { clearInterval(timer); tick(); db.close(); parentPort.close(); });
`;

export class WalCheckpointer {
  private readonly worker: Worker;

  constructor(file: string, intervalMs = 250) {
    this.worker = new Worker(CHECKPOINTER, { eval: true, workerData: { file, intervalMs, module: require.resolve('better-sqlite3') } });
    this.worker.unref();
    // A checkpointer that fails leaves the safety net in charge: never a reason to stop serving.
    this.worker.on('error', () => undefined);
  }

  async close(): Promise<void> {
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.postMessage('stop');
    await Promise.race([exited, new Promise<void>((r) => setTimeout(r, 2000))]);
    await this.worker.terminate().catch(() => undefined);
  }
}
