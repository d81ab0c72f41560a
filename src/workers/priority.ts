/**
 * Worker threads run below the main thread's priority: when the cores are busy with
 * de-identification, SEG building or dcm2niix, the thread that routes requests still gets the
 * CPU the moment a request arrives. On Linux, nice values are per thread (setpriority on a
 * thread id), and threads a worker starts (libvips, codecs) inherit it.
 */
import fs from 'node:fs';
import os from 'node:os';

/** Nice value of worker threads: the main thread (0) wins about nine tenths of a contended core. */
export const WORKER_NICE = 10;

/** Lower the calling thread's priority; a platform without per-thread nice values keeps its own. */
export function lowerThisThreadPriority(nice = WORKER_NICE): void {
  try {
    // "/proc/thread-self" links to "<pid>/task/<tid>": the kernel id of this very thread.
    const tid = Number(fs.readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(tid) && tid > 0 && tid !== process.pid) os.setPriority(tid, nice);
  } catch {
    // Not Linux, or /proc is not mounted: the worker runs at normal priority.
  }
}
