/**
 * Grouped commits for one node's inserts into PostgreSQL. An instance is acknowledged once its
 * row is committed, and a commit waits for the WAL to reach the disk; inserts into one study also
 * take turns (insert-record.ts). One transaction per instance would make a study's concurrent
 * STOW parts wait for each other's flush, one after another. Here the inserts that arrive while
 * others are being committed wait in a queue, and the next transaction takes all of them that
 * touch no study being committed right now: a study's parts then share one flush.
 *
 * Nothing waits for a group to fill: a lone insert starts its transaction at once. Every caller
 * still learns its own outcome (inserted, duplicate, or its own refusal).
 */
import type { InstanceRecord } from '../index';
import type { InsertOutcome } from './insert-record';

/** Records of one group at most (one transaction, one flush). */
const MAX_GROUP = 64;

interface Waiting {
  record: InstanceRecord;
  resolve(outcome: InsertOutcome): void;
  reject(error: unknown): void;
}

export type RunGroup = (records: readonly InstanceRecord[]) => Promise<(InsertOutcome | Error)[]>;

export class InsertGroups {
  private queue: Waiting[] = [];
  /** Studies with records in a transaction now. */
  private readonly busy = new Set<string>();
  private inFlight = 0;

  /** `concurrency`: transactions at once (connections this node's inserts may hold). */
  constructor(
    private readonly run: RunGroup,
    private readonly concurrency: number,
  ) {}

  insert(record: InstanceRecord): Promise<InsertOutcome> {
    return new Promise((resolve, reject) => {
      this.queue.push({ record, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.concurrency && this.queue.length) {
      const group: Waiting[] = [];
      const rest: Waiting[] = [];
      for (const w of this.queue) {
        if (group.length < MAX_GROUP && !this.busy.has(w.record.studyUID)) group.push(w);
        else rest.push(w);
      }
      if (!group.length) return; // every waiting study is being committed: its turn comes when that one ends
      this.queue = rest;
      this.start(group);
    }
  }

  private start(group: Waiting[]): void {
    const studies = [...new Set(group.map((w) => w.record.studyUID))];
    for (const s of studies) this.busy.add(s);
    this.inFlight++;
    this.run(group.map((w) => w.record))
      .then(
        (outcomes) => group.forEach((w, k) => (outcomes[k] instanceof Error ? w.reject(outcomes[k]) : w.resolve(outcomes[k] as InsertOutcome))),
        (e) => group.forEach((w) => w.reject(e)),
      )
      .finally(() => {
        for (const s of studies) this.busy.delete(s);
        this.inFlight--;
        this.pump();
      });
  }
}
