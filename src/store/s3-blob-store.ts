/**
 * Blobs as objects in an S3-compatible bucket: <prefix>/files/<key>, quarantined ones under
 * <prefix>/orphans/<key>. An S3 PUT (single or the completion of a multipart upload) is atomic,
 * so readers see all of a blob or nothing, as with the file-system store's rename. Spans are
 * read with ranged GETs, never by fetching a whole object.
 */
import { Readable, PassThrough } from 'node:stream';
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
  type ListObjectsV2CommandOutput,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { BlobStore, ByteSpan, checkBlobKey } from './blob-store';
import type { S3Location } from './s3-url';
import { isAbort, isMissingKey, storeFailure } from './s3-errors';

/** The same rule as FsBlobStore.pathOf (the contract tests hold both stores to it). */

/** Spans closer than this are fetched by one GET: a round trip costs more than 64 KiB of transfer. */
const MERGE_GAP = 64 * 1024;
/** GETs in flight for one read(): enough to hide latency, few enough not to starve other requests. */
const PARALLEL_GETS = 8;
/** Multipart part size; S3's minimum, so a multipart upload holds the least in flight. */
const PART_SIZE = 5 * 1024 * 1024;
const PARTS_IN_FLIGHT = 4;

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface S3ClientOptions {
  /** Otherwise the SDK's default chain: environment, AWS config files, container or instance role. */
  credentials?: S3Credentials;
  /** To open a TCP (and TLS) connection. */
  connectionTimeoutMs?: number;
  /** From sending a request (with its body, e.g. one part) to the response's headers. */
  requestTimeoutMs?: number;
  /** A socket with no traffic this long (a stalled response body) is abandoned. */
  idleTimeoutMs?: number;
}

/**
 * A client for the location with bounded waits: an unreachable store must fail a request within
 * seconds (ingest then answers A700 / 503) instead of holding the sender's association open.
 */
export function createS3Client(location: S3Location, options: S3ClientOptions = {}): S3Client {
  return new S3Client({
    region: location.region,
    ...(location.endpoint !== undefined ? { endpoint: location.endpoint } : {}),
    forcePathStyle: location.forcePathStyle,
    ...(options.credentials ? { credentials: options.credentials } : {}),
    retryMode: 'standard',
    maxAttempts: 3,
    requestHandler: {
      connectionTimeout: options.connectionTimeoutMs ?? 5_000,
      requestTimeout: options.requestTimeoutMs ?? 60_000,
      throwOnRequestTimeout: true,
      socketTimeout: options.idleTimeoutMs ?? 30_000,
    },
  });
}

export interface S3BlobStoreOptions {
  credentials?: S3Credentials;
  /** A client made by the caller (tests, shared clients); it stays the caller's to destroy. */
  client?: S3Client;
}

export class S3BlobStore implements BlobStore {
  private readonly client: S3Client;
  private readonly ownsClient: boolean;
  private readonly bucket: string;
  /** '<prefix>/files/' or 'files/': every blob's object key starts with it. */
  private readonly filesPrefix: string;
  private readonly orphansPrefix: string;

  constructor(location: S3Location, options: S3BlobStoreOptions = {}) {
    this.client = options.client ?? createS3Client(location, { credentials: options.credentials });
    this.ownsClient = options.client === undefined;
    this.bucket = location.bucket;
    const root = location.prefix === '' ? '' : `${location.prefix}/`;
    this.filesPrefix = `${root}files/`;
    this.orphansPrefix = `${root}orphans/`;
  }

  private objectKey(key: string): string {
    checkBlobKey(key);
    return this.filesPrefix + key;
  }

  async put(key: string, chunks: Uint8Array[]): Promise<void> {
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: this.objectKey(key), Body: bodyOf(chunks) },
      partSize: PART_SIZE,
      queueSize: PARTS_IN_FLIGHT,
      // A failed multipart upload is aborted, so no invisible parts are left to pay for.
      leavePartsOnError: false,
    });
    try {
      await upload.done();
    } catch (e) {
      throw storeFailure(e, 'write');
    }
  }

  stream(key: string, span?: ByteSpan): Readable {
    const objectKey = this.objectKey(key);
    // As fs.createReadStream, an empty or reversed span is refused at once.
    if (span) checkSpan(span, 1);
    const out = new PassThrough();
    // A reader that goes away before the end (a client hanging up mid-download) stops the GET.
    const abort = new AbortController();
    out.once('close', () => {
      if (!out.readableEnded) abort.abort();
    });
    const range = span ? { Range: `bytes=${span.start}-${span.end}` } : {};
    this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: objectKey, ...range }), { abortSignal: abort.signal }).then(
      (response) => {
        const body = response.Body as Readable;
        if (out.destroyed) return void body.destroy();
        try {
          if (span) checkServedRange(response.ContentRange, span);
        } catch (e) {
          body.destroy();
          return void out.destroy(e as Error);
        }
        pipeAtMost(body, out, span ? spanLength(span) : Infinity);
      },
      (e) => {
        if (!out.destroyed && !isAbort(e)) out.destroy(storeFailure(e, 'read'));
      },
    );
    return out;
  }

  /** As FsBlobStore.read: the spans' bytes concatenated in the order given, repeats and overlaps included. */
  async read(key: string, spans: ByteSpan[]): Promise<Buffer> {
    const objectKey = this.objectKey(key);
    spans.forEach((s) => checkSpan(s));
    const wanted = spans.filter((s) => s.end >= s.start);
    // The file store opens the file even for no bytes, so a missing blob fails either way.
    if (wanted.length === 0) {
      await this.head(objectKey, 'read');
      return Buffer.alloc(0);
    }
    const ranges = coalesceSpans(wanted, MERGE_GAP);
    const fetched = await this.fetchRanges(objectKey, ranges);
    if (spans.length === 1 && fetched[0].length === spanLength(spans[0])) return fetched[0];

    const out = Buffer.allocUnsafe(spans.reduce((n, s) => n + spanLength(s), 0));
    let at = 0;
    for (const s of spans) {
      const len = spanLength(s);
      if (len === 0) continue;
      const i = rangeHolding(ranges, s);
      const from = s.start - ranges[i].start;
      if (fetched[i].length < from + len) throw new Error('stored file is shorter than its index says');
      fetched[i].copy(out, at, from, from + len);
      at += len;
    }
    return out;
  }

  /** One GET per range, at most PARALLEL_GETS at once; the first failure cancels the rest. */
  private async fetchRanges(objectKey: string, ranges: ByteSpan[]): Promise<Buffer[]> {
    const results: Buffer[] = new Array(ranges.length);
    const abort = new AbortController();
    let next = 0;
    let failure: unknown;
    const worker = async () => {
      while (failure === undefined && next < ranges.length) {
        const i = next++;
        try {
          results[i] = await this.fetchRange(objectKey, ranges[i], abort.signal);
        } catch (e) {
          if (failure === undefined) failure = e;
          abort.abort();
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL_GETS, ranges.length) }, worker));
    if (failure !== undefined) throw storeFailure(failure, 'read');
    return results;
  }

  /** The range's bytes, fewer if the object ends inside it. */
  private async fetchRange(objectKey: string, range: ByteSpan, signal: AbortSignal): Promise<Buffer> {
    const response = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: objectKey, Range: `bytes=${range.start}-${range.end}` }), { abortSignal: signal });
    const body = response.Body as Readable;
    const expected = spanLength(range);
    const out = Buffer.allocUnsafe(expected);
    let at = 0;
    try {
      checkServedRange(response.ContentRange, range);
      for await (const chunk of body as AsyncIterable<Buffer>) {
        const take = Math.min(chunk.length, expected - at);
        chunk.copy(out, at, 0, take);
        at += take;
        // More than asked: leaving the loop destroys the body, so the rest is never transferred.
        // (Not on the exact last byte: a body read to its end keeps its connection for reuse.)
        if (take < chunk.length) break;
      }
    } finally {
      body.destroy();
    }
    return at === expected ? out : out.subarray(0, at);
  }

  private async head(objectKey: string, operation: 'read' | 'check'): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: objectKey }));
      return true;
    } catch (e) {
      if (operation === 'check' && isMissingKey(e)) return false;
      throw storeFailure(e, operation);
    }
  }

  /**
   * Unlike the file store, a store that cannot answer throws rather than saying false: "missing"
   * is a verdict (WADO reports the instance broken), and an outage must not produce one.
   * A 404 for a missing bucket is indistinguishable on HEAD, so it also reads as false.
   */
  async exists(key: string): Promise<boolean> {
    return this.head(this.objectKey(key), 'check');
  }

  /** Deleting a missing key succeeds, as rm --force does in the file store. */
  async delete(key: string): Promise<void> {
    const objectKey = this.objectKey(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: objectKey }));
    } catch (e) {
      if (!isMissingKey(e)) throw storeFailure(e, 'delete');
    }
  }

  /** One page (up to 1,000 keys) in memory at a time, however large the bucket. */
  async *list(): AsyncIterable<{ key: string; modified: number }> {
    let token: string | undefined;
    do {
      let page: ListObjectsV2CommandOutput;
      try {
        page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.filesPrefix, ...(token ? { ContinuationToken: token } : {}) }));
      } catch (e) {
        throw storeFailure(e, 'list');
      }
      for (const object of page.Contents ?? []) {
        if (!object.Key?.startsWith(this.filesPrefix)) continue;
        // No date means unknown age: treated as just written, so a sweep never moves it.
        yield { key: object.Key.slice(this.filesPrefix.length), modified: object.LastModified?.getTime() ?? Date.now() };
      }
      // A truncated page without a token would otherwise loop forever on the first page.
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  /** Copy then delete: S3 has no rename. A crash between the two leaves a copy, never a loss. */
  async quarantine(key: string): Promise<void> {
    const objectKey = this.objectKey(key);
    try {
      await this.client.send(
        new CopyObjectCommand({
          Bucket: this.bucket,
          Key: this.orphansPrefix + key,
          CopySource: `${encodeURIComponent(this.bucket)}/${objectKey.split('/').map(encodeURIComponent).join('/')}`,
        }),
      );
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: objectKey }));
    } catch (e) {
      throw storeFailure(e, 'quarantine');
    }
  }

  close(): void {
    if (this.ownsClient) this.client.destroy();
  }
}

/**
 * The upload body without copying where possible: one chunk (the usual ingest put) is passed as
 * it is; several become a stream that the uploader gathers part by part, so the whole body is
 * never copied into one more buffer of its size.
 */
function bodyOf(chunks: Uint8Array[]): Uint8Array | Readable {
  if (chunks.length === 0) return new Uint8Array(0);
  if (chunks.length === 1) return chunks[0];
  return Readable.from(chunks);
}

/**
 * The answer to a ranged GET must start where the range does. Some servers send more than
 * asked (s3rver reads bytes=0-0 as "from 0 to the end"; a server that ignores Range sends the
 * whole object with no Content-Range): from the right start, the extra is cut off by the reader;
 * from any other start, it is refused rather than served as the span.
 */
function checkServedRange(contentRange: string | undefined, asked: ByteSpan): void {
  const servedStart = contentRange === undefined ? 0 : Number(/^bytes (\d+)-\d+\/(?:\d+|\*)$/.exec(contentRange)?.[1] ?? NaN);
  if (servedStart !== asked.start) throw new Error('the object store answered a ranged GET with other bytes than asked for');
}

/**
 * body into out, at most limit bytes, with backpressure; then out ends and the body is dropped.
 * A failure of the body after that is no longer the reader's concern.
 */
function pipeAtMost(body: Readable, out: PassThrough, limit: number): void {
  let left = limit;
  let done = false;
  const finish = (last?: Buffer) => {
    if (done) return;
    done = true;
    out.end(last);
    body.destroy();
  };
  body.on('error', (e) => {
    if (done) return;
    done = true;
    out.destroy(storeFailure(e, 'read'));
  });
  out.once('close', () => {
    done = true;
    body.destroy();
  });
  body.on('end', () => finish());
  body.on('data', (chunk: Buffer) => {
    if (done) return;
    // More than asked: cut off. (Not on the exact last byte: a body read to its end keeps its
    // connection for reuse.)
    if (chunk.length > left) return finish(chunk.subarray(0, left));
    left -= chunk.length;
    if (!out.write(chunk)) {
      body.pause();
      out.once('drain', () => body.resume());
    }
  });
}

function spanLength(span: ByteSpan): number {
  return span.end - span.start + 1;
}

/** Whole non-negative offsets, at least minLength bytes (read() allows an empty span, as the file store does). */
function checkSpan(span: ByteSpan, minLength = 0): void {
  const valid = Number.isSafeInteger(span.start) && Number.isSafeInteger(span.end) && span.start >= 0 && spanLength(span) >= minLength;
  if (!valid) throw new RangeError('invalid byte span');
}

/**
 * The GETs that cover the spans: sorted by start, a span that begins within `gap` bytes of the
 * current range's end extends it. Exported for tests.
 */
export function coalesceSpans(spans: ByteSpan[], gap: number): ByteSpan[] {
  const sorted = spans.filter((s) => s.end >= s.start).sort((a, b) => a.start - b.start);
  const ranges: ByteSpan[] = [];
  for (const s of sorted) {
    const last = ranges[ranges.length - 1];
    if (last && s.start <= last.end + 1 + gap) last.end = Math.max(last.end, s.end);
    else ranges.push({ start: s.start, end: s.end });
  }
  return ranges;
}

/** The index of the range (sorted, disjoint) that contains the span. */
function rangeHolding(ranges: ByteSpan[], span: ByteSpan): number {
  let lo = 0;
  let hi = ranges.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (ranges[mid].start <= span.start) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}
