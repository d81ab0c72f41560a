/**
 * C-STORE of stored instances, shared by every place the gateway sends them over DIMSE: egress
 * (src/egress/dimse-sender.ts) and C-MOVE, where the gateway opens an association to the peer as
 * an SCU (storeToPeer), and C-GET, where the sub-operations go out on the requester's own
 * association, the gateway being its SCP (storeOnAssociation).
 *
 * The main thread only routes. Instances are read as they are sent: at most AHEAD instances, and
 * MAX_HELD_BYTES, are held beyond the one on the wire, and an instance's bytes are let go when
 * its response comes. An instance the peer takes only in another syntax (a compressed one to a
 * peer that accepts only Explicit VR Little Endian, Explicit to Implicit) is rewritten by the
 * worker pool's `transcode` task before it is handed to the library, which only sends bytes
 * (HeldDataset): nothing is decoded or re-encoded in an association callback.
 *
 * As an SCU: dcmjs-dimse sends a request as soon as the one before it is answered, and the first
 * right after the association is accepted, without waiting: so a request's "done" is held back
 * until the next one is ready, and the first is read before the association opens, in the syntax
 * the peer took last time (learnt per SOP class and stored syntax). When that guess is wrong, a
 * C-ECHO opens the association and its answer is held until the first instance is ready; a peer
 * that does not take Verification gets a second association instead, with what the first taught.
 *
 * As an SCP (C-GET) nothing needs holding: the accepted presentation contexts are known before
 * the first sub-operation, and each request is handed to the library only once its bytes are
 * ready, the next ones being read (and rewritten) meanwhile.
 */
import { Client, constants, requests, association as associationNs } from 'dcmjs-dimse';
import type { BlobStore } from '../store/blob-store';
import type { StoredInstance } from '../index/index';
import type { WorkerPool } from '../workers/pool';
import { asBuffer, movable } from '../workers/transfer';
import { FailureKind, VeilgateError } from '../errors';
import { TS } from '../dicom/transfer-syntax';
import { canDecode } from '../imaging/decode';
import { errorReason } from '../egress/senders';
import { HeldDataset } from './raw-dataset';

export type Association = InstanceType<typeof associationNs.Association>;
type StoreRequest = InstanceType<typeof requests.CStoreRequest>;
type Request = StoreRequest | InstanceType<typeof requests.CEchoRequest>;

/** Instances read (and rewritten) ahead of the one the peer is receiving. */
export const AHEAD = 4;
/** Bytes those may hold together (one instance beyond the one on the wire is always allowed). */
export const MAX_HELD_BYTES = 64 * 1024 * 1024;

const VERIFICATION = '1.2.840.10008.1.1';
/** Failures of a rewrite that say nothing about the instance: the pool was full, a worker was lost. */
const LATER = new Set<FailureKind>(['busy', 'out-of-resources', 'processing-failure']);

const isPlain = (uid: string): boolean => uid === TS.ExplicitVRLittleEndian || uid === TS.ImplicitVRLittleEndian;

/** Whether an instance stored in `stored` can go out in `target`: as it is, or rewritten in a plain syntax. */
export function sendableAs(stored: string, target: string): boolean {
  return stored === target || (isPlain(target) && (isPlain(stored) || canDecode(stored)));
}

/** The syntax the association takes an instance in: its own if accepted, else a plain one it can be rewritten in. */
export function acceptedFor(association: Association, sopClass: string, stored: string): string | undefined {
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

/** Why an instance could not be made ready: `later` when that says nothing about the instance itself. */
export interface NotReady {
  later: boolean;
  reason: string;
}

export type Prepared = { bytes: Buffer } | { failed: NotReady };
export type Prepare = (inst: StoredInstance, target: string) => Promise<Prepared>;

/** The data set after a Part 10 file's meta group. Files written by us: preamble, DICM, then (0002,0000) whose value is the meta group's length. */
export function datasetBytes(file: Buffer): Buffer {
  return file.subarray(144 + file.readUInt32LE(140));
}

/** An instance's data set bytes in `target`: as stored, or rewritten by the worker pool's transcode task. */
export function instanceReader(store: BlobStore, workers: WorkerPool): Prepare {
  return async (inst, target) => {
    let file: Buffer;
    try {
      file = await store.read(inst.blobKey, [{ start: 0, end: inst.size - 1 }]);
    } catch (e) {
      return { failed: { later: true, reason: `reading the stored instance failed: ${errorReason(e)}` } };
    }
    try {
      if (target === inst.transferSyntaxUID) return { bytes: datasetBytes(file) };
      const rewritten = await workers.run('transcode', { file, stored: inst.transferSyntaxUID, target, frames: inst.frames }, movable([file]));
      return { bytes: datasetBytes(asBuffer(rewritten)) };
    } catch (e) {
      // The pool full or a worker lost: later. The instance itself cannot be rewritten: never.
      if (e instanceof VeilgateError && LATER.has(e.kind)) return { failed: { later: true, reason: `rewriting the instance failed: ${e.kind}` } };
      return { failed: { later: false, reason: 'the instance cannot be rewritten in the transfer syntax the remote accepts' } };
    }
  };
}

/** What became of one instance: the peer's status, not made ready, or no presentation context it can go out in. */
export type Sent = { status: number } | { failed: NotReady } | { unaccepted: true };

/** What the peer took, per SOP class and stored syntax, at the last association (null: nothing). Kept per peer by the caller. */
export type Learnt = Map<string, string | null>;
const key = (inst: StoredInstance) => `${inst.sopClassUID}\n${inst.transferSyntaxUID}`;

/** One instance on its way: its data set (bytes held only while it is in flight) and its request. */
class SubOperation {
  readonly dataset: HeldDataset;
  readonly request: StoreRequest;
  /** The syntax it goes out in on this association (undefined until the association says). */
  target?: string;
  /** Its bytes are held, in `target`. */
  ready = false;
  /** Answered, or dropped (it will not go out on this association). */
  finished = false;
  result?: Sent;
  /** Settles true once ready, false once dropped. */
  readonly settled: Promise<boolean>;
  settle!: (ready: boolean) => void;

  constructor(
    /** Index in the caller's list. */
    readonly i: number,
    readonly inst: StoredInstance,
  ) {
    this.dataset = new HeldDataset(inst.transferSyntaxUID, { SOPClassUID: inst.sopClassUID, SOPInstanceUID: inst.sopInstanceUID });
    this.request = new requests.CStoreRequest(this.dataset);
    this.settled = new Promise<boolean>((resolve) => (this.settle = resolve));
  }
}

/** Reads (and rewrites) sub-operations in order, a few ahead of the one on the wire, within MAX_HELD_BYTES. */
class ReadAhead {
  held = 0;
  private low = 0;
  private closed = false;
  private wake?: () => void;

  constructor(
    private readonly ops: readonly SubOperation[],
    private readonly prepare: Prepare,
  ) {}

  private nudge(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  /** Bytes of `op` in `ts`, made before it was known whether they are wanted. */
  holdEarly(op: SubOperation, bytes: Buffer, ts: string): void {
    op.dataset.hold(bytes, ts);
    this.held += bytes.length;
  }

  ready(op: SubOperation, ts: string): void {
    op.target = ts;
    op.ready = true;
    op.settle(true);
  }

  /** Let go of bytes that turned out not to be wanted (`op` is read again, in its target). */
  unhold(op: SubOperation): void {
    this.held -= op.dataset.size;
    op.dataset.release();
  }

  answered(op: SubOperation, status: number): void {
    op.result ??= { status };
    this.held -= op.dataset.size;
    op.dataset.release();
    op.finished = true;
    this.nudge();
  }

  /** `op` will not go out on this association (with what became of it, if anything did). */
  drop(op: SubOperation, result?: Sent): void {
    if (result) op.result ??= result;
    this.held -= op.dataset.size;
    op.dataset.release();
    // No SOP class: the library finds no presentation context for it and skips it (without a
    // data set it would not: it falls back to any context of the SOP class, and sends the command).
    op.request.setAffectedSopClassUid('');
    op.ready = false;
    op.finished = true;
    op.settle(false);
    this.nudge();
  }

  /** The first sub-operation after `k` that goes out (or none), once it is ready. */
  async nextReady(k: number): Promise<void> {
    for (let j = k + 1; j < this.ops.length; j++) if (await this.ops[j].settled) return;
  }

  async run(): Promise<void> {
    const ops = this.ops;
    for (let k = 0; k < ops.length && !this.closed; k++) {
      const op = ops[k];
      if (op.finished || op.ready) continue;
      for (;;) {
        while (this.low < ops.length && ops[this.low].finished) this.low++;
        if (this.closed || (k <= this.low + AHEAD && (this.held < MAX_HELD_BYTES || k <= this.low + 1))) break;
        await new Promise<void>((r) => (this.wake = r));
      }
      if (this.closed) break;
      const made = await this.prepare(op.inst, op.target!);
      if (this.closed) break;
      if ('failed' in made) this.drop(op, made);
      else {
        this.holdEarly(op, made.bytes, op.target!);
        this.ready(op, op.target!);
      }
    }
  }

  /** Nothing more goes out: every sub-operation not answered is dropped, the reader stops. */
  close(): void {
    this.closed = true;
    for (const op of this.ops) if (!op.finished) this.drop(op);
    this.nudge();
  }
}

/** The library moves on to the next request when this one is done: hold that until `until` settles. */
function holdDone(request: Request, until: () => Promise<void>): void {
  const done = request.raiseDoneEvent.bind(request);
  request.raiseDoneEvent = () => {
    void until().then(done, done);
  };
}

/** A peer the gateway opens associations to, as an SCU. */
export interface Peer {
  host: string;
  port: number;
  callingAeTitle: string;
  calledAeTitle: string;
  /** Connect, association and PDU timeouts; the whole association gets this per instance. */
  timeoutSeconds: number;
  tls?: { ca?: string | Buffer; cert?: string | Buffer; key?: string | Buffer };
}

export interface ToPeer {
  peer: Peer;
  prepare: Prepare;
  /** What this peer took before; updated with what it takes now. */
  learnt: Learnt;
  signal?: AbortSignal;
}

/**
 * C-STORE instances to a peer, as an SCU: one association, a second only when the first sent
 * nothing (the first instance needed rewriting and the peer does not take Verification). One
 * result per instance, in order; undefined for one that got no answer (`why` says why).
 */
export async function storeToPeer(instances: readonly StoredInstance[], o: ToPeer): Promise<{ results: (Sent | undefined)[]; why: string }> {
  const results: (Sent | undefined)[] = instances.map(() => undefined);
  let why = 'nothing to send';
  for (let attempt = 0; attempt < 2; attempt++) {
    if (o.signal?.aborted) {
      why = 'aborted';
      break;
    }
    const pending = instances.map((_, i) => i).filter((i) => !results[i]);
    if (!pending.length) break;
    const ops = pending.map((i) => new SubOperation(i, instances[i]));
    const r = await associate(ops, o);
    for (const op of ops) results[op.i] ??= op.result;
    why = r.why;
    if (!r.again) break;
  }
  return { results, why };
}

/** One association for `ops`; `again` when it sent nothing and another should follow. */
async function associate(all: SubOperation[], o: ToPeer): Promise<{ why: string; again: boolean }> {
  const { peer, learnt, signal } = o;
  // The first one to go out, read before the association opens, in the syntax the peer took last time.
  let ops = all;
  let leadBytes: { bytes: Buffer; ts: string } | undefined;
  while (ops.length) {
    const op = ops[0];
    const stored = op.inst.transferSyntaxUID;
    const known = learnt.get(key(op.inst));
    const target = known && sendableAs(stored, known) ? known : stored;
    const made = await o.prepare(op.inst, target);
    if (!('failed' in made)) leadBytes = { bytes: made.bytes, ts: target };
    else if (target === stored) {
      op.result = made;
      ops = ops.slice(1);
      continue;
    } // else: not in the syntax guessed, and perhaps not needed in it; the association says.
    break;
  }
  if (!ops.length) return { why: 'nothing to send', again: false };
  if (signal?.aborted) return { why: 'aborted', again: false };
  const lead = ops[0];
  const ahead = new ReadAhead(ops, o.prepare);
  if (leadBytes) ahead.holdEarly(lead, leadBytes.bytes, leadBytes.ts);

  return new Promise((resolve) => {
    const client = new Client();
    const echo = new requests.CEchoRequest();
    let why = 'no response';
    let again = false;

    client.addRequest(echo);
    for (const op of ops) {
      op.request.on('response', (response: { getStatus(): number }) => ahead.answered(op, response.getStatus()));
      client.addRequest(op.request);
    }

    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      ahead.close();
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
    signal?.addEventListener('abort', onAbort, { once: true });
    // No whole-association deadline in dcmjs-dimse: ours is the per-instance timeout times the instances.
    const timer = setTimeout(() => {
      why = 'timed out';
      onAbort();
    }, peer.timeoutSeconds * 1000 * Math.max(1, ops.length));
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
      for (const op of ops) {
        const target = acceptedFor(association, op.inst.sopClassUID, op.inst.transferSyntaxUID);
        learnt.set(key(op.inst), target ?? null);
        if (!target) {
          ahead.drop(op, { unaccepted: true });
          continue;
        }
        op.target = target;
        if (op === lead && op.dataset.size) {
          const heldTs = op.dataset.getTransferSyntaxUid();
          if (heldTs === target || acceptedFor(association, op.inst.sopClassUID, heldTs) === heldTs) ahead.ready(op, heldTs);
          else ahead.unhold(op);
        }
      }
      const going = ops.filter((op) => !op.finished);
      client.clearRequests();
      if (!going.length) return; // nothing to send: the library releases the association
      if (!going[0].ready) {
        if (!accepts(association, VERIFICATION)) {
          // The first instance is not ready and nothing can wait for it: another association, now that we know.
          again = true;
          return;
        }
        holdDone(echo, () => ahead.nextReady(-1));
        client.addRequest(echo);
      }
      for (const [k, op] of ops.entries()) {
        if (op.finished) continue;
        holdDone(op.request, () => ahead.nextReady(k));
        client.addRequest(op.request);
      }
      void ahead.run().catch(() => onAbort());
    });
    const tls = peer.tls;
    client.send(peer.host, peer.port, peer.callingAeTitle, peer.calledAeTitle, {
      connectTimeout: peer.timeoutSeconds * 1000,
      associationTimeout: peer.timeoutSeconds * 1000,
      pduTimeout: peer.timeoutSeconds * 1000,
      ...(tls ? { securityOptions: { ca: tls.ca, cert: tls.cert, key: tls.key, rejectUnauthorized: true } } : {}),
    });
  });
}

export interface OnAssociation {
  /** The open association the sub-operations go out on (its accepted contexts are known). */
  association: Association;
  /** Hands a request to the library (the SCP's sendRequests). */
  send: (request: StoreRequest) => void;
  prepare: Prepare;
  /** The association is gone: nothing more goes out. */
  signal?: AbortSignal;
}

/**
 * C-STORE sub-operations on an association that is already open, the gateway being the SCP
 * (C-GET): one at a time, each handed to the library once its bytes are ready in the syntax its
 * presentation context took, the next ones read (and rewritten) meanwhile. One result per
 * instance, in order; undefined for one that got no answer.
 */
export async function storeOnAssociation(instances: readonly StoredInstance[], o: OnAssociation): Promise<(Sent | undefined)[]> {
  const ops = instances.map((inst, i) => new SubOperation(i, inst));
  const ahead = new ReadAhead(ops, o.prepare);
  for (const op of ops) {
    const target = acceptedFor(o.association, op.inst.sopClassUID, op.inst.transferSyntaxUID);
    if (target) op.target = target;
    else ahead.drop(op, { unaccepted: true });
  }
  const stop = () => ahead.close();
  o.signal?.addEventListener('abort', stop, { once: true });
  // The reader never throws (prepare answers failures); should it, nothing more goes out.
  const reading = ahead.run().catch(stop);
  try {
    for (const op of ops) {
      if (o.signal?.aborted) break;
      if (!(await op.settled)) continue;
      // The library skips, without a word, a request it finds no context for: never hand it one.
      if (!o.association.getAcceptedPresentationContextFromRequest(op.request)) {
        ahead.drop(op, { unaccepted: true });
        continue;
      }
      const status = await new Promise<number | undefined>((resolve) => {
        let status: number | undefined;
        const gone = () => resolve(undefined);
        o.signal?.addEventListener('abort', gone, { once: true });
        op.request.on('response', (r: { getStatus(): number }) => (status = r.getStatus()));
        op.request.on('done', () => {
          o.signal?.removeEventListener('abort', gone);
          resolve(status);
        });
        o.send(op.request);
      });
      if (status === undefined) ahead.drop(op);
      else ahead.answered(op, status);
    }
  } finally {
    o.signal?.removeEventListener('abort', stop);
    ahead.close();
    await reading;
  }
  return ops.map((op) => op.result);
}
