/**
 * Files under <dataDir>/files (or the folder of a `file:` STORE_URL). A put writes a temporary
 * file in this process's own folder of <dataDir>/tmp (every byte of it, or the put fails), fsyncs it, renames it into place and
 * fsyncs the folder it landed in (and any folder it had to make), so a full disk, a crash or a
 * power loss never leaves a half-written instance file, and an acknowledged one is on disk.
 * Several processes (the server and `veilgate import`) share a data directory, and several nodes
 * may share a network folder: each cleans up only what dead processes of its own host left in tmp.
 * A folder of its own (not the default) keeps its temporary and quarantine folders inside it
 * (.tmp, .orphans), on the same file system, so the rename into place never crosses devices.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { BlobStore, ByteSpan, checkBlobKey } from './blob-store';
import { CoalescedFlush } from './coalesced-flush';
import { writeAllChunks } from './write-fully';


/** This host, as temporary folders name it (a file-name-safe form of the host name). */
const HOST = os.hostname().replace(/[^A-Za-z0-9.]/g, '_').slice(0, 64) || 'host';

export class FsBlobStore implements BlobStore {
  private readonly root: string;
  private readonly tmp: string;
  private readonly orphans: string;

  constructor(dataDir: string, root = path.join(dataDir, 'files')) {
    this.root = path.resolve(root);
    const own = this.root !== path.resolve(dataDir, 'files');
    const tmpRoot = own ? path.join(this.root, '.tmp') : path.join(dataDir, 'tmp');
    this.orphans = own ? path.join(this.root, '.orphans') : path.join(dataDir, 'orphans');
    fs.mkdirSync(this.root, { recursive: true });
    fs.mkdirSync(tmpRoot, { recursive: true });
    removeDeadTemporaries(tmpRoot);
    this.tmp = path.join(tmpRoot, `${process.pid}-${randomBytes(4).toString('hex')}-${HOST}`);
    fs.mkdirSync(this.tmp);
  }

  private pathOf(key: string): string {
    checkBlobKey(key);
    return path.join(this.root, key);
  }

  async put(key: string, chunks: Uint8Array[]): Promise<void> {
    const target = this.pathOf(key);
    const temp = path.join(this.tmp, `${randomBytes(12).toString('hex')}.part`);
    const handle = await fsp.open(temp, 'wx', 0o640);
    try {
      // Every byte or an error: a short write on a filling disk must not become a short file.
      await writeAllChunks(handle, chunks);
      await handle.datasync();
    } catch (e) {
      await handle.close();
      await fsp.rm(temp, { force: true });
      throw e;
    }
    await handle.close();
    try {
      const folder = path.dirname(target);
      const made = await fsp.mkdir(folder, { recursive: true });
      await fsp.rename(temp, target);
      // The rename is durable once its folder is; a folder just made needs its parent's entry too.
      // Puts into one folder at once share its fsync (a series arrives into one folder).
      await this.syncDir(folder);
      if (made) for (let d = path.dirname(folder); d.length >= path.dirname(made).length && d.startsWith(this.root); d = path.dirname(d)) await this.syncDir(d);
    } catch (e) {
      await fsp.rm(temp, { force: true });
      throw e;
    }
  }

  private readonly dirFlushes = new Map<string, CoalescedFlush>();

  private async syncDir(dir: string): Promise<void> {
    let flush = this.dirFlushes.get(dir);
    if (!flush) this.dirFlushes.set(dir, (flush = new CoalescedFlush(() => fsyncDir(dir))));
    try {
      await flush.durable();
    } finally {
      if (flush.idle) this.dirFlushes.delete(dir);
    }
  }

  /** Remove this process's temporary folder (on close; a crash leaves it to the next start). */
  close(): void {
    fs.rmSync(this.tmp, { recursive: true, force: true });
  }

  stream(key: string, span?: ByteSpan): Readable {
    return fs.createReadStream(this.pathOf(key), span ? { start: span.start, end: span.end } : {});
  }

  async read(key: string, spans: ByteSpan[]): Promise<Buffer> {
    const total = spans.reduce((n, s) => n + (s.end - s.start + 1), 0);
    const out = Buffer.allocUnsafe(total);
    const handle = await fsp.open(this.pathOf(key), 'r');
    try {
      let at = 0;
      for (const s of spans) {
        const len = s.end - s.start + 1;
        const { bytesRead } = await handle.read(out, at, len, s.start);
        if (bytesRead !== len) throw new Error('stored file is shorter than its index says');
        at += len;
      }
    } finally {
      await handle.close();
    }
    return out;
  }

  async exists(key: string): Promise<boolean> {
    return fsp.access(this.pathOf(key)).then(
      () => true,
      () => false,
    );
  }

  async delete(key: string): Promise<void> {
    await fsp.rm(this.pathOf(key), { force: true });
  }

  async *list(): AsyncIterable<{ key: string; modified: number }> {
    const walk = async function* (dir: string, prefix: string): AsyncGenerator<{ key: string; modified: number }> {
      for (const entry of await fsp.readdir(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        const key = prefix ? `${prefix}/${entry.name}` : entry.name;
        if (!prefix && entry.name.startsWith('.')) continue; // .tmp and .orphans, never a key (keys are UIDs)
        if (entry.isDirectory()) yield* walk(full, key);
        else if (entry.isFile()) yield { key, modified: (await fsp.stat(full)).mtimeMs };
      }
    };
    yield* walk(this.root, '');
  }

  async quarantine(key: string): Promise<void> {
    const from = this.pathOf(key);
    const to = path.join(this.orphans, key);
    await fsp.mkdir(path.dirname(to), { recursive: true });
    await fsp.rename(from, to);
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await fsp.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Temporary folders are named after their process; a folder whose process is gone holds puts a
 * crash interrupted, which nothing refers to. Loose files are from before folders were per
 * process, and go once they are an hour old.
 */
function removeDeadTemporaries(tmpRoot: string): void {
  for (const entry of fs.readdirSync(tmpRoot, { withFileTypes: true })) {
    const full = path.join(tmpRoot, entry.name);
    if (entry.isDirectory()) {
      const m = /^(\d+)-[0-9a-f]{8}(?:-(.+))?$/.exec(entry.name);
      if (m?.[2] !== undefined && m[2] !== HOST) continue; // another node's, on a shared folder
      const pid = Number(m?.[1]);
      if (!Number.isInteger(pid) || (pid !== process.pid && !processAlive(pid))) fs.rmSync(full, { recursive: true, force: true });
    } else if (Date.now() - fs.statSync(full).mtimeMs > 3_600_000) {
      fs.rmSync(full, { force: true });
    }
  }
}
