/**
 * One flush (an fsync) shared by every caller that asks while it is pending: the caller waits
 * for a flush that started after its own write. Under load, many writes share one fsync (a group
 * commit) and nothing is acknowledged before it is on disk.
 */
export class CoalescedFlush {
  private running?: Promise<void>;
  private queued?: Promise<void>;

  constructor(private readonly flush: () => Promise<void>) {}

  private start(): Promise<void> {
    const p = this.flush();
    this.running = p;
    const clear = () => {
      if (this.running === p) this.running = undefined;
    };
    p.then(clear, clear);
    return p;
  }

  /** Resolves once a flush that began after this call has completed. */
  durable(): Promise<void> {
    if (!this.running) return this.start();
    // The flush in progress may have begun before the caller's write: the next one covers it.
    if (!this.queued) {
      this.queued = this.running
        .catch(() => undefined)
        .then(() => {
          this.queued = undefined;
          return this.start();
        });
    }
    return this.queued;
  }

  /** Nobody is waiting on it. */
  get idle(): boolean {
    return !this.running && !this.queued;
  }
}
