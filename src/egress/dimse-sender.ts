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
 * The main thread only routes. A batch (up to its destination's batchSize, 10,000 at most) is
 * read as it is sent: at most AHEAD instances, and MAX_HELD_BYTES, are held beyond the one on
 * the wire, and an instance's bytes are let go when its response comes. An instance the remote
 * takes only in another syntax (a compressed one to a peer that accepts only Explicit VR Little
 * Endian, Implicit to Explicit) is rewritten by the worker pool's `transcode` task.
 *
 * dcmjs-dimse sends a request as soon as the one before it is answered, and the first right
 * after the association is accepted, without waiting: so a request's "done" is held back until
 * the next one is ready, and the first is read before the association opens, in the syntax the
 * remote took last time (learnt per SOP class and stored syntax). When that guess is wrong, a
 * C-ECHO opens the association and its answer is held until the first instance is ready; a
 * remote that does not take Verification gets a second association instead, with what the
 * first taught.
 */
import { Client, Dataset as DimseDataset, constants, requests, association as associationNs } from 'dcmjs-dimse';
import type { BlobStore } from '../store/blob-store';
import type { StoredInstance } from '../index/index';
import type { WorkerPool } from '../workers/pool';
import { asBuffer, movable } from '../workers/transfer';
import { FailureKind, VeilgateError } from '../errors';
import { TS } from '../dicom/transfer-syntax';
import { canDecode } from '../imaging/decode';
import { datasetBytes } from '../dimse/retrieve';
import type { DimseDestination } from './config';
import { BatchSender, ItemOutcome, SendItem, errorReason, hex4, refuse, retry } from './senders';

type Association = InstanceType<typeof associationNs.Association>;

/** Instances read (and rewritten) ahead of the one the remote is receiving. */
export const AHEAD = 4;
/** Bytes those may hold together (one instance beyond the one on the wire is always allowed). */
export const MAX_HELD_BYTES = 64 * 1024 * 1024;

const SENT = new Set([0x0000, 0xb000, 0xb006, 0xb007]);
const VERIFICATION = '1.2.840.10008.1.1';
const EMPTY = Buffer.alloc(0);
/** Failures of a rewrite that say nothing about the instance: the pool was full, a worker was lost. */
const LATER = new Set<FailureKind>(['busy', 'out-of-resources', 'processing-failure']);

function outcomeOf(status: number): ItemOutcome {
  if (SENT.has(status)) return { ok: true };
  if ((status & 0xff00) === 0xa700 || status === 0x0110 || status === 0x0111) return retry(`C-STORE status ${hex4(status)}`);
  return refuse(`C-STORE refused: status ${hex4(status)}`);
}

const isPlain = (uid: string): boolean => uid === TS.ExplicitVRLittleEndian || uid === TS.ImplicitVRLittleEndian;

/** Whether an instance stored in `stored` can go out in `target`: as it is, or rewritten in a plain syntax. */
export function sendableAs(stored: string, target: string): boolean {
  return stored === target || (isPlain(target) && (isPlain(stored) || canDecode(stored)));
}

/** The syntax the association takes an instance in: its own if accepted, else a plain one it can be rewritten in. */
function acceptedFor(association: Association, sopClass: string, stored: string): string | undefined {
  let other: string | undefined;
  for (const { id } of association.getPresentationContexts()) {
    const c = association.getPresentationContext(id);
    if (c.getAbstractSyntaxUid() !== sopClass || c.getResult() !== constants.PresentationContextResult.Accept) continue;
    const ts = c.getAcceptedTransferSyntaxUid();
    if (ts === stored) return ts;
    if (ts && sendableAs(stored, ts)) other ??= ts;
  }
  return other;
}

function accepts(association: Association, abstractSyntax: string): boolean {
  return association.getPresentationContexts().some(({ id }) => {
    const c = association.getPresentationContext(id);
    return c.getAbstractSyntaxUid() === abstractSyntax && c.getResult() === constants.PresentationContextResult.Accept;
  });
}

/**
 * A data set that is bytes held for as long as its request is in flight: empty until it is
 * ready, let go once answered. Never parsed and never rebuilt by the library (getElements
 * refuses: the library's own transcoding would send a near-empty data set).
 */
class HeldDataset extends DimseDataset {
  private bytes: Buffer = EMPTY;

  constructor(stored: string, elements: Record<string, string>) {
    super(elements, stored);
  }

  hold(bytes: Buffer, transferSyntaxUid: string): void {
    this.bytes = bytes;
    super.setTransferSyntaxUid(transferSyntaxUid);
  }

  release(): void {
    this.bytes = EMPTY;
  }

  get size(): number {
    return this.bytes.length;
  }

  override setTransferSyntaxUid(transferSyntaxUid: string): void {
    if (transferSyntaxUid !== this.getTransferSyntaxUid()) throw new Error('a held data set is rewritten by the sender, never by the library');
  }

  override getDenaturalizedDataset(): Buffer {
    return this.bytes;
  }

  override getElements(): Record<string, unknown> {
    throw new Error('a held data set is sent as it is, never rebuilt from elements');
  }
}

type Request = InstanceType<typeof requests.CStoreRequest> | InstanceType<typeof requests.CEchoRequest>;

/** The library moves on to the next request when this one is done: hold that until `until` settles. */
function holdDone(request: Request, until: () => Promise<void>): void {
  const done = request.raiseDoneEvent.bind(request);
  request.raiseDoneEvent = () => {
    void until().then(done, done);
  };
}

interface Entry {
  /** Index in the batch. */
  i: number;
  inst: StoredInstance;
  dataset: HeldDataset;
  request: InstanceType<typeof requests.CStoreRequest>;
  /** The syntax it goes out in on this association (undefined until the association says). */
  target?: string;
  /** Its bytes are held, in `target`. */
  ready: boolean;
  /** Answered, or dropped (it will not go out on this association). */
  finished: boolean;
  /** Settles true once ready, false once dropped. */
  settled: Promise<boolean>;
  settle: (ready: boolean) => void;
}

const key = (inst: StoredInstance) => `${inst.sopClassUID}\n${inst.transferSyntaxUID}`;

export class DimseSender implements BatchSender {
  /** Per SOP class and stored syntax: what the remote took it in at the last association (null: nothing). */
  private readonly learnt = new Map<string, string | null>();

  constructor(
    private readonly d: DimseDestination,
    private readonly store: BlobStore,
    private readonly ownAeTitle: string,
    private readonly workers: WorkerPool,
  ) {}

  async send(items: readonly SendItem[], signal: AbortSignal): Promise<ItemOutcome[]> {
    const out: (ItemOutcome | undefined)[] = items.map(() => undefined);
    let why = 'nothing to send';
    // A second association only when the first sent nothing (see the top of this file).
    for (let attempt = 0; attempt < 2; attempt++) {
      if (signal.aborted) {
        why = 'aborted';
        break;
      }
      const pending = items.map((it, i) => i).filter((i) => !out[i]);
      if (!pending.length) break;
      const r = await this.associate(items, pending, out, signal);
      why = r.why;
      if (!r.again) break;
    }
    return out.map((o) => o ?? retry(why));
  }

  /** An instance's data set bytes in `target`: as stored, or rewritten by the worker pool; or the outcome it gets if that fails. */
  private async prepare(inst: StoredInstance, target: string): Promise<{ bytes: Buffer } | { failed: ItemOutcome }> {
    let file: Buffer;
    try {
      file = await this.store.read(inst.blobKey, [{ start: 0, end: inst.size - 1 }]);
    } catch (e) {
      return { failed: retry(`reading the stored instance failed: ${errorReason(e)}`) };
    }
    if (target === inst.transferSyntaxUID) return { bytes: datasetBytes(file) };
    try {
      const rewritten = await this.workers.run('transcode', { file, stored: inst.transferSyntaxUID, target, frames: inst.frames }, movable([file]));
      return { bytes: datasetBytes(asBuffer(rewritten)) };
    } catch (e) {
      // The pool full or a worker lost: later. The instance itself cannot be rewritten: never.
      if (e instanceof VeilgateError && LATER.has(e.kind)) return { failed: retry(`rewriting the instance failed: ${e.kind}`) };
      return { failed: refuse('the instance cannot be rewritten in the transfer syntax the remote accepts') };
    }
  }

  /** One association for the items `pending` names; `again` when it sent nothing and another should follow. */
  private async associate(items: readonly SendItem[], pending: number[], out: (ItemOutcome | undefined)[], signal: AbortSignal): Promise<{ why: string; again: boolean }> {
    const entries: Entry[] = pending.map((i) => {
      const inst = items[i].stored;
      const dataset = new HeldDataset(inst.transferSyntaxUID, { SOPClassUID: inst.sopClassUID, SOPInstanceUID: inst.sopInstanceUID });
      let settle!: (ready: boolean) => void;
      const settled = new Promise<boolean>((resolve) => (settle = resolve));
      return { i, inst, dataset, request: new requests.CStoreRequest(dataset), ready: false, finished: false, settled, settle };
    });
    const drop = (e: Entry, outcome?: ItemOutcome) => {
      if (outcome) out[e.i] ??= outcome;
      e.dataset.release();
      // No SOP class: the library finds no presentation context for it and skips it (without a
      // data set it would not: it falls back to any context of the SOP class, and sends the command).
      e.request.setAffectedSopClassUid('');
      e.ready = false;
      e.finished = true;
      e.settle(false);
    };

    // The first one to go out, read before the association opens, in the syntax the remote took last time.
    let lead: Entry | undefined;
    while (entries.length) {
      const e = entries[0];
      const stored = e.inst.transferSyntaxUID;
      const learnt = this.learnt.get(key(e.inst));
      const target = learnt && sendableAs(stored, learnt) ? learnt : stored;
      const made = await this.prepare(e.inst, target);
      if (!('failed' in made)) e.dataset.hold(made.bytes, target);
      else if (target === stored) {
        out[e.i] = made.failed;
        entries.shift();
        continue;
      } // else: not in the syntax guessed, and perhaps not needed in it; the association says.
      lead = e;
      break;
    }
    if (!lead) return { why: 'nothing to send', again: false };
    if (signal.aborted) return { why: 'aborted', again: false };

    return new Promise((resolve) => {
      const client = new Client();
      const echo = new requests.CEchoRequest();
      let why = 'no response';
      let again = false;
      let closed = false;
      let held = lead!.dataset.size;
      let low = 0;
      let wake: (() => void) | undefined;
      const nudge = () => {
        const w = wake;
        wake = undefined;
        w?.();
      };

      /** The first entry after `k` that goes out (or none), once it is ready. */
      const nextReady = async (k: number): Promise<void> => {
        for (let j = k + 1; j < entries.length; j++) if (await entries[j].settled) return;
      };

      client.addRequest(echo);
      for (const e of entries) {
        e.request.on('response', (response: { getStatus(): number }) => {
          out[e.i] ??= outcomeOf(response.getStatus());
          held -= e.dataset.size;
          e.dataset.release();
          e.finished = true;
          nudge();
        });
        client.addRequest(e.request);
      }

      /** Reads (and rewrites) entries in order, a few ahead of the one on the wire. */
      const preparer = async () => {
        for (let k = 0; k < entries.length && !closed; k++) {
          const e = entries[k];
          if (e.finished || e.ready) continue;
          for (;;) {
            while (low < entries.length && entries[low].finished) low++;
            if (closed || (k <= low + AHEAD && (held < MAX_HELD_BYTES || k <= low + 1))) break;
            await new Promise<void>((r) => (wake = r));
          }
          if (closed) break;
          const made = await this.prepare(e.inst, e.target!);
          if (closed) break;
          if ('failed' in made) drop(e, made.failed);
          else {
            e.dataset.hold(made.bytes, e.target!);
            held += made.bytes.length;
            e.ready = true;
            e.settle(true);
          }
        }
      };

      let finished = false;
      const finish = () => {
        if (finished) return;
        finished = true;
        closed = true;
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        for (const e of entries) if (!e.finished) drop(e);
        nudge();
        resolve({ why, again });
      };
      const onAbort = () => {
        why = 'aborted';
        try {
          client.abort();
        } catch {
          // not connected yet
        }
        finish();
      };
      signal.addEventListener('abort', onAbort, { once: true });
      // No whole-batch deadline in dcmjs-dimse: ours is the per-instance timeout times the batch.
      const timer = setTimeout(() => {
        why = 'timed out';
        onAbort();
      }, this.d.timeoutSeconds * 1000 * Math.max(1, entries.length));
      client.on('closed', finish);
      client.on('networkError', (e: unknown) => {
        why = errorReason(e);
        finish();
      });
      client.on('associationRejected', () => {
        why = 'association rejected';
        finish();
      });
      // The library sends client's requests right after this event, in order: choose them here.
      client.on('associationAccepted', (association: Association) => {
        for (const e of entries) {
          const target = acceptedFor(association, e.inst.sopClassUID, e.inst.transferSyntaxUID);
          this.learnt.set(key(e.inst), target ?? null);
          if (!target) {
            drop(e, refuse('the remote accepts neither this SOP class nor a transfer syntax it can be sent in'));
            continue;
          }
          e.target = target;
          if (e === lead && e.dataset.size) {
            const heldTs = e.dataset.getTransferSyntaxUid();
            if (heldTs === target || acceptedFor(association, e.inst.sopClassUID, heldTs) === heldTs) {
              e.target = heldTs;
              e.ready = true;
              e.settle(true);
            } else {
              held -= e.dataset.size;
              e.dataset.release();
            }
          }
        }
        const going = entries.filter((e) => !e.finished);
        client.clearRequests();
        if (!going.length) return; // nothing to send: the library releases the association
        if (!going[0].ready) {
          if (!accepts(association, VERIFICATION)) {
            // The first instance is not ready and nothing can wait for it: another association, now that we know.
            again = true;
            return;
          }
          holdDone(echo, () => nextReady(-1));
          client.addRequest(echo);
        }
        for (const [k, e] of entries.entries()) {
          if (e.finished) continue;
          holdDone(e.request, () => nextReady(k));
          client.addRequest(e.request);
        }
        void preparer().catch(() => onAbort());
      });
      const tls = this.d.tls;
      client.send(this.d.host, this.d.port, this.d.callingAeTitle ?? this.ownAeTitle, this.d.aeTitle, {
        connectTimeout: this.d.timeoutSeconds * 1000,
        associationTimeout: this.d.timeoutSeconds * 1000,
        pduTimeout: this.d.timeoutSeconds * 1000,
        ...(tls ? { securityOptions: { ca: tls.ca, cert: tls.cert, key: tls.key, rejectUnauthorized: true } } : {}),
      });
    });
  }
}
