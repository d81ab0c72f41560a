/**
 * Long-running batch work (a processing job's thread) runs below the priority of request work:
 * when a job keeps every core busy for seconds, the thread that routes requests and the pool
 * threads that answer them (milliseconds each, at normal priority) still get the CPU the moment
 * a request arrives. On Linux, nice values are per thread (setpriority on a thread id), and
 * threads a job starts (onnxruntime's, codecs') inherit it.
 */
import fs from 'node:fs';
import os from 'node:os';

/** Nice value of job threads: request work (0) wins about nine tenths of a contended core. */
export const WORKER_NICE = Number(process.env.VEILGATE_WORKER_NICE ?? 10);

/** Lower the calling thread's priority; a platform without per-thread nice values keeps its own. */
export function lowerThisThreadPriority(nice = WORKER_NICE): void {
  if (nice === 0) return;
  try {
    // "/proc/thread-self" links to "<pid>/task/<tid>": the kernel id of this very thread.
    const tid = Number(fs.readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(tid) && tid > 0 && tid !== process.pid) os.setPriority(tid, nice);
  } catch {
    // Not Linux, or /proc is not mounted: the worker runs at normal priority.
  }
}
