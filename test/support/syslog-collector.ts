/**
 * A local syslog collector for the audit tests: TCP or TLS, RFC 6587 octet-counting frames
 * parsed from whatever chunks arrive, RFC 5424 headers split out.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';

/** Incremental RFC 6587 octet-counting parser: "MSG-LEN SP SYSLOG-MSG" repeated. */
export class OctetCountingParser {
  private buf = Buffer.alloc(0);
  readonly frames: Buffer[] = [];

  push(chunk: Buffer): void {
    this.buf = Buffer.concat([this.buf, chunk]);
    for (;;) {
      const sp = this.buf.indexOf(0x20);
      if (sp < 0) {
        if (this.buf.length > 10) throw new Error('octet counting: no length prefix');
        return;
      }
      const lenText = this.buf.subarray(0, sp).toString('ascii');
      if (!/^[1-9][0-9]{0,9}$/.test(lenText)) throw new Error(`octet counting: bad length ${JSON.stringify(lenText)}`);
      const len = Number(lenText);
      if (this.buf.length < sp + 1 + len) return;
      this.frames.push(this.buf.subarray(sp + 1, sp + 1 + len));
      this.buf = this.buf.subarray(sp + 1 + len);
    }
  }

  get leftover(): number {
    return this.buf.length;
  }
}

export interface SyslogRecord {
  pri: number;
  version: string;
  timestamp: string;
  hostname: string;
  appName: string;
  procId: string;
  msgId: string;
  structuredData: string;
  /** The MSG part as bytes (with its BOM, if any). */
  msg: Buffer;
}

/** Split an RFC 5424 message whose STRUCTURED-DATA is the NILVALUE. */
export function parseRfc5424(frame: Buffer): SyslogRecord {
  const text = frame.toString('latin1');
  const m = /^<(\d{1,3})>(\d{1,2}) (\S+) (\S+) (\S+) (\S+) (\S+) (-|\[.*?\])(?: |$)/.exec(text);
  if (!m) throw new Error(`not an RFC 5424 message: ${text.slice(0, 80)}`);
  return {
    pri: Number(m[1]),
    version: m[2],
    timestamp: m[3],
    hostname: m[4],
    appName: m[5],
    procId: m[6],
    msgId: m[7],
    structuredData: m[8],
    msg: frame.subarray(Buffer.byteLength(m[0], 'latin1')),
  };
}

export interface Collector {
  port: number;
  frames: Buffer[];
  /** Connections accepted so far. */
  connections: number;
  waitFor(n: number, timeoutMs?: number): Promise<Buffer[]>;
  /** Drop every open connection (the collector stays up). */
  dropConnections(): void;
  close(): Promise<void>;
}

export async function startCollector(opts: { port?: number; tls?: { key: Buffer; cert: Buffer } } = {}): Promise<Collector> {
  const frames: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  const waiters: Array<() => void> = [];
  let connections = 0;
  const onSocket = (socket: net.Socket) => {
    connections++;
    sockets.add(socket);
    const parser = new OctetCountingParser();
    socket.on('data', (chunk: Buffer) => {
      parser.push(chunk);
      frames.push(...parser.frames.splice(0));
      for (const w of waiters.splice(0)) w();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  };
  const server = opts.tls ? tls.createServer({ key: opts.tls.key, cert: opts.tls.cert }, onSocket) : net.createServer(onSocket);
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    frames,
    get connections() {
      return connections;
    },
    async waitFor(n: number, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (frames.length < n) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`collector: ${frames.length} of ${n} frames after ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, Math.min(left, 100));
          waiters.push(() => {
            clearTimeout(t);
            resolve();
          });
        });
      }
      return frames;
    },
    dropConnections() {
      for (const s of sockets) s.destroy();
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A self-signed certificate for localhost and 127.0.0.1, made with the openssl command line. */
export function selfSignedCertificate(dir: string): { keyFile: string; certFile: string; key: Buffer; cert: Buffer } {
  const keyFile = path.join(dir, 'collector.key');
  const certFile = path.join(dir, 'collector.crt');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'],
    { stdio: 'pipe' },
  );
  return { keyFile, certFile, key: fs.readFileSync(keyFile), cert: fs.readFileSync(certFile) };
}

/** A TCP port nothing listens on (for as long as nobody takes it). */
export async function unusedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', () => resolve()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}
