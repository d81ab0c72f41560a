/**
 * Export bundles as background work on this node: a bounded queue of its own (one bundle built at
 * a time, EXPORT_CONCURRENCY more), not the processing job queue (jobs are on one series and run
 * a computation on a worker; an export is many series and mostly moves bytes).
 *
 * Everything lives under DATA_DIR/exports: <id>.json (the record, replaced atomically),
 * <id>.zip|tar (the bundle, written as .<id>.<node>.part and renamed into place when whole).
 * The records are read once, at start, and then held here: a change is made in memory and
 * written behind it (fs.promises, a temporary file renamed over the record, one write at a time
 * per record and the last state last), so no request waits on the disk for one.
 * Bundles expire exportTtlHours after they are done: a periodic sweep deletes expired bundles
 * and keeps their records a week more, so asking for one answers 410 Gone rather than 404.
 * A restart builds this node's queued and interrupted exports again from the start.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Index, ReadIndex } from '../index/index';
import type { BlobStore } from '../store/blob-store';
import type { WorkerPool } from '../workers/pool';
import type { Config } from '../config';
import { AccessView } from '../index/access-view';
import { ALL_PROJECTS, Principal } from '../auth/principal';
import { log } from '../log';
import { messageOf } from '../errors';
import { BundleFormat, BundleResult, writeBundle } from './bundle';
import type { ExportSelection, PlannedSeries } from './selection';

/** How long a DELETE waits for a running build to stop before it removes the record anyway. */
const REMOVE_WAIT_MS = 10_000;

export type ExportState = 'queued' | 'running' | 'done' | 'failed' | 'cancelled' | 'expired';

export interface ExportRecord {
  id: string;
  node: string;
  state: ExportState;
  format: BundleFormat;
  includeDicom: boolean;
  /** What was asked for (the selection, as given). */
  request: Record<string, unknown>;
  selection: ExportSelection;
  /** The series resolved at submission, through the submitter's view. */
  series: PlannedSeries[];
  /** The studies those series are in: a reader must see every one to see the export. */
  studies: string[];
  /** The submitter's readable projects (undefined: every one), for a rebuild after a restart. */
  projects?: string[];
  client: string;
  progress: { done: number; total: number };
  bytes?: number;
  sha256?: string;
  files?: number;
  skipped?: BundleResult['skipped'];
  tally?: BundleResult['tally'];
  error?: string;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  expiresAt?: string;
}

export interface ExportDeps {
  index: Index;
  store: BlobStore;
  workers: WorkerPool;
  nodeId: string;
}

const ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const HOUR_MS = 3_600_000;
/** How long the record of an expired bundle is kept (410 instead of 404). */
const TOMBSTONE_MS = 7 * 24 * HOUR_MS;

export const EXPORTS_DIR = 'exports';

export class ExportManager {
  readonly dir: string;
  private readonly queue: string[] = [];
  private readonly running = new Map<string, AbortController>();
  /** Every record, by id: what GET answers. Written behind (persist). */
  private readonly records = new Map<string, ExportRecord>();
  /** Records being written, and those changed again meanwhile (written once more after). */
  private readonly writing = new Map<string, Promise<void>>();
  private readonly dirty = new Set<string>();
  private writes = 0;
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private readonly idle = new Set<() => void>();

  constructor(
    private readonly deps: ExportDeps,
    private readonly config: Config,
  ) {
    this.dir = path.join(config.dataDir, EXPORTS_DIR);
  }

  get ttlMs(): number {
    return this.config.exportTtlHours * HOUR_MS;
  }

  start(): void {
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    // This node's unfinished bundles are gone with the process that wrote them.
    for (const f of fs.readdirSync(this.dir)) if (f.startsWith('.') && f.endsWith(`.${this.deps.nodeId}.part`)) fs.rmSync(path.join(this.dir, f), { force: true });
    this.load();
    const again = this.list().filter((r) => r.node === this.deps.nodeId && (r.state === 'queued' || r.state === 'running'));
    for (const r of again.reverse()) {
      r.state = 'queued';
      r.progress = { done: 0, total: r.series.length };
      this.save(r);
      this.queue.push(r.id);
    }
    if (again.length) log.info('exports-resumed', { exports: again.length });
    const every = Math.max(1000, Math.min(10 * 60_000, this.ttlMs / 4));
    this.timer = setInterval(() => void this.sweep().catch((e) => log.warn('export-sweep-failed', { error: messageOf(e) })), every);
    this.timer.unref();
    this.pump();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    for (const c of this.running.values()) c.abort();
    while (this.running.size) await new Promise<void>((r) => this.idle.add(r));
    await this.flushed();
  }

  /** Every record's last state is on disk. */
  async flushed(): Promise<void> {
    while (this.writing.size) await Promise.all([...this.writing.values()]);
  }

  /** Queue a new export of `series` (already resolved through the submitter's view). */
  submit(input: { format: BundleFormat; includeDicom: boolean; request: Record<string, unknown>; selection: ExportSelection; series: PlannedSeries[]; projects: readonly string[] | undefined; client: string }): ExportRecord {
    const record: ExportRecord = {
      id: randomUUID(),
      node: this.deps.nodeId,
      state: 'queued',
      format: input.format,
      includeDicom: input.includeDicom,
      request: input.request,
      selection: input.selection,
      series: input.series,
      studies: [...new Set(input.series.map((s) => s.study))],
      projects: input.projects ? [...input.projects] : undefined,
      client: input.client,
      progress: { done: 0, total: input.series.length },
      createdAt: new Date().toISOString(),
    };
    this.save(record);
    this.queue.push(record.id);
    log.info('export-queued', { export: record.id, series: record.series.length, format: record.format });
    this.pump();
    return record;
  }

  /** The record (held here: callers read it and never change it). */
  get(id: string): ExportRecord | undefined {
    return ID.test(id) ? this.records.get(id) : undefined;
  }

  /** Every record, newest first. */
  list(): ExportRecord[] {
    return [...this.records.values()].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  }

  /** Whether a done bundle's time is up (the sweep may not have deleted it yet). */
  expired(r: ExportRecord, now = Date.now()): boolean {
    return r.state === 'expired' || (r.state === 'done' && !!r.expiresAt && Date.parse(r.expiresAt) <= now);
  }

  bundleFile(r: Pick<ExportRecord, 'id' | 'format'>): string {
    return path.join(this.dir, `${r.id}.${r.format}`);
  }

  /** Cancel a queued or running export and delete its bundle and record. */
  async remove(id: string): Promise<void> {
    const r = this.get(id);
    if (!r) return;
    const i = this.queue.indexOf(id);
    if (i >= 0) this.queue.splice(i, 1);
    const c = this.running.get(id);
    if (c) {
      c.abort();
      // The build stops at its next step; a DELETE does not wait on it for ever (what it still
      // writes goes nowhere: its record is gone, and it renames no bundle once aborted).
      const until = Date.now() + REMOVE_WAIT_MS;
      while (this.running.has(id) && Date.now() < until) {
        await new Promise<void>((res) => {
          const t = setTimeout(res, until - Date.now());
          this.idle.add(() => {
            clearTimeout(t);
            res();
          });
        });
      }
    }
    this.forget(id);
    await fsp.rm(this.bundleFile(r), { force: true });
    await this.writing.get(id);
    log.info('export-deleted', { export: id });
  }

  /** Delete expired bundles (records stay as tombstones for a week), and old failed or cancelled records. */
  async sweep(now = Date.now()): Promise<void> {
    for (const r of this.list()) {
      if (this.running.has(r.id) || r.state === 'queued') continue;
      if (r.state === 'done' && this.expired(r, now)) {
        // Expired first (GET answers 410 from now on), then the bundle goes.
        r.state = 'expired';
        this.save(r);
        await fsp.rm(this.bundleFile(r), { force: true });
        log.info('export-expired', { export: r.id });
      } else if (r.state === 'expired' || r.state === 'failed' || r.state === 'cancelled') {
        const since = Date.parse(r.expiresAt ?? r.finishedAt ?? r.createdAt);
        if (now - since > (r.state === 'expired' ? TOMBSTONE_MS : this.ttlMs + TOMBSTONE_MS)) this.forget(r.id);
      }
    }
  }

  private recordFile(id: string): string {
    return path.join(this.dir, `${id}.json`);
  }

  /** The records on disk, read once at start (one that cannot be read is left where it is). */
  private load(): void {
    for (const f of fs.readdirSync(this.dir)) {
      const m = /^(.+)\.json$/.exec(f);
      if (!m || !ID.test(m[1])) continue;
      try {
        const r = JSON.parse(fs.readFileSync(path.join(this.dir, f), 'utf8')) as ExportRecord;
        if (r?.id === m[1]) this.records.set(r.id, r);
      } catch (e) {
        log.warn('export-record-unreadable', { export: m[1], error: messageOf(e) });
      }
    }
  }

  /** The record as it is now, held and written behind. */
  private save(r: ExportRecord): void {
    this.records.set(r.id, r);
    this.persist(r.id);
  }

  /** The record is gone (its file goes behind it). */
  private forget(id: string): void {
    if (this.records.delete(id)) this.persist(id);
  }

  /**
   * Write a record's state as it is when the write starts: a temporary file renamed over the
   * record (or the record deleted, if it is gone). One write at a time per record; a change
   * meanwhile is written once more after, so the last state is the one on disk.
   */
  private persist(id: string): void {
    if (this.writing.has(id)) {
      this.dirty.add(id);
      return;
    }
    const file = this.recordFile(id);
    const run = async () => {
      try {
        for (;;) {
          this.dirty.delete(id);
          const r = this.records.get(id);
          if (!r) await fsp.rm(file, { force: true });
          else {
            const tmp = `${file}.${process.pid}.${++this.writes}.tmp`;
            try {
              await fsp.writeFile(tmp, JSON.stringify(r), { mode: 0o600 });
              await fsp.rename(tmp, file);
            } catch (e) {
              await fsp.rm(tmp, { force: true }).catch(() => undefined);
              throw e;
            }
          }
          // Checked and cleared with no wait in between: a change after this starts a new write.
          if (!this.dirty.has(id)) break;
        }
      } catch (e) {
        log.warn('export-record-write-failed', { export: id, error: messageOf(e) });
      } finally {
        this.writing.delete(id);
      }
    };
    this.writing.set(id, run());
  }

  /** Save unless the record was deleted meanwhile. */
  private update(id: string, change: (r: ExportRecord) => void): void {
    const r = this.get(id);
    if (!r) return;
    change(r);
    this.save(r);
  }

  private pump(): void {
    const limit = Math.max(1, this.config.exportConcurrency);
    while (!this.stopped && this.running.size < limit && this.queue.length) {
      const id = this.queue.shift()!;
      const controller = new AbortController();
      this.running.set(id, controller);
      void this.build(id, controller.signal).finally(() => {
        this.running.delete(id);
        for (const r of this.idle) r();
        this.idle.clear();
        this.pump();
      });
    }
  }

  /** The view a rebuild reads through: the submitter's projects, as at submission. */
  private viewFor(r: ExportRecord): ReadIndex {
    const principal: Principal = { id: r.client, via: 'local', roles: new Set(['read']), projects: new Set(r.projects ?? [ALL_PROJECTS]) };
    return new AccessView(this.deps.index, principal);
  }

  private async build(id: string, signal: AbortSignal): Promise<void> {
    const r = this.get(id);
    if (!r) return;
    const part = path.join(this.dir, `.${id}.${this.deps.nodeId}.part`);
    this.update(id, (x) => {
      x.state = 'running';
      x.startedAt = new Date().toISOString();
    });
    let lastSaved = 0;
    try {
      const result = await writeBundle(
        { view: this.viewFor(r), store: this.deps.store, workers: this.deps.workers, config: this.config },
        r.series,
        {
          id,
          format: r.format,
          includeDicom: r.includeDicom,
          created: new Date(r.createdAt),
          request: r.request,
          signal,
          onProgress: (done, total) => {
            // At most a few record writes a second.
            if (done < total && Date.now() - lastSaved < 250) return;
            lastSaved = Date.now();
            this.update(id, (x) => (x.progress = { done, total }));
          },
        },
        part,
      );
      if (signal.aborted) throw new Error('cancelled');
      await fsp.rename(part, this.bundleFile(r));
      const finished = new Date();
      this.update(id, (x) => {
        x.state = 'done';
        x.progress = { done: x.series.length, total: x.series.length };
        x.bytes = result.bytes;
        x.sha256 = result.sha256;
        x.files = result.files;
        x.skipped = result.skipped;
        x.tally = result.tally;
        x.finishedAt = finished.toISOString();
        x.expiresAt = new Date(finished.getTime() + this.ttlMs).toISOString();
      });
      log.info('export-done', { export: id, bytes: result.bytes, files: result.files, skipped: result.skipped.length });
    } catch (e) {
      await fsp.rm(part, { force: true });
      if (this.stopped && signal.aborted) return; // left queued: a restart builds it again
      this.update(id, (x) => {
        x.state = signal.aborted ? 'cancelled' : 'failed';
        x.error = signal.aborted ? undefined : messageOf(e);
        x.finishedAt = new Date().toISOString();
      });
      if (!signal.aborted) log.warn('export-failed', { export: id, error: messageOf(e) });
    }
  }
}
