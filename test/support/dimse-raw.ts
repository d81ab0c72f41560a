/**
 * A DICOM upper-layer peer built by hand over a raw TCP socket (PS3.8 section 9, PS3.7
 * section 9.3), for tests that send what no well-behaved SCU would: hostile PDUs, pathological
 * identifiers, data sets larger than any limit. Only what those tests need is here.
 */
import net from 'node:net';

export const UID = {
  ImplicitVRLittleEndian: '1.2.840.10008.1.2',
  ExplicitVRLittleEndian: '1.2.840.10008.1.2.1',
  Verification: '1.2.840.10008.1.1',
  StudyRootFind: '1.2.840.10008.5.1.4.1.2.2.1',
  StudyRootMove: '1.2.840.10008.5.1.4.1.2.2.2',
  CTImageStorage: '1.2.840.10008.5.1.4.1.1.2',
  ApplicationContext: '1.2.840.10008.3.1.1.1',
};

export interface ProposedContext {
  id: number;
  abstractSyntax: string;
  transferSyntaxes: string[];
}

function item(type: number, value: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h[0] = type;
  h.writeUInt16BE(value.length, 2);
  return Buffer.concat([h, value]);
}

function ae(title: string): Buffer {
  return Buffer.from(title.padEnd(16, ' ').slice(0, 16), 'ascii');
}

/** A PDU: type, reserved byte, 4-byte big-endian length, then the body. */
export function pdu(type: number, body: Buffer): Buffer {
  const h = Buffer.alloc(6);
  h[0] = type;
  h.writeUInt32BE(body.length, 2);
  return Buffer.concat([h, body]);
}

export function associateRq(calledAe: string, callingAe: string, contexts: ProposedContext[], maxPdu = 16384): Buffer {
  const fixed = Buffer.alloc(4);
  fixed.writeUInt16BE(1, 0); // protocol version
  const parts = [fixed, ae(calledAe), ae(callingAe), Buffer.alloc(32), item(0x10, Buffer.from(UID.ApplicationContext))];
  for (const c of contexts) {
    const head = Buffer.from([c.id, 0, 0, 0]);
    const subs = [item(0x30, Buffer.from(c.abstractSyntax)), ...c.transferSyntaxes.map((ts) => item(0x40, Buffer.from(ts)))];
    parts.push(item(0x20, Buffer.concat([head, ...subs])));
  }
  const max = Buffer.alloc(4);
  max.writeUInt32BE(maxPdu);
  parts.push(item(0x50, Buffer.concat([item(0x51, max), item(0x52, Buffer.from('1.2.826.0.1.3680043.9.9999.1'))])));
  return pdu(0x01, Buffer.concat(parts));
}

/** A P-DATA-TF with one PDV: control header bit 0 command, bit 1 last fragment. */
export function pdataTf(pcId: number, command: boolean, last: boolean, value: Buffer): Buffer {
  const h = Buffer.alloc(6);
  h.writeUInt32BE(value.length + 2, 0);
  h[4] = pcId;
  h[5] = (command ? 1 : 0) | (last ? 2 : 0);
  return pdu(0x04, Buffer.concat([h, value]));
}

export const releaseRq = (): Buffer => pdu(0x05, Buffer.alloc(4));

/** An implicit VR little endian element (commands are always implicit VR LE). */
export function implicitElement(group: number, element: number, value: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16LE(group, 0);
  h.writeUInt16LE(element, 2);
  h.writeUInt32LE(value.length, 4);
  return Buffer.concat([h, value]);
}

const us = (n: number) => {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n);
  return b;
};
const ui = (uid: string) => Buffer.from(uid.length % 2 ? uid + '\0' : uid, 'ascii');

/** A command set with its group length. */
export function command(fields: { sopClass: string; field: number; messageId: number; hasDataset: boolean; sopInstance?: string }): Buffer {
  const els = [implicitElement(0, 0x0002, ui(fields.sopClass)), implicitElement(0, 0x0100, us(fields.field)), implicitElement(0, 0x0110, us(fields.messageId))];
  if (fields.field !== 0x0030) els.push(implicitElement(0, 0x0700, us(0))); // priority
  els.push(implicitElement(0, 0x0800, us(fields.hasDataset ? 0x0000 : 0x0101)));
  if (fields.sopInstance) els.push(implicitElement(0, 0x1000, ui(fields.sopInstance)));
  const body = Buffer.concat(els);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(body.length);
  return Buffer.concat([implicitElement(0, 0x0000, len), body]);
}

export interface ReceivedPdu {
  type: number;
  body: Buffer;
}

/** The elements of an implicit VR LE command set (group 0000), by element number. */
export function readCommand(bytes: Buffer): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  let pos = 0;
  while (pos + 8 <= bytes.length) {
    const element = bytes.readUInt16LE(pos + 2);
    const len = bytes.readUInt32LE(pos + 4);
    out.set(element, bytes.subarray(pos + 8, pos + 8 + len));
    pos += 8 + len;
  }
  return out;
}

export interface DimseMessage {
  command: Map<number, Buffer>;
  status: number;
  errorComment: string;
  dataset?: Buffer;
}

/** A raw upper-layer connection: read PDUs as they come, wait for what a test expects. */
export class RawPeer {
  readonly socket: net.Socket;
  private buffer = Buffer.alloc(0);
  private readonly pdus: ReceivedPdu[] = [];
  private waiters: (() => void)[] = [];
  closed = false;
  closedAt = 0;
  readonly openedAt = Date.now();
  private commandParts: Buffer[] = [];
  private dataParts: Buffer[] = [];
  private pendingCommand?: Map<number, Buffer>;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      while (this.buffer.length >= 6) {
        const len = this.buffer.readUInt32BE(2);
        if (this.buffer.length < 6 + len) break;
        this.pdus.push({ type: this.buffer[0], body: this.buffer.subarray(6, 6 + len) });
        this.buffer = this.buffer.subarray(6 + len);
      }
      this.wake();
    });
    socket.on('error', () => undefined); // a reset is one way to be closed
    socket.on('close', () => {
      this.closed = true;
      this.closedAt = Date.now();
      this.wake();
    });
  }

  static connect(port: number): Promise<RawPeer> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => resolve(new RawPeer(s)));
      s.once('error', reject);
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolves when `cond` holds, or rejects after `ms`. */
  waitFor<T>(cond: () => T | undefined, ms: number, what: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
      const check = () => {
        const v = cond();
        if (v !== undefined) {
          clearTimeout(timer);
          resolve(v);
        } else this.waiters.push(check);
      };
      check();
    });
  }

  nextPdu(ms = 5000): Promise<ReceivedPdu> {
    return this.waitFor(() => this.pdus.shift() ?? (this.closed ? ({ type: -1, body: Buffer.alloc(0) } as ReceivedPdu) : undefined), ms, 'a PDU');
  }

  /** Resolves when the gateway has closed the connection (true), or false after `ms`. */
  whenClosed(ms: number): Promise<boolean> {
    return this.waitFor(() => (this.closed ? true : undefined), ms, 'close').catch(() => false);
  }

  /** The PDUs received so far and not yet taken. */
  received(): ReceivedPdu[] {
    return this.pdus;
  }

  write(bytes: Buffer): Promise<void> {
    return new Promise((resolve) => {
      if (this.closed || this.socket.destroyed) return resolve();
      if (this.socket.write(bytes)) resolve();
      else {
        const done = () => {
          this.socket.off('drain', done);
          this.socket.off('close', done);
          resolve();
        };
        this.socket.once('drain', done);
        this.socket.once('close', done);
      }
    });
  }

  /** A-ASSOCIATE-RQ; resolves with the answer's PDU type (2 AC, 3 RJ) and body. */
  async associate(callingAe: string, contexts: ProposedContext[], calledAe = 'VEILGATE'): Promise<ReceivedPdu> {
    await this.write(associateRq(calledAe, callingAe, contexts));
    return this.nextPdu();
  }

  /** The next whole DIMSE message the gateway sends (command, and data set when it has one). */
  async nextMessage(ms = 5000): Promise<DimseMessage> {
    const deadline = Date.now() + ms;
    for (;;) {
      const p = await this.nextPdu(Math.max(1, deadline - Date.now()));
      if (p.type !== 0x04) throw new Error(`expected P-DATA-TF, got PDU type ${p.type}`);
      let pos = 0;
      while (pos < p.body.length) {
        const len = p.body.readUInt32BE(pos);
        const mch = p.body[pos + 5];
        const value = p.body.subarray(pos + 6, pos + 4 + len);
        pos += 4 + len;
        if (mch & 1) {
          this.commandParts.push(value);
          if (mch & 2) {
            const cmd = readCommand(Buffer.concat(this.commandParts));
            this.commandParts = [];
            const hasData = cmd.get(0x0800)?.readUInt16LE(0) !== 0x0101;
            if (!hasData) return message(cmd);
            this.pendingCommand = cmd;
          }
        } else {
          this.dataParts.push(value);
          if (mch & 2) {
            const cmd = this.pendingCommand!;
            this.pendingCommand = undefined;
            const data = Buffer.concat(this.dataParts);
            this.dataParts = [];
            return message(cmd, data);
          }
        }
      }
    }
  }

  /** Send one DIMSE message, the data set split into PDVs of at most `fragment` bytes. */
  async sendMessage(pcId: number, cmd: Buffer, dataset?: Buffer, fragment = 16000): Promise<void> {
    await this.write(pdataTf(pcId, true, true, cmd));
    if (!dataset) return;
    if (dataset.length === 0) return this.write(pdataTf(pcId, false, true, dataset));
    for (let i = 0; i < dataset.length; i += fragment) {
      await this.write(pdataTf(pcId, false, i + fragment >= dataset.length, dataset.subarray(i, i + fragment)));
    }
  }

  async release(): Promise<void> {
    await this.write(releaseRq());
    await this.nextPdu(2000).catch(() => undefined);
    this.socket.end();
    await this.whenClosed(2000);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

function message(command: Map<number, Buffer>, dataset?: Buffer): DimseMessage {
  const status = command.get(0x0900)?.readUInt16LE(0) ?? -1;
  const errorComment = (command.get(0x0902)?.toString('latin1') ?? '').replace(/[\0 ]+$/, '');
  return { command, status, errorComment, dataset };
}

/** A-ASSOCIATE-AC: the result of each presentation context, by context ID (0 is acceptance). */
export function acceptedContexts(ac: ReceivedPdu): Map<number, number> {
  const out = new Map<number, number>();
  let pos = 68;
  while (pos + 4 <= ac.body.length) {
    const type = ac.body[pos];
    const len = ac.body.readUInt16BE(pos + 2);
    if (type === 0x21) out.set(ac.body[pos + 4], ac.body[pos + 6]);
    pos += 4 + len;
  }
  return out;
}

/** Explicit VR little endian element with a 2-byte length. */
export function explicitShort(group: number, element: number, vr: string, value: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16LE(group, 0);
  h.writeUInt16LE(element, 2);
  h.write(vr, 4, 'ascii');
  h.writeUInt16LE(value.length, 6);
  return Buffer.concat([h, value]);
}

/** Explicit VR little endian element with a 4-byte length (OB, SQ, UN, ...); undefined length when `length` is given as 0xFFFFFFFF. */
export function explicitLong(group: number, element: number, vr: string, value: Buffer, length = value.length): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16LE(group, 0);
  h.writeUInt16LE(element, 2);
  h.write(vr, 4, 'ascii');
  h.writeUInt32LE(length, 8);
  return Buffer.concat([h, value]);
}

/**
 * A C-FIND identifier whose sequences nest `depth` levels deep (explicit VR LE, undefined
 * lengths): 36 bytes a level, so 50,000 levels are 1.8 MB.
 */
export function nestedIdentifier(depth: number): Buffer {
  const open = Buffer.concat([explicitLong(0x0040, 0x0275, 'SQ', Buffer.alloc(0), 0xffffffff), itemHeader(0xe000, 0xffffffff)]);
  const close = Buffer.concat([itemHeader(0xe00d, 0), itemHeader(0xe0dd, 0)]);
  const head = explicitShort(0x0008, 0x0052, 'CS', Buffer.from('STUDY '));
  const parts: Buffer[] = [head];
  for (let i = 0; i < depth; i++) parts.push(open);
  for (let i = 0; i < depth; i++) parts.push(close);
  return Buffer.concat(parts);
}

function itemHeader(element: number, length: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt16LE(0xfffe, 0);
  b.writeUInt16LE(element, 2);
  b.writeUInt32LE(length, 4);
  return b;
}

/**
 * An identifier at the nesting limit and near a size: one sequence whose items each nest
 * `depth` levels, repeated until `bytes` is reached. Legal, and costly for a naive reader.
 */
export function bushyIdentifier(depth: number, bytes: number): Buffer {
  let chain = explicitShort(0x0010, 0x0010, 'PN', Buffer.from('A^B '));
  for (let i = 1; i < depth; i++) chain = Buffer.concat([explicitLong(0x0040, 0x0275, 'SQ', Buffer.alloc(0), 0xffffffff), itemHeader(0xe000, 0xffffffff), chain, itemHeader(0xe00d, 0), itemHeader(0xe0dd, 0)]);
  const items: Buffer[] = [];
  for (let n = 0; n < bytes; n += chain.length + 16) items.push(itemHeader(0xe000, 0xffffffff), chain, itemHeader(0xe00d, 0));
  return Buffer.concat([
    explicitShort(0x0008, 0x0052, 'CS', Buffer.from('STUDY ')),
    explicitLong(0x0040, 0x0275, 'SQ', Buffer.alloc(0), 0xffffffff),
    ...items,
    itemHeader(0xe0dd, 0),
  ]);
}
