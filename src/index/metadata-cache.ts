/**
 * Series and study metadata documents, built once per version and kept gzipped: a viewer opening
 * a 500-instance series asks for 1.5 MB of JSON that compresses tenfold, and building and
 * compressing it again for every request was most of the request's time.
 *
 * An entry is keyed by scope, the index's metadata version stamp of that scope (a new value on
 * every change to its instances, from any writer: db/sqlite/004) and the base URL its BulkDataURIs
 * were resolved against. It holds no access decision: the caller reads the stamp through the
 * request's AccessView first, so a scope another principal may not see has no stamp and never
 * reaches the cache, and what is cached is the same for everyone who may see it.
 * Bounded by the bytes it holds; the least recently used entries go first.
 */
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';

const gzipAsync = promisify(gzip);

export interface MetadataEntry {
  etag: string;
  /** The JSON itself (small documents), or its gzip. */
  body: Buffer;
  gzipped: boolean;
}

/** Documents at most this long go out uncompressed (as sendJson does), and are kept so. */
export const GZIP_MIN_BYTES = 1024;

export class MetadataCache {
  private readonly entries = new Map<string, MetadataEntry>();
  private readonly building = new Map<string, Promise<MetadataEntry | undefined>>();
  private bytes = 0;
  hits = 0;
  misses = 0;

  constructor(
    private readonly maxBytes = 64 * 1024 * 1024,
    private readonly gzipLevel = 6,
  ) {}

  /** Of each scope and base, the key of its newest entry: an older version is dropped when a newer one is kept. */
  private readonly newest = new Map<string, string>();

  static key(scope: { study: string; series?: string }, stamp: string, base: string): string {
    return JSON.stringify([scope.study, scope.series ?? '', base, stamp]);
  }

  private static scopeOf(key: string): string {
    const [study, series, base] = JSON.parse(key) as string[];
    return JSON.stringify([study, series, base]);
  }

  /**
   * The entry under `key`, or the one `build` makes (undefined: nothing to serve). Concurrent
   * requests for one key share one build. `build` returns the key it actually read (the stamp may
   * have moved on since the caller read it), under which its entry is kept.
   */
  async get(key: string, build: () => Promise<{ key: string; json: string } | undefined>): Promise<MetadataEntry | undefined> {
    const hit = this.entries.get(key);
    if (hit) {
      this.hits++;
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit;
    }
    this.misses++;
    let pending = this.building.get(key);
    if (!pending) {
      pending = (async () => {
        const built = await build();
        if (!built) return undefined;
        const entry = await MetadataCache.entry(built.json, this.gzipLevel);
        this.put(built.key, entry);
        return entry;
      })().finally(() => this.building.delete(key));
      this.building.set(key, pending);
    }
    return pending;
  }

  static async entry(json: string, gzipLevel: number): Promise<MetadataEntry> {
    // The ETag is that of the JSON, as sendJson computes it, whatever the encoding sent.
    const etag = `"${createHash('sha1').update(json).digest('base64url')}"`;
    if (json.length <= GZIP_MIN_BYTES) return { etag, body: Buffer.from(json), gzipped: false };
    // On libuv's thread pool: the event loop keeps routing while a large document compresses.
    return { etag, body: await gzipAsync(json, { level: gzipLevel }), gzipped: true };
  }

  private put(key: string, entry: MetadataEntry): void {
    if (entry.body.length > this.maxBytes / 4) return;
    const scope = MetadataCache.scopeOf(key);
    const previous = this.newest.get(scope);
    if (previous !== undefined) this.remove(previous);
    this.entries.set(key, entry);
    this.newest.set(scope, key);
    this.bytes += entry.body.length;
    for (const k of this.entries.keys()) {
      if (this.bytes <= this.maxBytes) break;
      this.remove(k);
    }
  }

  private remove(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    this.entries.delete(key);
    this.bytes -= e.body.length;
    const scope = MetadataCache.scopeOf(key);
    if (this.newest.get(scope) === key) this.newest.delete(scope);
  }

  get size(): { entries: number; bytes: number } {
    return { entries: this.entries.size, bytes: this.bytes };
  }
}
