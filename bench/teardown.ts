/**
 * What a benchmark started and must stop: servers and child processes, stopped in the reverse
 * order of their start, at the end of a run however it ends. try/finally covers a thrown error;
 * SIGINT and SIGTERM would end the process without it, and PostgreSQL (pg_ctl) and Orthanc run
 * detached from us, so they are handled here too.
 */
export class Teardown {
  private readonly stops: { what: string; stop: () => Promise<void> }[] = [];
  private running?: Promise<void>;
  private readonly onSignal = (signal: NodeJS.Signals) => {
    console.error(`${signal}: stopping what the benchmark started`);
    void this.run().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };

  constructor() {
    process.once('SIGINT', this.onSignal);
    process.once('SIGTERM', this.onSignal);
  }

  /** Register `stop` for the end of the run; returns a function that stops it now (and only once). */
  add(what: string, stop: () => Promise<void>): () => Promise<void> {
    let once: Promise<void> | undefined;
    const entry = { what, stop: () => (once ??= stop()) };
    this.stops.push(entry);
    return async () => {
      const i = this.stops.indexOf(entry);
      if (i >= 0) this.stops.splice(i, 1);
      await entry.stop();
    };
  }

  /** Stop everything still registered, newest first; a failure to stop one does not spare the others. */
  run(): Promise<void> {
    this.running ??= (async () => {
      process.off('SIGINT', this.onSignal);
      process.off('SIGTERM', this.onSignal);
      while (this.stops.length) {
        const { what, stop } = this.stops.pop()!;
        await stop().catch((e) => console.error(`could not stop ${what}: ${(e as Error).message}`));
      }
    })();
    return this.running;
  }
}
