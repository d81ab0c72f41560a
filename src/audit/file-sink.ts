/**
 * The audit trail on disk: append-only files under DATA_DIR/audit/, one message per line,
 * mode 0600 (the directory 0700).
 *
 * Files are named audit-YYYY-MM-DD-NNN.log (the UTC day, then a sequence number within the
 * day). The sink writes to the newest file; it moves to a new one when the day changes or
 * when the next line would take the file past maxBytes (a single line longer than maxBytes
 * gets a file of its own). It keeps `keep` older files, deleting the oldest beyond that, or
 * keeps them all ("forever"). A file is never truncated or rewritten.
 *
 * Writes are buffered: a line waits at most flushIntervalMs (or until flushBytes are waiting),
 * then the batch is written and fdatasync'ed. close() writes and syncs everything pending, so
 * nothing is lost on a normal close. On an I/O error the unwritten lines stay queued (up to
 * maxPendingBytes, past which new lines are refused and counted) and are tried again on the
 * next flush; a line cut short by the error is ended with a newline first, so a retry may
 * repeat a line but never merges two.
 */
import fs from 'node:fs';
import path from 'node:path';
import { AuditMessage } from './messages';
import { AuditSink } from './sink';

export interface AuditFileSinkOptions {
  /** DATA_DIR/audit */
  dir: string;
  /** A file is rotated before it would exceed this (default 64 MiB). */
  maxBytes?: number;
  /** Rotated files kept (the current one not counted); "forever" keeps all (the default). */
  keep?: number | 'forever';
  flushIntervalMs?: number;
  flushBytes?: number;
  maxPendingBytes?: number;
  /** fdatasync after each batch (default true). */
  fsync?: boolean;
  /** The clock (tests). */
  now?: () => Date;
  /** An asynchronous failure (the AuditTrail counts and logs it). */
  onError?: (error: unknown) => void;
}

const MiB = 1024 * 1024;
const FILE = /^audit-(\d{4}-\d{2}-\d{2})-(\d{3,})\.log$/;

interface Pending {
  line: Buffer;
  day: string;
}

interface Current {
  day: string;
  seq: number;
  size: number;
  path: string;
  fh: fs.promises.FileHandle;
}

export interface AuditFileName {
  name: string;
  day: string;
  seq: number;
}

/** The audit files in a directory, oldest first. */
export function listAuditFiles(dir: string): AuditFileName[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const out: AuditFileName[] = [];
  for (const name of names) {
    const m = FILE.exec(name);
    if (m) out.push({ name, day: m[1], seq: Number(m[2]) });
  }
  return out.sort((a, b) => (a.day < b.day ? -1 : a.day > b.day ? 1 : a.seq - b.seq));
}

export const auditFileName = (day: string, seq: number): string => `audit-${day}-${String(seq).padStart(3, '0')}.log`;

export class AuditFileSink implements AuditSink {
  readonly name = 'file';
  readonly dir: string;
  private readonly maxBytes: number;
  private readonly keep: number | 'forever';
  private readonly flushIntervalMs: number;
  private readonly flushBytes: number;
  private readonly maxPendingBytes: number;
  private readonly fsync: boolean;
  private readonly now: () => Date;
  private readonly onError: (error: unknown) => void;

  private pending: Pending[] = [];
  private pendingBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();
  private current: Current | undefined;
  private closed = false;
  private counters = { written: 0, refused: 0, rotations: 0, deleted: 0, errors: 0 };

  constructor(options: AuditFileSinkOptions) {
    this.dir = options.dir;
    this.maxBytes = options.maxBytes ?? 64 * MiB;
    this.keep = options.keep ?? 'forever';
    this.flushIntervalMs = options.flushIntervalMs ?? 200;
    this.flushBytes = options.flushBytes ?? 256 * 1024;
    this.maxPendingBytes = options.maxPendingBytes ?? 64 * MiB;
    this.fsync = options.fsync ?? true;
    this.now = options.now ?? (() => new Date());
    this.onError = options.onError ?? (() => undefined);
    if (!Number.isSafeInteger(this.maxBytes) || this.maxBytes < 1) throw new Error('audit file sink: maxBytes must be a positive integer');
    if (this.keep !== 'forever' && (!Number.isSafeInteger(this.keep) || this.keep < 0)) throw new Error('audit file sink: keep must be a non-negative integer or "forever"');
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
  }

  write(message: AuditMessage): void {
    if (this.closed) throw new Error('audit file sink is closed');
    const line = Buffer.from(message.xml + '\n', 'utf8');
    if (this.pendingBytes + line.length > this.maxPendingBytes) {
      this.counters.refused++;
      throw new Error('audit file sink: write buffer full');
    }
    this.pending.push({ line, day: this.now().toISOString().slice(0, 10) });
    this.pendingBytes += line.length;
    if (this.pendingBytes >= this.flushBytes) this.schedule(0);
    else this.schedule(this.flushIntervalMs);
  }

  /** Write and sync everything pending now. */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.chain = this.chain.then(() => this.writePending());
    return this.chain;
  }

  async close(): Promise<void> {
    if (this.closed) return this.chain;
    this.closed = true;
    await this.flush();
    const c = this.current;
    this.current = undefined;
    if (c) await c.fh.close();
    if (this.pending.length) {
      const lost = this.pending.length;
      this.pending = [];
      this.pendingBytes = 0;
      throw new Error(`audit file sink: ${lost} messages could not be written before close`);
    }
  }

  stats(): Record<string, number> {
    return { ...this.counters, pending: this.pending.length };
  }

  /** The file being written to, if one is open. */
  get currentFile(): string | undefined {
    return this.current?.path;
  }

  private schedule(ms: number): void {
    if (this.timer && ms > 0) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, ms);
  }

  private async writePending(): Promise<void> {
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    this.pendingBytes = 0;
    let i = 0;
    try {
      while (i < batch.length) {
        const first = batch[i];
        const c = await this.fileFor(first.day, first.line.length);
        const parts: Buffer[] = [];
        let size = c.size;
        let j = i;
        while (j < batch.length && batch[j].day === c.day) {
          const n = batch[j].line.length;
          if ((parts.length > 0 || size > 0) && size + n > this.maxBytes) break;
          parts.push(batch[j].line);
          size += n;
          j++;
        }
        await writeAll(c.fh, Buffer.concat(parts));
        c.size = size;
        this.counters.written += j - i;
        i = j;
      }
      if (this.fsync && this.current) await this.current.fh.datasync();
    } catch (err) {
      this.counters.errors++;
      const rest = batch.slice(i);
      this.pending = rest.concat(this.pending);
      this.pendingBytes = this.pending.reduce((n, p) => n + p.line.length, 0);
      const c = this.current;
      this.current = undefined;
      if (c) await c.fh.close().catch(() => undefined);
      if (!this.closed) this.schedule(Math.max(this.flushIntervalMs, 1000));
      this.onError(err);
    }
  }

  /** The open file for a line of this day and size, rotating (and pruning) when needed. */
  private async fileFor(day: string, bytes: number): Promise<Current> {
    const c = this.current;
    if (c && c.day === day && (c.size === 0 || c.size + bytes <= this.maxBytes)) return c;
    if (c) {
      this.current = undefined;
      if (this.fsync) await c.fh.datasync();
      await c.fh.close();
      this.counters.rotations++;
      if (c.day === day) return this.open(day, c.seq + 1);
    }
    // A new day, or the first file since start: continue the day's newest file if the line
    // fits in it, else start the next one.
    const ofDay = listAuditFiles(this.dir).filter((f) => f.day === day);
    const last = ofDay[ofDay.length - 1];
    if (!last) return this.open(day, 0);
    const size = statSize(path.join(this.dir, last.name));
    return size === 0 || size + bytes <= this.maxBytes ? this.open(day, last.seq) : this.open(day, last.seq + 1);
  }

  private async open(day: string, seq: number): Promise<Current> {
    const p = path.join(this.dir, auditFileName(day, seq));
    const fh = await fs.promises.open(p, 'a+', 0o600); // append-only writes; read for the last byte
    try {
      await fh.chmod(0o600);
      const { size } = await fh.stat();
      const current: Current = { day, seq, size, path: p, fh };
      if (size > 0) {
        // A line cut short (a crash, a failed write) is ended before anything is appended.
        const last = Buffer.alloc(1);
        await fh.read(last, 0, 1, size - 1);
        if (last[0] !== 0x0a) {
          await writeAll(fh, Buffer.from('\n'));
          current.size += 1;
        }
      }
      this.current = current;
    } catch (e) {
      await fh.close().catch(() => undefined);
      throw e;
    }
    this.prune();
    return this.current!;
  }

  private prune(): void {
    if (this.keep === 'forever') return;
    const currentName = this.current ? path.basename(this.current.path) : undefined;
    const rotated = listAuditFiles(this.dir).filter((f) => f.name !== currentName);
    const excess = rotated.length - this.keep;
    for (let k = 0; k < excess; k++) {
      try {
        fs.unlinkSync(path.join(this.dir, rotated[k].name));
        this.counters.deleted++;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') this.onError(e);
      }
    }
  }
}

function statSize(p: string): number {
  try {
    return fs.statSync(p).size;
  } catch {
    return 0;
  }
}

async function writeAll(fh: fs.promises.FileHandle, buf: Buffer): Promise<void> {
  let off = 0;
  while (off < buf.length) {
    const { bytesWritten } = await fh.write(buf, off, buf.length - off);
    off += bytesWritten;
  }
}
