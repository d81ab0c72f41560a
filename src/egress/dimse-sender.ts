/**
 * C-STORE (PS3.4 B) to a DICOM AE over dcmjs-dimse: one association per batch (two at most, see
 * below), each instance sent as its stored data set bytes, or rewritten in the plain syntax the
 * remote accepted. An instance counts as sent only on a success (0x0000) or warning (0xB000,
 * 0xB006, 0xB007) response. Out of resources (0xA7xx), a processing failure (0x0110), no
 * response at all (refused or aborted association, a network failure, a timeout) are retried; a
 * presentation context the remote would not accept, and any other failure status, fail the
 * instance at once. A duplicate status (0x0111) is retried: over DIMSE the remote's holding of
 * the instance is not verified (Orthanc and most archives answer success for an instance they
 * already hold).
 *
 * The main thread only routes. A batch (up to its destination's batchSize, 10,000 at most) goes
 * through the gateway's one C-STORE pipeline (src/dimse/store-pipeline.ts, which C-MOVE uses
 * too): read as it is sent (at most AHEAD instances, and MAX_HELD_BYTES, held beyond the one on
 * the wire, each let go when answered), an instance the remote takes only in another syntax
 * rewritten by the worker pool's `transcode` task, each request's "done" held until the next is
 * ready, a C-ECHO opening the association when the first instance still needs rewriting, and a
 * second association where Verification is refused. This file decides what the remote's answers
 * mean for the queue.
 */
import type { BlobStore } from '../store/blob-store';
import type { WorkerPool } from '../workers/pool';
import { Learnt, Prepare, Sent, instanceReader, storeToPeer } from '../dimse/store-pipeline';
import type { DimseDestination } from './config';
import { BatchSender, ItemOutcome, SendItem, hex4, refuse, retry } from './senders';

export { AHEAD, MAX_HELD_BYTES, sendableAs } from '../dimse/store-pipeline';

const SENT = new Set([0x0000, 0xb000, 0xb006, 0xb007]);

function outcomeOf(status: number): ItemOutcome {
  if (SENT.has(status)) return { ok: true };
  if ((status & 0xff00) === 0xa700 || status === 0x0110 || status === 0x0111) return retry(`C-STORE status ${hex4(status)}`);
  return refuse(`C-STORE refused: status ${hex4(status)}`);
}

/** What the queue makes of an instance's fate; no answer at all is retried, with why. */
function itemOutcome(sent: Sent | undefined, why: string): ItemOutcome {
  if (!sent) return retry(why);
  if ('status' in sent) return outcomeOf(sent.status);
  if ('failed' in sent) return sent.failed.later ? retry(sent.failed.reason) : refuse(sent.failed.reason);
  return refuse('the remote accepts neither this SOP class nor a transfer syntax it can be sent in');
}

export class DimseSender implements BatchSender {
  /** Per SOP class and stored syntax: what the remote took it in at the last association (null: nothing). */
  private readonly learnt: Learnt = new Map();
  private readonly prepare: Prepare;

  constructor(
    private readonly d: DimseDestination,
    store: BlobStore,
    private readonly ownAeTitle: string,
    workers: WorkerPool,
  ) {
    this.prepare = instanceReader(store, workers);
  }

  async send(items: readonly SendItem[], signal: AbortSignal): Promise<ItemOutcome[]> {
    const d = this.d;
    const { results, why } = await storeToPeer(
      items.map((it) => it.stored),
      {
        peer: { host: d.host, port: d.port, callingAeTitle: d.callingAeTitle ?? this.ownAeTitle, calledAeTitle: d.aeTitle, timeoutSeconds: d.timeoutSeconds, tls: d.tls },
        prepare: this.prepare,
        learnt: this.learnt,
        signal,
      },
    );
    return results.map((r) => itemOutcome(r, why));
  }
}
