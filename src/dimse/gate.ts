/**
 * The PDU gate: our code reads every byte a DIMSE peer sends before dcmjs-dimse does, and
 * hands the library only what is acceptable, one whole PDU per `data` event.
 *
 * - Before the association is accepted only an A-ASSOCIATE-RQ of bounded size may arrive, and
 *   it must arrive whole within preAssociationTimeoutSeconds; otherwise A-ABORT and close.
 * - After it, PDUs are bounded by what we announced (P-DATA-TF) or by their fixed size
 *   (release, abort); anything else is a protocol violation and aborts the association.
 * - Inside P-DATA-TF each message's command and data set are followed PDV by PDV. A C-STORE
 *   data set past maxInstanceBytes stops being forwarded (an empty last fragment ends it); a
 *   C-FIND/C-MOVE/C-GET identifier is held here, bounded by maxIdentifierBytes, and parsed
 *   by our own reader with maxNestingDepth. dcmjs is always given an empty identifier: its
 *   reader takes over a second on a 1 MiB identifier nested 32 deep (ours ~30 ms), so the
 *   SCP reads the identifier we parsed. Each such message leaves a verdict, read in order.
 *
 * dcmjs-dimse never concatenates a growing buffer (it gets whole PDUs), never parses an
 * identifier, and never holds more of a data set than the limit.
 */
import type { Socket } from 'node:net';
import { log } from '../log';
import { DicomLimitError, DicomParseError, parseDataset } from '../dicom/parse';
import { Dataset } from '../dicom/dataset';
import { AbortReason, AbortSource, CommandField, CommandSummary, PDU_HEADER_BYTES, Pdv, PduType, abortPdu, pdataPdu, readCommand, readPdvs } from './pdu';

/** An A-ASSOCIATE-RQ larger than this is refused (real ones are a few KiB). */
export const MAX_ASSOCIATE_RQ_BYTES = 64 * 1024;
/** A command set is a few hundred bytes; this bounds one generously. */
const MAX_COMMAND_BYTES = 64 * 1024;
/** Slack over the announced maximum P-DATA-TF length, for peers that count headers into it. */
const PDU_LENGTH_TOLERANCE = 1024;
/** A-RELEASE-RQ/RP and A-ABORT have a 4-byte body; this leaves room and no more. */
const MAX_SMALL_PDU_BYTES = 64;
/** After an A-ABORT (or a rejection) the peer has this long to close before we do. */
const CLOSE_GRACE_MS = 1000;

const EMPTY: Buffer = Buffer.alloc(0);
/** The queue's own buffer is kept for the next PDU up to this size. */
const REUSED_BUFFER_MAX = 1024 * 1024;

export interface GateLimits {
  preAssociationTimeoutMs: number;
  /** Our configured maximum P-DATA-TF length (what we announce is at most this). */
  maxPduLength: number;
  maxInstanceBytes: number;
  maxIdentifierBytes: number;
  maxNestingDepth: number;
}

/** What the SCP accepted: the transfer syntax of each accepted presentation context, and the max PDU length it announced. */
export interface AcceptedAssociation {
  maxPduLength: number;
  contexts: Map<number, string>;
}

/** A refused request: the status to answer, a comment naming the limit, and the limit's name for the log. */
export interface Refusal {
  status: number;
  comment: string;
  limit: string;
  bytes: number;
}

/** The gate's judgement of one C-STORE/C-FIND/C-MOVE/C-GET request with a data set, in arrival order. */
export interface Verdict {
  messageId: number;
  commandField: number;
  refusal?: Refusal;
  /** A C-FIND/C-MOVE/C-GET identifier as our parser read it (dcmjs is given an empty one). */
  identifier?: Dataset;
}

type State = 'awaiting-rq' | 'requested' | 'associated' | 'released' | 'rejected' | 'closed';

interface Message {
  pcId: number;
  transferSyntax: string;
  commandParts: Buffer[];
  commandBytes: number;
  summary?: CommandSummary;
  dataBytes: number;
  /** Held identifier fragments (not for C-STORE, whose data streams through). */
  dataParts: Buffer[];
  over: boolean;
}

/**
 * Pending bytes. A socket chunk is kept as it came while it is all there is (PDUs inside it
 * are read in place: Node never reuses a chunk it has emitted); bytes that must wait for the
 * next chunk move into a buffer of our own, reused from one PDU to the next. A view of our own
 * buffer is only valid until the next push, so whatever outlives the PDU is copied (`stable`).
 */
class ByteQueue {
  private buf: Buffer = EMPTY;
  private start = 0;
  private end = 0;
  private owned = false;
  private spare?: Buffer;

  get length(): number {
    return this.end - this.start;
  }

  /** Whether views stay valid after the next push (they do over a socket chunk). */
  get stable(): boolean {
    return !this.owned;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (this.length === 0) {
      if (this.owned) this.spare = this.buf;
      this.buf = chunk;
      this.start = 0;
      this.end = chunk.length;
      this.owned = false;
      return;
    }
    const needed = this.length + chunk.length;
    if (!this.owned || this.end + chunk.length > this.buf.length) {
      let next: Buffer;
      if (this.owned && needed <= this.buf.length) next = this.buf; // compact in place (copy handles the overlap)
      else if (!this.owned && this.spare && this.spare.length >= needed) next = this.spare;
      else next = Buffer.allocUnsafe(Math.max(needed, this.owned ? this.buf.length * 2 : 64 * 1024));
      this.spare = undefined;
      this.buf.copy(next, 0, this.start, this.end);
      this.buf = next;
      this.end = this.length;
      this.start = 0;
      this.owned = true;
    }
    chunk.copy(this.buf, this.end);
    this.end += chunk.length;
  }

  byteAt(i: number): number {
    return this.buf[this.start + i];
  }

  uint32At(i: number): number {
    return this.buf.readUInt32BE(this.start + i);
  }

  /** The next `n` bytes in place (valid until the next push when not `stable`). */
  view(n: number): Buffer {
    return this.buf.subarray(this.start, this.start + n);
  }

  skip(n: number): void {
    this.start = Math.min(this.start + n, this.end);
    if (this.start < this.end) return;
    this.start = this.end = 0;
    if (!this.owned || this.buf.length > REUSED_BUFFER_MAX) this.clear();
  }

  clear(): void {
    this.buf = EMPTY;
    this.start = this.end = 0;
    this.owned = false;
    this.spare = undefined;
  }
}

export class PduGate {
  /** Called when a C-STORE data set passes the limit: whatever the SCP holds of it can go. */
  onStoreOverLimit?: () => void;

  private state: State = 'awaiting-rq';
  private readonly queue = new ByteQueue();
  private readonly forwardToLibrary: (pdu: Buffer) => void;
  private readonly timer: NodeJS.Timeout;
  private contexts = new Map<number, string>();
  private maxPData = 0;
  private message?: Message;
  private readonly verdicts: Verdict[] = [];
  private pumping = false;
  /** Whether the PDU being handled is a view that outlives the next push (see ByteQueue). */
  private viewStable = true;
  private received = 0;
  private readonly host: string;

  constructor(
    private readonly socket: Socket,
    private readonly limits: GateLimits,
  ) {
    this.host = (socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    // Every 'data' event comes here first; the library's listener sees only what we forward.
    const emit = socket.emit as (this: Socket, event: string | symbol, ...args: unknown[]) => boolean;
    this.forwardToLibrary = (pdu) => void emit.call(socket, 'data', pdu);
    socket.emit = ((event: string | symbol, ...args: unknown[]) => {
      if (event === 'data') {
        this.receive(args[0] as Buffer);
        return true;
      }
      return emit.apply(socket, [event, ...args]);
    }) as Socket['emit'];
    this.timer = setTimeout(() => this.preAssociationExpired(), limits.preAssociationTimeoutMs);
    this.timer.unref();
    socket.once('close', () => {
      this.state = 'closed';
      clearTimeout(this.timer);
      this.queue.clear();
      this.message = undefined;
    });
  }

  /** The SCP accepted the association (after sending A-ASSOCIATE-AC). */
  accepted(association: AcceptedAssociation): void {
    if (this.state !== 'requested') return;
    clearTimeout(this.timer);
    this.contexts = association.contexts;
    this.maxPData = Math.max(association.maxPduLength || 0, this.limits.maxPduLength) + PDU_LENGTH_TOLERANCE;
    this.state = 'associated';
    this.pump();
  }

  /** The SCP rejected the association (after sending A-ASSOCIATE-RJ): the peer should close; we end our side. */
  rejected(): void {
    if (this.state === 'closed') return;
    this.state = 'rejected';
    this.queue.clear();
    // The pre-association timer still runs (ARTIM, PS3.8 9.1.5): a peer that never closes is closed then.
    this.socket.end();
  }

  /** The verdict on the next C-STORE/C-FIND/C-MOVE/C-GET request with a data set. */
  takeVerdict(messageId: number): Verdict | undefined {
    const v = this.verdicts.shift();
    if (v && v.messageId !== messageId) {
      log.error('dimse-verdict-out-of-order', { host: this.host, expected: v.messageId, got: messageId });
      return { messageId, commandField: v.commandField, refusal: { status: 0xc000, comment: 'request out of order', limit: 'order', bytes: 0 } };
    }
    return v;
  }

  private receive(chunk: Buffer): void {
    if (this.state === 'closed' || this.state === 'rejected' || !Buffer.isBuffer(chunk)) return;
    this.received += chunk.length;
    this.queue.push(chunk);
    this.pump();
  }

  private pump(): void {
    if (this.pumping) return; // forwarding can call back into the gate (accepted) synchronously
    this.pumping = true;
    try {
      while (this.state === 'awaiting-rq' || this.state === 'associated' || this.state === 'released') {
        if (this.queue.length < PDU_HEADER_BYTES) break;
        const type = this.queue.byteAt(0);
        const length = this.queue.uint32At(2);
        const problem = this.check(type, length);
        if (problem) {
          this.abort(problem.why, problem.reason, { pduType: type, pduLength: length });
          break;
        }
        if (this.queue.length < PDU_HEADER_BYTES + length) break;
        // Read in place: a dropped PDU costs no copy; what is kept or forwarded goes through keep().
        this.viewStable = this.queue.stable;
        this.handle(type, this.queue.view(PDU_HEADER_BYTES + length));
        this.queue.skip(PDU_HEADER_BYTES + length);
      }
      // Waiting for the SCP's answer to the RQ: a peer has nothing to send yet.
      if (this.state === 'requested' && this.queue.length > MAX_ASSOCIATE_RQ_BYTES) {
        this.abort('data sent before the association was answered', AbortReason.UnexpectedPdu, {});
      }
    } finally {
      this.pumping = false;
    }
  }

  /** Whether a PDU header is acceptable in this state, judged before its body is buffered. */
  private check(type: number, length: number): { why: string; reason: number } | undefined {
    if (this.state === 'awaiting-rq') {
      if (type !== PduType.AssociateRq) return { why: 'expected A-ASSOCIATE-RQ', reason: AbortReason.UnexpectedPdu };
      if (length > MAX_ASSOCIATE_RQ_BYTES) return { why: `A-ASSOCIATE-RQ over ${MAX_ASSOCIATE_RQ_BYTES} bytes`, reason: AbortReason.InvalidPduParameterValue };
      return undefined;
    }
    switch (type) {
      case PduType.PDataTf:
        return length > this.maxPData ? { why: `P-DATA-TF over the announced maximum (${this.maxPData} bytes)`, reason: AbortReason.InvalidPduParameterValue } : undefined;
      case PduType.ReleaseRq:
      case PduType.ReleaseRp:
      case PduType.Abort:
        return length > MAX_SMALL_PDU_BYTES ? { why: 'oversized release or abort PDU', reason: AbortReason.InvalidPduParameterValue } : undefined;
      case PduType.AssociateRq:
      case PduType.AssociateAc:
      case PduType.AssociateRj:
        return { why: 'association PDU on an established association', reason: AbortReason.UnexpectedPdu };
      default:
        return { why: 'unrecognized PDU type', reason: AbortReason.UnrecognizedPdu };
    }
  }

  /** Bytes of the PDU being handled that must outlive it. */
  private keep(bytes: Buffer): Buffer {
    return this.viewStable ? bytes : Buffer.from(bytes);
  }

  private forward(pdu: Buffer): void {
    this.forwardToLibrary(this.keep(pdu));
  }

  private handle(type: number, pdu: Buffer): void {
    if (this.state === 'awaiting-rq') {
      this.state = 'requested';
      this.forward(pdu); // the SCP answers, and calls accepted() or rejected()
      return;
    }
    if (this.state === 'released') {
      // After A-RELEASE-RQ only the end of the association matters.
      if (type === PduType.Abort || type === PduType.ReleaseRp) this.forward(pdu);
      return;
    }
    if (type === PduType.PDataTf) return this.pdata(pdu);
    if (type === PduType.ReleaseRq || type === PduType.Abort) this.state = 'released';
    this.forward(pdu);
  }

  private pdata(pdu: Buffer): void {
    const pdvs = readPdvs(pdu);
    if (typeof pdvs === 'string') return this.abort(pdvs, AbortReason.InvalidPduParameterValue, {});
    for (const pdv of pdvs) {
      if (this.state !== 'associated') return;
      // A PDU of one PDV is forwarded as it came; otherwise each PDV goes in a PDU of its own.
      this.pdv(pdv, pdvs.length === 1 ? pdu : undefined);
    }
  }

  private pdv(p: Pdv, whole: Buffer | undefined): void {
    const transferSyntax = this.contexts.get(p.presentationContextId);
    if (transferSyntax === undefined) return this.abort('PDV on a presentation context that was not accepted', AbortReason.UnexpectedPduParameter, {});
    let m = this.message;
    if (!m) {
      if (!p.command) return this.abort('data set PDV without a command', AbortReason.UnexpectedPduParameter, {});
      m = this.message = { pcId: p.presentationContextId, transferSyntax, commandParts: [], commandBytes: 0, dataBytes: 0, dataParts: [], over: false };
    }
    if (m.pcId !== p.presentationContextId) return this.abort('one message on two presentation contexts', AbortReason.UnexpectedPduParameter, {});
    if (p.command) return this.commandPdv(m, p, whole);
    if (!m.summary) return this.abort('data set PDV before the command ended', AbortReason.UnexpectedPduParameter, {});
    m.dataBytes += p.value.length;
    if (m.summary.commandField === CommandField.CStoreRq) this.storePdv(m, m.summary, p, whole);
    else this.identifierPdv(m, m.summary, p);
  }

  private commandPdv(m: Message, p: Pdv, whole: Buffer | undefined): void {
    if (m.summary) return this.abort('command PDV inside a data set', AbortReason.UnexpectedPduParameter, {});
    m.commandBytes += p.value.length;
    if (m.commandBytes > MAX_COMMAND_BYTES) return this.abort(`command set over ${MAX_COMMAND_BYTES} bytes`, AbortReason.InvalidPduParameterValue, {});
    m.commandParts.push(this.keep(p.value));
    if (!p.last) return;
    const single = m.commandParts.length === 1;
    const bytes = single ? m.commandParts[0] : Buffer.concat(m.commandParts);
    m.commandParts = [];
    const summary = readCommand(bytes);
    if (typeof summary === 'string') return this.abort(summary, AbortReason.InvalidPduParameterValue, {});
    if (summary.hasDataset) m.summary = summary;
    else this.message = undefined;
    if (single && whole) this.forward(whole);
    else this.forwardToLibrary(pdataPdu({ ...p, value: bytes }));
  }

  /** C-STORE data streams through until the limit; past it nothing more is forwarded or kept. */
  private storePdv(m: Message, summary: CommandSummary, p: Pdv, whole: Buffer | undefined): void {
    const max = this.limits.maxInstanceBytes;
    if (!m.over && m.dataBytes > max) {
      m.over = true;
      this.onStoreOverLimit?.();
    }
    if (!p.last) {
      if (!m.over) {
        if (whole) this.forward(whole);
        else this.forwardToLibrary(pdataPdu(p));
      }
      return;
    }
    this.message = undefined;
    const refusal = m.over ? { status: 0xa700, comment: `data set over maxInstanceBytes (${max} bytes)`, limit: 'maxInstanceBytes', bytes: m.dataBytes } : undefined;
    this.verdicts.push({ messageId: summary.messageId, commandField: summary.commandField, refusal });
    if (!m.over && whole) this.forward(whole);
    else this.forwardToLibrary(pdataPdu(m.over ? { ...p, value: EMPTY } : p));
  }

  /** Identifiers are held here, bounded, and judged whole before dcmjs parses them. */
  private identifierPdv(m: Message, summary: CommandSummary, p: Pdv): void {
    const max = this.limits.maxIdentifierBytes;
    if (!m.over && m.dataBytes > max) {
      m.over = true;
      m.dataParts = [];
    }
    if (!m.over) m.dataParts.push(this.keep(p.value));
    if (!p.last) return;
    this.message = undefined;
    const bytes = m.over ? EMPTY : Buffer.concat(m.dataParts);
    m.dataParts = [];
    const judged = m.over
      ? { refusal: { status: 0xa900, comment: `identifier over maxIdentifierBytes (${max})`, limit: 'maxIdentifierBytes', bytes: m.dataBytes } }
      : this.judgeIdentifier(bytes, m.transferSyntax);
    const handled = [CommandField.CFindRq, CommandField.CMoveRq, CommandField.CGetRq] as number[];
    // Other requests with a data set (N-services, which this SCP does not offer) get no verdict.
    if (handled.includes(summary.commandField)) this.verdicts.push({ messageId: summary.messageId, commandField: summary.commandField, ...judged });
    this.forwardToLibrary(pdataPdu({ ...p, value: EMPTY }));
  }

  private judgeIdentifier(bytes: Buffer, transferSyntax: string): { refusal?: Refusal; identifier?: Dataset } {
    const depth = this.limits.maxNestingDepth;
    try {
      return { identifier: parseDataset(bytes, transferSyntax, { maxDepth: depth, maxInflatedBytes: this.limits.maxIdentifierBytes }) };
    } catch (e) {
      if (e instanceof DicomLimitError) {
        return /nested/.test(e.message)
          ? { refusal: { status: 0xa900, comment: `identifier nested deeper than maxNestingDepth (${depth})`, limit: 'maxNestingDepth', bytes: bytes.length } }
          : { refusal: { status: 0xa900, comment: `identifier inflates past maxIdentifierBytes`, limit: 'maxIdentifierBytes', bytes: bytes.length } };
      }
      if (e instanceof DicomParseError) return { refusal: { status: 0xa900, comment: 'identifier cannot be parsed', limit: 'parse', bytes: bytes.length } };
      throw e;
    }
  }

  private preAssociationExpired(): void {
    if (this.state === 'associated' || this.state === 'released' || this.state === 'closed') return;
    const rejected = this.state === 'rejected';
    log.warn('dimse-pre-association-timeout', { host: this.host, state: this.state, bytesReceived: this.received, seconds: this.limits.preAssociationTimeoutMs / 1000 });
    this.close(rejected ? undefined : abortPdu(AbortSource.ServiceProvider, AbortReason.NotSpecified));
  }

  private abort(why: string, reason: number, fields: Record<string, unknown>): void {
    if (this.state === 'closed') return;
    log.warn('dimse-protocol-abort', { host: this.host, state: this.state, why, ...fields });
    this.close(abortPdu(AbortSource.ServiceProvider, reason));
  }

  /** Send a last PDU, end our side, and destroy the socket if the peer has not closed within the grace. */
  private close(last?: Buffer): void {
    this.state = 'closed';
    clearTimeout(this.timer);
    this.queue.clear();
    this.message = undefined;
    const socket = this.socket;
    if (socket.destroyed) return;
    if (last && socket.writable) socket.write(last);
    socket.end();
    const grace = setTimeout(() => socket.destroy(), CLOSE_GRACE_MS);
    grace.unref();
    socket.once('close', () => clearTimeout(grace));
  }
}
