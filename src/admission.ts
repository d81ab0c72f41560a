/**
 * Admission of heavy work (render, transcode, decode, zip, NIfTI): at most N of a kind run at
 * once; a request that finds no free slot waits a short while in a bounded queue, then is
 * answered 503 with Retry-After. Saturation is said, never a stall and never an out-of-memory.
 */
import { VeilgateError } from './errors';
import type { Concurrency } from './limits';

export type HeavyWork = Exclude<keyof Concurrency, 'queueWaitMs'>;

interface Waiter {
  resolve: () => void;
  timer: NodeJS.Timeout;
}

class Slots {
  active = 0;
  readonly waiting: Waiter[] = [];
  constructor(readonly size: number) {}
}

export class Admission {
  private readonly slots = new Map<HeavyWork, Slots>();

  constructor(private readonly concurrency: Concurrency) {}

  private of(kind: HeavyWork): Slots {
    let s = this.slots.get(kind);
    if (!s) this.slots.set(kind, (s = new Slots(this.concurrency[kind])));
    return s;
  }

  /** Work of this kind running or waiting now (for /metrics). */
  load(kind: HeavyWork): { active: number; waiting: number } {
    const s = this.of(kind);
    return { active: s.active, waiting: s.waiting.length };
  }

  private acquire(kind: HeavyWork): Promise<void> {
    const s = this.of(kind);
    if (s.active < s.size) {
      s.active++;
      return Promise.resolve();
    }
    // As many may wait as may run: beyond that a queue only turns saturation into a stall.
    if (s.waiting.length >= s.size) return Promise.reject(busy(kind));
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve: () => {
          clearTimeout(waiter.timer);
          resolve();
        },
        timer: setTimeout(() => {
          s.waiting.splice(s.waiting.indexOf(waiter), 1);
          reject(busy(kind));
        }, this.concurrency.queueWaitMs),
      };
      s.waiting.push(waiter);
    });
  }

  private release(kind: HeavyWork): void {
    const s = this.of(kind);
    const next = s.waiting.shift();
    if (next) next.resolve(); // the slot passes straight to the next in line
    else s.active--;
  }

  /** Run `work` in a slot of its kind; the slot is held until the promise settles. */
  async run<T>(kind: HeavyWork, work: () => Promise<T>): Promise<T> {
    await this.acquire(kind);
    try {
      return await work();
    } finally {
      this.release(kind);
    }
  }
}

function busy(kind: HeavyWork): VeilgateError {
  return new VeilgateError('busy', `the gateway is at its limit of ${kind} work: try again shortly`);
}
