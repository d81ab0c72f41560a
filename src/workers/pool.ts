/**
 * A bounded pool of long-lived worker threads for the CPU-heavy steps of requests (parsing and
 * de-identifying instances, decoding, rendering, transcoding, reading NIfTI). The main thread
 * only routes: it hands a task to a free worker, or queues it, and answers the request when the
 * task settles. The pool is sized to the cores; its queue is bounded, and a task that finds it
 * full is refused as our saturation (503 with Retry-After), never a stall.
 *
 * A worker that dies (a bug, out of memory) fails only its own task and is replaced.
 */
import os from 'node:os';
import path from 'node:path';
import { Worker, type Transferable } from 'node:worker_threads';
import { VeilgateError, type FailureKind } from '../errors';
import { projectRoot } from '../paths';
import type { TaskName, TaskInput, TaskOutput } from './tasks';

/** What a worker posts back: the result, or an error as plain data (errors do not survive cloning whole). */
export type WorkerReply = { id: number; ok: true; value: unknown } | { id: number; ok: false; kind?: FailureKind; message: string; name?: string; code?: string };

interface Pending {
  id: number;
  task: TaskName;
  input: unknown;
  transfer: readonly Transferable[];
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

interface Slot {
  worker: Worker;
  busy?: Pending;
}

/** The compiled worker: beside this file when running from dist/, else in dist/ (tests run the sources). */
function workerFile(): string {
  return __filename.endsWith('.ts') ? path.join(projectRoot(), 'dist', 'src', 'workers', 'worker.js') : path.join(__dirname, 'worker.js');
}

/** Threads for request work: one per core, at least one. */
export function defaultPoolSize(): number {
  return Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
}

export class WorkerPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private nextId = 1;
  private closed = false;
  /** Tasks done, for /metrics. */
  completed = 0;
  /** Tasks done (answered by a worker, with a result or an error), by task, for /metrics. */
  readonly completedByTask = new Map<TaskName, number>();

  constructor(
    readonly size: number = defaultPoolSize(),
    /** Tasks that may wait for a thread; beyond this a task is refused as saturation. */
    readonly maxQueued: number = 64 * size,
  ) {
    for (let i = 0; i < size; i++) this.slots.push(this.spawn());
  }

  private spawn(): Slot {
    const worker = new Worker(workerFile());
    // Idle threads never keep the process alive; close() ends them at shutdown.
    worker.unref();
    const slot: Slot = { worker };
    worker.on('message', (reply: WorkerReply) => this.settle(slot, reply));
    worker.on('error', (e) => this.fail(slot, e));
    worker.on('exit', (code) => this.fail(slot, new Error(`a worker thread stopped (code ${code})`)));
    return slot;
  }

  /** Load now, for /metrics and the bench. */
  load(): { threads: number; busy: number; queued: number } {
    return { threads: this.slots.length, busy: this.slots.filter((s) => s.busy).length, queued: this.queue.length };
  }

  /** Run one task on a worker; `transfer` moves buffers instead of copying them. */
  run<T extends TaskName>(task: T, input: TaskInput<T>, transfer: readonly Transferable[] = []): Promise<TaskOutput<T>> {
    if (this.closed) return Promise.reject(new VeilgateError('busy', 'the gateway is shutting down'));
    return new Promise<TaskOutput<T>>((resolve, reject) => {
      const pending: Pending = { id: this.nextId++, task, input, transfer, resolve: resolve as (v: unknown) => void, reject };
      const free = this.slots.find((s) => !s.busy);
      if (free) return this.start(free, pending);
      if (this.queue.length >= this.maxQueued) return reject(new VeilgateError('busy', 'the gateway is at its limit of work: try again shortly'));
      this.queue.push(pending);
    });
  }

  private start(slot: Slot, pending: Pending): void {
    slot.busy = pending;
    slot.worker.ref(); // a task in progress keeps the process alive until it answers
    try {
      slot.worker.postMessage({ id: pending.id, task: pending.task, input: pending.input }, pending.transfer as Transferable[]);
    } catch (e) {
      slot.busy = undefined;
      slot.worker.unref();
      pending.reject(e as Error);
      this.next(slot);
    }
  }

  private next(slot: Slot): void {
    const pending = this.queue.shift();
    if (pending) this.start(slot, pending);
  }

  private settle(slot: Slot, reply: WorkerReply): void {
    const pending = slot.busy;
    if (!pending || pending.id !== reply.id) return;
    slot.busy = undefined;
    slot.worker.unref();
    this.completed++;
    this.completedByTask.set(pending.task, (this.completedByTask.get(pending.task) ?? 0) + 1);
    if (reply.ok) pending.resolve(reply.value);
    else pending.reject(errorOf(reply));
    this.next(slot);
  }

  /** A thread that errored or exited: its task fails as ours, and a new thread takes its place. */
  private fail(slot: Slot, error: Error): void {
    const i = this.slots.indexOf(slot);
    if (i < 0) return;
    const pending = slot.busy;
    slot.busy = undefined;
    slot.worker.removeAllListeners();
    void slot.worker.terminate().catch(() => undefined);
    if (pending) pending.reject(new VeilgateError(/out of memory|heap/i.test(error.message) ? 'out-of-resources' : 'processing-failure', `the work failed: ${error.message}`));
    if (this.closed) {
      this.slots.splice(i, 1);
      return;
    }
    const fresh = this.spawn();
    this.slots[i] = fresh;
    this.next(fresh);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.queue.splice(0)) p.reject(new VeilgateError('busy', 'the gateway is shutting down'));
    const slots = this.slots.splice(0);
    await Promise.all(
      slots.map((s) => {
        s.worker.removeAllListeners();
        s.busy?.reject(new VeilgateError('busy', 'the gateway is shutting down'));
        return s.worker.terminate().catch(() => undefined);
      }),
    );
  }
}

function errorOf(reply: Extract<WorkerReply, { ok: false }>): Error {
  if (reply.kind) return new VeilgateError(reply.kind, reply.message);
  const e = new Error(reply.message) as NodeJS.ErrnoException;
  if (reply.name) e.name = reply.name;
  if (reply.code) e.code = reply.code;
  return e;
}
