/**
 * Audit messages to a syslog collector (an audit record repository): RFC 5424 messages over
 * TCP with octet-counting framing (RFC 6587 3.4.1, "MSG-LEN SP SYSLOG-MSG"), optionally over
 * TLS (RFC 5425, as DICOM's Audit Trail Message Transmission Profile and IHE ATNA use it).
 *
 *   <PRI>1 TIMESTAMP HOSTNAME veilgate PROCID MSGID - BOM<AuditMessage …/>
 *
 * PRI is facility × 8 + severity: facility 10 (authpriv) unless configured; severity 5
 * (notice) for a success, 4 (warning) for a minor failure, 3 (error) serious, 2 (critical)
 * major. MSGID is the event's name (ApplicationActivity, Query, …). MSG is the XML in UTF-8,
 * after the byte order mark RFC 5424 6.4 asks for.
 *
 * The sink never blocks its caller and never grows without bound: messages wait in a queue
 * of at most maxQueue messages (and maxQueueBytes) while the collector is down or slow; past
 * that, new messages are dropped and counted. It reconnects with exponential backoff (with
 * jitter) from backoffInitialMs to backoffMaxMs. Like all plain syslog transports, a message
 * already handed to the socket when the connection breaks may be lost; the file sink is the
 * trail of record.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import tls from 'node:tls';
import { OutcomeIndicator } from './codes';
import { AuditMessage } from './messages';
import { AuditSink } from './sink';

export interface SyslogTlsOptions {
  /** PEM file of the CA (or CAs) the collector's certificate must chain to. */
  ca?: string;
  /** Default true: a collector whose certificate does not verify is refused. */
  rejectUnauthorized?: boolean;
  /** PEM files of this node's certificate and key, for collectors that authenticate nodes (ATNA). */
  cert?: string;
  key?: string;
  /** The name the certificate is checked against (default: host, when it is a name). */
  servername?: string;
}

export interface SyslogSinkOptions {
  host: string;
  port: number;
  tls?: SyslogTlsOptions;
  /** 0–23; default 10 (authpriv). */
  facility?: number;
  /** HOSTNAME field (default os.hostname()). */
  hostname?: string;
  maxQueue?: number;
  maxQueueBytes?: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  connectTimeoutMs?: number;
  /** How long close() waits to deliver what is queued. */
  closeTimeoutMs?: number;
  /** A connection failure (the AuditTrail counts and logs it). */
  onError?: (error: unknown) => void;
  /** Messages were dropped; gives the running total. */
  onDrop?: (dropped: number) => void;
}

export const APP_NAME = 'veilgate';
export const DEFAULT_FACILITY = 10;

const SEVERITY: Record<OutcomeIndicator, number> = { 0: 5, 4: 4, 8: 3, 12: 2 };
const BOM = '\uFEFF';

/** RFC 5424 fields are printable US-ASCII without spaces; anything else becomes "-" / "_". */
function headerField(s: string, max: number): string {
  const clean = s.replace(/[^\x21-\x7e]/g, '_').slice(0, max);
  return clean.length ? clean : '-';
}

/** One RFC 5424 message for an audit message (without framing). */
export function formatSyslogMessage(
  message: AuditMessage,
  opts: { facility?: number; hostname?: string; procId?: string | number } = {},
): Buffer {
  const facility = opts.facility ?? DEFAULT_FACILITY;
  const pri = facility * 8 + SEVERITY[message.outcome];
  const header = [
    `<${pri}>1`,
    message.time.toISOString(),
    headerField(opts.hostname ?? os.hostname(), 255),
    APP_NAME,
    headerField(String(opts.procId ?? process.pid), 128),
    headerField(message.eventName, 32),
    '-',
  ].join(' ');
  return Buffer.from(`${header} ${BOM}${message.xml}`, 'utf8');
}

/** RFC 6587 octet counting: "MSG-LEN SP SYSLOG-MSG". */
export function frame(syslogMessage: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${syslogMessage.length} `, 'ascii'), syslogMessage]);
}

type State = 'connecting' | 'connected' | 'waiting' | 'closed';

export class SyslogSink implements AuditSink {
  readonly name = 'syslog';
  private readonly opts: Required<Omit<SyslogSinkOptions, 'tls' | 'onError' | 'onDrop'>> & Pick<SyslogSinkOptions, 'onError' | 'onDrop'>;
  private readonly tlsOptions: tls.ConnectionOptions | undefined;
  private queue: Buffer[] = [];
  private head = 0;
  private queueBytes = 0;
  private socket: net.Socket | undefined;
  private state: State = 'waiting';
  private blocked = false;
  private attempts = 0;
  private timer: NodeJS.Timeout | undefined;
  private closing = false;
  private connectedWaiters: Array<() => void> = [];
  private counters = { sent: 0, dropped: 0, droppedOnClose: 0, connects: 0, connectFailures: 0 };

  constructor(options: SyslogSinkOptions) {
    this.opts = {
      host: options.host,
      port: options.port,
      facility: options.facility ?? DEFAULT_FACILITY,
      hostname: options.hostname ?? os.hostname(),
      maxQueue: options.maxQueue ?? 10_000,
      maxQueueBytes: options.maxQueueBytes ?? 32 * 1024 * 1024,
      backoffInitialMs: options.backoffInitialMs ?? 500,
      backoffMaxMs: options.backoffMaxMs ?? 30_000,
      connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
      closeTimeoutMs: options.closeTimeoutMs ?? 2_000,
      onError: options.onError,
      onDrop: options.onDrop,
    };
    if (!Number.isInteger(this.opts.facility) || this.opts.facility < 0 || this.opts.facility > 23) throw new Error('syslog sink: facility must be 0 to 23');
    if (!Number.isInteger(this.opts.port) || this.opts.port < 1 || this.opts.port > 65535) throw new Error('syslog sink: port must be 1 to 65535');
    if (!Number.isInteger(this.opts.maxQueue) || this.opts.maxQueue < 1) throw new Error('syslog sink: maxQueue must be a positive integer');
    if (options.tls) {
      const t = options.tls;
      this.tlsOptions = {
        host: options.host,
        port: options.port,
        ca: t.ca ? fs.readFileSync(t.ca) : undefined,
        cert: t.cert ? fs.readFileSync(t.cert) : undefined,
        key: t.key ? fs.readFileSync(t.key) : undefined,
        rejectUnauthorized: t.rejectUnauthorized ?? true,
        servername: t.servername ?? (net.isIP(options.host) ? undefined : options.host),
      };
    }
    this.connect();
  }

  write(message: AuditMessage): void {
    if (this.state === 'closed' || this.closing) throw new Error('syslog sink is closed');
    const f = frame(formatSyslogMessage(message, { facility: this.opts.facility, hostname: this.opts.hostname }));
    if (this.queued >= this.opts.maxQueue || this.queueBytes + f.length > this.opts.maxQueueBytes) {
      this.counters.dropped++;
      this.opts.onDrop?.(this.counters.dropped);
      return;
    }
    this.queue.push(f);
    this.queueBytes += f.length;
    this.pump();
  }

  get queued(): number {
    return this.queue.length - this.head;
  }

  get connected(): boolean {
    return this.state === 'connected';
  }

  stats(): Record<string, number> {
    return { ...this.counters, queued: this.queued };
  }

  /** Deliver the queue (waiting up to closeTimeoutMs, for a connection too), then disconnect. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.closing = true;
    const deadline = Date.now() + this.opts.closeTimeoutMs;
    if (this.state !== 'connected' && this.queued > 0) {
      if (this.timer) {
        clearTimeout(this.timer);
        this.timer = undefined;
        this.connect();
      }
      await this.waitConnected(deadline - Date.now());
    }
    if (this.state === 'connected' && this.socket) {
      const socket = this.socket;
      // Hand everything to the socket, then end it and wait until it has gone out.
      while (this.queued > 0) this.sendOne(socket);
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          socket.destroy();
          resolve();
        }, Math.max(0, deadline - Date.now()));
        socket.once('close', () => {
          clearTimeout(t);
          resolve();
        });
        socket.end();
      });
    }
    this.counters.droppedOnClose += this.queued;
    this.queue = [];
    this.head = 0;
    this.queueBytes = 0;
    this.state = 'closed';
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.socket?.destroy();
    this.socket = undefined;
  }

  private waitConnected(ms: number): Promise<void> {
    if (this.state === 'connected' || ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.connectedWaiters.push(done);
    });
  }

  private connect(): void {
    if (this.state === 'closed') return;
    this.state = 'connecting';
    const readyEvent = this.tlsOptions ? 'secureConnect' : 'connect';
    const socket = this.tlsOptions ? tls.connect(this.tlsOptions) : net.connect({ host: this.opts.host, port: this.opts.port });
    this.socket = socket;
    socket.setTimeout(this.opts.connectTimeoutMs, () => socket.destroy(new Error('syslog connection timed out')));
    socket.once(readyEvent, () => {
      if (this.socket !== socket) return;
      socket.setTimeout(0);
      socket.setKeepAlive(true, 60_000);
      this.state = 'connected';
      this.attempts = 0;
      this.blocked = false;
      this.counters.connects++;
      for (const w of this.connectedWaiters.splice(0)) w();
      this.pump();
    });
    socket.on('data', () => undefined); // a collector says nothing; read whatever it sends anyway
    socket.on('error', (err) => {
      if (this.socket !== socket) return;
      if (this.state !== 'connected') this.counters.connectFailures++;
      this.opts.onError?.(err);
    });
    socket.on('close', () => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      this.blocked = false;
      if (this.state === 'closed' || this.closing) {
        for (const w of this.connectedWaiters.splice(0)) w();
        return;
      }
      this.state = 'waiting';
      this.scheduleReconnect();
    });
    socket.unref();
  }

  private scheduleReconnect(): void {
    const base = Math.min(this.opts.backoffMaxMs, this.opts.backoffInitialMs * 2 ** Math.min(this.attempts, 20));
    this.attempts++;
    const delay = Math.round(base / 2 + Math.random() * (base / 2));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.connect();
    }, delay);
    this.timer.unref();
  }

  private sendOne(socket: net.Socket): boolean {
    const f = this.queue[this.head];
    this.queue[this.head] = Buffer.alloc(0);
    this.head++;
    this.queueBytes -= f.length;
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    this.counters.sent++;
    return socket.write(f);
  }

  private pump(): void {
    const socket = this.socket;
    if (this.state !== 'connected' || !socket || this.blocked) return;
    while (this.queued > 0) {
      if (!this.sendOne(socket)) {
        this.blocked = true;
        socket.once('drain', () => {
          this.blocked = false;
          this.pump();
        });
        return;
      }
    }
  }
}
