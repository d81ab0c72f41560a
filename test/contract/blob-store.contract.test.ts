/**
 * The BlobStore contract: the same behaviour from every implementation, checked against real
 * back ends (a temporary data directory; s3rver on a loopback port), then what only the S3
 * store has to get right (its URL, ranged GETs, multipart, paging, error mapping, timeouts).
 */
import fsp from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { HeadObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import type { BlobStore, ByteSpan } from '../../src/store/blob-store';
import { FsBlobStore } from '../../src/store/fs-blob-store';
import { S3BlobStore, coalesceSpans, createS3Client, type S3ClientOptions } from '../../src/store/s3-blob-store';
import { parseS3Url, redactedStoreUrl, type S3Location } from '../../src/store/s3-url';
import { VeilgateError, dicomStatusOf, httpStatusOf } from '../../src/errors';
import { startS3 } from '../support/s3';

const MiB = 1024 * 1024;

/** What the S3 client was asked to do, for the tests that check how (not only what) it reads. */
interface SentCommand {
  command: string;
  range?: string;
}

interface Harness {
  store: BlobStore;
  /** Keys for the listing test: past S3's page of 1,000, fewer for files (each put is fsynced). */
  listingSize: number;
  /** S3 only: every command the store's client sent. */
  sent?: SentCommand[];
  /** S3 only: the most commands in flight at once. */
  maxInFlight?: () => number;
  stop(): Promise<void>;
}

/** A client that records each command (name and Range) and how many run at once. */
function recordingClient(location: S3Location, options: S3ClientOptions): { client: S3Client; sent: SentCommand[]; maxInFlight: () => number } {
  const client = createS3Client(location, options);
  const sent: SentCommand[] = [];
  let inFlight = 0;
  let most = 0;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      sent.push({ command: String(context.commandName), range: (args.input as { Range?: string }).Range });
      most = Math.max(most, ++inFlight);
      try {
        return await next(args);
      } finally {
        inFlight--;
      }
    },
    { step: 'initialize', name: 'veilgateTestRecorder' },
  );
  return { client, sent, maxInFlight: () => most };
}

async function openFsStore(): Promise<Harness> {
  const dataDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'veilgate-blobs-'));
  const store = new FsBlobStore(dataDir);
  return {
    store,
    listingSize: 200,
    async stop() {
      store.close();
      await fsp.rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** s3rver with the store under a two-level prefix, so prefix handling is part of every test. */
async function openS3Store(): Promise<Harness> {
  const s3 = await startS3();
  const location = parseS3Url(s3.url.replace(`s3://${s3.bucket}`, `s3://${s3.bucket}/site-a/v1`));
  const { client, sent, maxInFlight } = recordingClient(location, { credentials: s3.credentials });
  const store = new S3BlobStore(location, { client });
  return {
    store,
    listingSize: 1_100,
    sent,
    maxInFlight,
    async stop() {
      store.close();
      client.destroy();
      await s3.stop();
    },
  };
}

async function bytesOf(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

/** The error the stream emits, or undefined if it ends cleanly. */
function errorOf(stream: Readable): Promise<unknown> {
  return new Promise((resolve) => {
    stream.once('error', resolve);
    stream.once('end', () => resolve(undefined));
    stream.resume();
  });
}

/** Chunks of the given sizes, random content; and their concatenation to compare with. */
function chunksOf(sizes: number[]): { chunks: Uint8Array[]; whole: Buffer } {
  const chunks = sizes.map((n) => new Uint8Array(randomBytes(n)));
  return { chunks, whole: Buffer.concat(chunks) };
}

const slice = (whole: Buffer, s: ByteSpan) => whole.subarray(s.start, s.end + 1);

/** Run fn over items with a few at a time (1,100 sequential puts would dominate the run). */
async function forEachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < items.length) await fn(items[next++]);
  }));
}

describe.each([
  ['FsBlobStore', openFsStore],
  ['S3BlobStore', openS3Store],
] as const)('BlobStore contract: %s', (_name, open) => {
  let h: Harness;
  beforeAll(async () => {
    h = await open();
  });
  afterAll(async () => {
    await h?.stop();
  });

  test.each([
    ['one small chunk', [1234]],
    ['chunks of several sizes with an empty one', [1, 0, 1000, 65536, 3, 0, 77777]],
    ['one chunk of 8 MiB and more (multipart in S3)', [8 * MiB + 123]],
    ['many chunks adding up to 9 MiB', Array.from({ length: 9 }, (_, i) => MiB + (i % 2 ? 5 : -5))],
  ])('put then read and stream back byte for byte: %s', async (_label, sizes) => {
    const key = `1.2.826/put/${randomBytes(4).toString('hex')}`;
    const { chunks, whole } = chunksOf(sizes);
    await h.store.put(key, chunks);
    expect((await h.store.read(key, [{ start: 0, end: whole.length - 1 }])).equals(whole)).toBe(true);
    expect((await bytesOf(h.store.stream(key))).equals(whole)).toBe(true);
  });

  test('an empty blob: no chunks, or one empty chunk', async () => {
    for (const chunks of [[], [new Uint8Array(0)]]) {
      const key = `1.2.826/empty/${randomBytes(4).toString('hex')}`;
      await h.store.put(key, chunks);
      expect(await h.store.exists(key)).toBe(true);
      expect((await bytesOf(h.store.stream(key))).length).toBe(0);
      expect((await h.store.read(key, [])).length).toBe(0);
    }
  });

  test('stream a span: first byte, last byte, the middle', async () => {
    const key = '1.2.826/spans/a';
    const { chunks, whole } = chunksOf([100_000, 200_001]);
    await h.store.put(key, chunks);
    const last = whole.length - 1;
    for (const span of [{ start: 0, end: 0 }, { start: last, end: last }, { start: 99_990, end: 100_020 }, { start: 0, end: last }]) {
      expect((await bytesOf(h.store.stream(key, span))).equals(slice(whole, span))).toBe(true);
    }
  });

  test('read several spans in any order, overlapping, repeated, adjacent and far apart', async () => {
    const key = '1.2.826/spans/b';
    const { chunks, whole } = chunksOf([3 * MiB]);
    await h.store.put(key, chunks);
    const spans: ByteSpan[] = [
      { start: 2 * MiB, end: 2 * MiB + 99 },
      { start: 10, end: 19 },
      { start: 0, end: 9 }, // adjacent to the one before it, given after it
      { start: 15, end: 40 }, // overlaps
      { start: 10, end: 19 }, // repeated
      { start: 50_000, end: 50_010 }, // within 64 KiB of the first ones
      { start: 3 * MiB - 1, end: 3 * MiB - 1 }, // the last byte
      { start: MiB, end: MiB + 65_535 },
      { start: 30, end: 29 }, // empty
    ];
    const expected = Buffer.concat(spans.map((s) => slice(whole, s)));
    expect((await h.store.read(key, spans)).equals(expected)).toBe(true);
  });

  test('exists is true for a stored key and false for another', async () => {
    await h.store.put('1.2.826/exists/yes', [Buffer.from('x')]);
    expect(await h.store.exists('1.2.826/exists/yes')).toBe(true);
    expect(await h.store.exists('1.2.826/exists/no')).toBe(false);
  });

  test('delete removes the key; deleting a missing key is not an error', async () => {
    await h.store.put('1.2.826/delete/a', [Buffer.from('gone soon')]);
    await h.store.delete('1.2.826/delete/a');
    expect(await h.store.exists('1.2.826/delete/a')).toBe(false);
    await expect(h.store.delete('1.2.826/delete/a')).resolves.toBeUndefined();
    await expect(h.store.delete('1.2.826/delete/never')).resolves.toBeUndefined();
  });

  test('a put over an existing key replaces it whole, longer or shorter', async () => {
    const key = '1.2.826/overwrite/a';
    await h.store.put(key, [randomBytes(50_000)]);
    const shorter = randomBytes(1_000);
    await h.store.put(key, [shorter]);
    expect((await bytesOf(h.store.stream(key))).equals(shorter)).toBe(true);
    const longer = chunksOf([6 * MiB, 7]);
    await h.store.put(key, longer.chunks);
    expect((await h.store.read(key, [{ start: 0, end: longer.whole.length - 1 }])).equals(longer.whole)).toBe(true);
  });

  test('list yields exactly the keys put, with their modification times, across pages', async () => {
    const own = await open();
    try {
      const keys = Array.from({ length: own.listingSize }, (_, i) => `1.2.826.${i % 7}/series.${i % 3}/${i}.dcm`);
      const before = Date.now();
      await forEachLimited(keys, 16, (k) => own.store.put(k, [Buffer.from(k)]));
      const after = Date.now();

      const listCalls = () => own.sent?.filter((c) => c.command === 'ListObjectsV2Command').length ?? 0;
      // Lazily: the first blob arrives after one page, not after the whole listing.
      for await (const first of own.store.list()) {
        expect(keys).toContain(first.key);
        break;
      }
      if (own.sent) expect(listCalls()).toBe(1);

      const listed: { key: string; modified: number }[] = [];
      for await (const blob of own.store.list()) listed.push(blob);
      expect(listed.map((b) => b.key).sort()).toEqual([...keys].sort());
      // S3 keeps whole seconds.
      for (const b of listed) expect(b.modified).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 - 1000);
      for (const b of listed) expect(b.modified).toBeLessThanOrEqual(after + 1000);
      // More keys than one page of 1,000 holds.
      if (own.sent) expect(listCalls() - 1).toBeGreaterThanOrEqual(2);
    } finally {
      await own.stop();
    }
  });

  test('quarantine takes the key out of list() and exists(); others stay', async () => {
    const own = await open();
    try {
      await own.store.put('1.2.826/q/orphan', [Buffer.from('nobody refers to me')]);
      await own.store.put('1.2.826/q/kept', [Buffer.from('indexed')]);
      await own.store.quarantine('1.2.826/q/orphan');
      expect(await own.store.exists('1.2.826/q/orphan')).toBe(false);
      expect(await own.store.exists('1.2.826/q/kept')).toBe(true);
      const listed: string[] = [];
      for await (const b of own.store.list()) listed.push(b.key);
      expect(listed).toEqual(['1.2.826/q/kept']);
      await expect(own.store.quarantine('1.2.826/q/never-stored')).rejects.toThrow();
    } finally {
      await own.stop();
    }
  });

  describe.each(['../x', 'a//b', 'a/./b', '', '/abs', 'a/', 'a/../b', 'a b', 'a\\b'])('the invalid key %j', (bad) => {
    test('is refused by every method', async () => {
      await expect(h.store.put(bad, [Buffer.from('x')])).rejects.toThrow('invalid blob key');
      await expect(h.store.read(bad, [{ start: 0, end: 0 }])).rejects.toThrow('invalid blob key');
      await expect(h.store.exists(bad)).rejects.toThrow('invalid blob key');
      await expect(h.store.delete(bad)).rejects.toThrow('invalid blob key');
      await expect(h.store.quarantine(bad)).rejects.toThrow('invalid blob key');
      expect(() => h.store.stream(bad)).toThrow('invalid blob key');
      expect(() => h.store.stream(bad, { start: 0, end: 0 })).toThrow('invalid blob key');
    });
  });

  test('a missing key: stream() emits an error, read() rejects', async () => {
    // (toHaveProperty, not toBeInstanceOf(Error): a file-system error comes from outside jest's sandbox.)
    expect(await errorOf(h.store.stream('1.2.826/missing/a'))).toHaveProperty('message');
    expect(await errorOf(h.store.stream('1.2.826/missing/a', { start: 0, end: 9 }))).toHaveProperty('message');
    await expect(h.store.read('1.2.826/missing/a', [{ start: 0, end: 9 }])).rejects.toThrow();
    await expect(h.store.read('1.2.826/missing/a', [])).rejects.toThrow();
  });

  test('a span past the end of the blob makes read() reject', async () => {
    await h.store.put('1.2.826/short/a', [Buffer.alloc(100, 1)]);
    await expect(h.store.read('1.2.826/short/a', [{ start: 90, end: 109 }])).rejects.toThrow('shorter than its index says');
    await expect(h.store.read('1.2.826/short/a', [{ start: 0, end: 9 }, { start: 200, end: 209 }])).rejects.toThrow('shorter than its index says');
  });
});

describe('S3BlobStore: how it talks to S3', () => {
  let s3: Awaited<ReturnType<typeof startS3>>;
  beforeAll(async () => {
    s3 = await startS3();
  });
  afterAll(async () => {
    await s3?.stop();
  });

  /** A store on the test bucket with a recording client; closed by the test. */
  function recordedStore(url = s3.url) {
    const location = parseS3Url(url);
    const recorded = recordingClient(location, { credentials: s3.credentials });
    const store = new S3BlobStore(location, { client: recorded.client });
    return { ...recorded, store, location, close: () => recorded.client.destroy() };
  }

  test('objects live under <prefix>/files/ and quarantined ones under <prefix>/orphans/', async () => {
    for (const [url, root] of [
      [s3.url, ''],
      [s3.url.replace(`s3://${s3.bucket}`, `s3://${s3.bucket}/tenant/x`), 'tenant/x/'],
    ] as const) {
      const { store, client, close } = recordedStore(url);
      try {
        await store.put('1.2/3.4', [Buffer.from('abc')]);
        const head = await client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: `${root}files/1.2/3.4` }));
        expect(head.ContentLength).toBe(3);
        await store.quarantine('1.2/3.4');
        const listed = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: root }));
        expect(listed.Contents?.map((c) => c.Key)).toContain(`${root}orphans/1.2/3.4`);
        expect(listed.Contents?.map((c) => c.Key)).not.toContain(`${root}files/1.2/3.4`);
      } finally {
        close();
      }
    }
  });

  test('a small put is one PutObject; a body over 5 MiB is a multipart upload', async () => {
    const { store, sent, close } = recordedStore();
    try {
      await store.put('mp/small', [randomBytes(1000)]);
      expect(sent.map((c) => c.command)).toEqual(['PutObjectCommand']);
      sent.length = 0;
      await store.put('mp/large', [randomBytes(8 * MiB + 1)]);
      const commands = sent.map((c) => c.command);
      expect(commands[0]).toBe('CreateMultipartUploadCommand');
      expect(commands.filter((c) => c === 'UploadPartCommand')).toHaveLength(2);
      expect(commands).toContain('CompleteMultipartUploadCommand');
      expect(commands).not.toContain('PutObjectCommand');
    } finally {
      close();
    }
  });

  test('spans are ranged GETs: near ones merged, far ones apart, at most 8 at once', async () => {
    const { store, sent, maxInFlight, close } = recordedStore();
    try {
      const whole = randomBytes(4 * MiB);
      await store.put('ranges/a', [whole]);
      sent.length = 0;

      // Within 64 KiB of each other (and given out of order): one GET from the first to the last.
      const near: ByteSpan[] = [{ start: 60_000, end: 60_009 }, { start: 1000, end: 1009 }, { start: 1010, end: 1019 }];
      expect((await store.read('ranges/a', near)).equals(Buffer.concat(near.map((s) => slice(whole, s))))).toBe(true);
      expect(sent).toEqual([{ command: 'GetObjectCommand', range: 'bytes=1000-60009' }]);
      sent.length = 0;

      // 20 spans 200 KiB apart: 20 GETs, never more than 8 running.
      const far = Array.from({ length: 20 }, (_, i) => ({ start: i * 200 * 1024, end: i * 200 * 1024 + 99 })).reverse();
      expect((await store.read('ranges/a', far)).equals(Buffer.concat(far.map((s) => slice(whole, s))))).toBe(true);
      expect(sent).toHaveLength(20);
      expect(sent.every((c) => c.command === 'GetObjectCommand' && /^bytes=\d+-\d+$/.test(c.range ?? ''))).toBe(true);
      expect(maxInFlight()).toBeLessThanOrEqual(8);
      expect(maxInFlight()).toBeGreaterThan(1);
      sent.length = 0;

      await bytesOf(store.stream('ranges/a', { start: 5, end: 6 }));
      expect(sent).toEqual([{ command: 'GetObjectCommand', range: 'bytes=5-6' }]);
    } finally {
      close();
    }
  });

  test('coalesceSpans merges spans that touch or lie within the gap', () => {
    expect(coalesceSpans([{ start: 0, end: 9 }, { start: 10, end: 19 }], 0)).toEqual([{ start: 0, end: 19 }]);
    expect(coalesceSpans([{ start: 0, end: 9 }, { start: 11, end: 19 }], 0)).toEqual([{ start: 0, end: 9 }, { start: 11, end: 19 }]);
    expect(coalesceSpans([{ start: 100, end: 200 }, { start: 0, end: 9 }, { start: 50, end: 150 }], 40)).toEqual([{ start: 0, end: 200 }]);
    expect(coalesceSpans([{ start: 0, end: 1000 }, { start: 5, end: 6 }], 0)).toEqual([{ start: 0, end: 1000 }]);
    expect(coalesceSpans([{ start: 5, end: 4 }], 0)).toEqual([]);
  });

  test('a reader that stops early does not leave the GET running', async () => {
    const { store, close } = recordedStore();
    try {
      await store.put('early/a', [randomBytes(6 * MiB)]);
      const stream = store.stream('early/a');
      await new Promise<void>((resolve) => stream.once('data', () => resolve()));
      stream.destroy();
      await new Promise((resolve) => stream.once('close', resolve));
      // The store still answers: the aborted GET released its socket.
      expect(await store.exists('early/a')).toBe(true);
    } finally {
      close();
    }
  });

  test('a missing key is a processing failure (as a missing file is), never "cannot understand"', async () => {
    const { store, close } = recordedStore();
    try {
      const err = await store.read('missing/x', [{ start: 0, end: 1 }]).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(VeilgateError);
      expect((err as VeilgateError).kind).toBe('processing-failure');
      const streamed = await errorOf(store.stream('missing/x'));
      expect((streamed as VeilgateError).kind).toBe('processing-failure');
    } finally {
      close();
    }
  });
});

describe('S3BlobStore: failures of the store are ours (out-of-resources), and quick', () => {
  const secret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
  const credentials = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: secret };
  const quick: S3ClientOptions = { credentials, connectionTimeoutMs: 300, requestTimeoutMs: 500, idleTimeoutMs: 500 };

  function storeAt(endpoint: string) {
    const location = parseS3Url(`s3://veilgate-test/p?endpoint=${encodeURIComponent(endpoint)}&region=us-east-1&forcePathStyle=true`);
    const client = createS3Client(location, quick);
    return { store: new S3BlobStore(location, { client }), client };
  }

  function expectOurs(err: unknown) {
    expect(err).toBeInstanceOf(VeilgateError);
    expect((err as VeilgateError).kind).toBe('out-of-resources');
    expect(httpStatusOf(err)).toBe(503);
    expect(dicomStatusOf(err)).toBe(0xa700);
    const text = `${(err as Error).message} ${(err as Error).stack}`;
    expect(text).not.toContain(secret);
    expect(text).not.toContain(credentials.accessKeyId);
    expect(text).not.toMatch(/https?:\/\//);
  }

  async function freePort(): Promise<number> {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    return port;
  }

  test('a closed port fails put, read, stream, exists and list with out-of-resources within seconds', async () => {
    const { store, client } = storeAt(`http://127.0.0.1:${await freePort()}`);
    try {
      const started = Date.now();
      expectOurs(await store.put('a/b', [Buffer.from('x')]).catch((e: unknown) => e));
      expect(Date.now() - started).toBeLessThan(10_000);
      expectOurs(await store.read('a/b', [{ start: 0, end: 0 }]).catch((e: unknown) => e));
      expectOurs(await errorOf(store.stream('a/b')));
      expectOurs(await store.exists('a/b').catch((e: unknown) => e));
      expectOurs(await (async () => {
        for await (const _ of store.list()) void _;
      })().catch((e: unknown) => e));
    } finally {
      client.destroy();
    }
  });

  test('a store that accepts connections but never answers times out as out-of-resources', async () => {
    const sockets = new Set<net.Socket>();
    const server = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { store, client } = storeAt(`http://127.0.0.1:${(server.address() as net.AddressInfo).port}`);
    try {
      const started = Date.now();
      expectOurs(await store.put('a/b', [Buffer.from('x')]).catch((e: unknown) => e));
      expect(Date.now() - started).toBeLessThan(15_000);
    } finally {
      client.destroy();
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  describe.each([
    [503, 'SlowDown', 'out-of-resources', 3],
    [500, 'InternalError', 'out-of-resources', 3],
    [507, 'XMinioStorageFull', 'out-of-resources', 1],
    [403, 'QuotaExceeded', 'out-of-resources', 1],
    [403, 'AccessDenied', 'out-of-resources', 1],
    [403, 'SignatureDoesNotMatch', 'out-of-resources', 1],
    [404, 'NoSuchBucket', 'out-of-resources', 1],
    [400, 'EntityTooLarge', 'payload-too-large', 1],
  ] as const)('an S3 answer %i %s', (status, code, kind, attempts) => {
    test(`is ${kind}, after ${attempts} attempt(s)`, async () => {
      let requests = 0;
      const server = http.createServer((req, res) => {
        requests++;
        req.resume();
        req.on('end', () => {
          res.writeHead(status, { 'content-type': 'application/xml' });
          res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>as told</Message><RequestId>1</RequestId></Error>`);
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const { store, client } = storeAt(`http://127.0.0.1:${(server.address() as net.AddressInfo).port}`);
      try {
        const err = await store.put('a/b', [Buffer.from('x')]).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(VeilgateError);
        expect((err as VeilgateError).kind).toBe(kind);
        if (kind === 'out-of-resources') expectOurs(err);
        expect((err as Error).message).toContain(code);
        expect(requests).toBe(attempts);
      } finally {
        client.destroy();
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
    });
  });
});

describe('parseS3Url', () => {
  test('reads bucket, prefix, endpoint, region and path style', () => {
    expect(parseS3Url('s3://my-bucket/site-a/v1?endpoint=http://127.0.0.1:9000&region=eu-west-3&forcePathStyle=true')).toEqual({
      bucket: 'my-bucket',
      prefix: 'site-a/v1',
      endpoint: 'http://127.0.0.1:9000',
      region: 'eu-west-3',
      forcePathStyle: true,
    });
    expect(parseS3Url('s3://my.bucket.2')).toEqual({ bucket: 'my.bucket.2', prefix: '', region: 'us-east-1', forcePathStyle: false });
    expect(parseS3Url('s3://abc/')).toMatchObject({ prefix: '' });
    expect(parseS3Url('s3://abc/folder/')).toMatchObject({ prefix: 'folder' });
    expect(parseS3Url('s3://abc?endpoint=https%3A%2F%2Fminio.example.org%3A9000%2F')).toMatchObject({ endpoint: 'https://minio.example.org:9000', forcePathStyle: true });
    expect(parseS3Url('s3://abc?endpoint=https://minio.example.org&forcePathStyle=false')).toMatchObject({ forcePathStyle: false });
  });

  test.each([
    ['s3://ab', 'bucket name'],
    ['s3://Upper-Case', 'bucket name'],
    ['s3://under_score', 'bucket name'],
    ['s3://-leading', 'bucket name'],
    ['s3://trailing-', 'bucket name'],
    ['s3://two..dots', 'bucket name'],
    ['s3://192.168.1.10', 'bucket name'],
    [`s3://${'a'.repeat(64)}`, 'bucket name'],
    ['s3:///prefix', 'bucket name is missing'],
    ['s3://abc/a/../b', "'..'"],
    ['s3://abc/..', "'..'"],
    ['s3://abc/./a', "'..'"],
    ['s3://abc/a//b', 'empty path component'],
    ['s3://abc//a', 'empty path component'],
    ['s3://abc//', 'empty path component'],
    ['s3://abc/a%2Fb', 'prefix components'],
    ['s3://abc?foo=1', 'unknown parameter foo'],
    ['s3://abc?region=us-east-1&region=eu-west-1', 'given twice'],
    ['s3://abc?region=', 'empty'],
    ['s3://abc?region=US_EAST', 'region'],
    ['s3://abc?forcePathStyle=yes', 'forcePathStyle'],
    ['s3://abc?endpoint=ftp://host', 'http'],
    ['s3://abc?endpoint=not-a-url', 'http'],
    ['s3://abc?endpoint=http://host:9000/path', 'no path'],
    ['s3://abc#frag', 'fragment'],
    ['http://abc/prefix', 's3://'],
  ])('refuses %s', (url, message) => {
    expect(() => parseS3Url(url)).toThrow(message);
  });

  test.each([
    's3://AKIAIOSFODNN7EXAMPLE:wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY@my-bucket/prefix',
    's3://AKIAIOSFODNN7EXAMPLE:wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY@my-bucket',
    's3://AKIAIOSFODNN7EXAMPLE@my-bucket',
    's3://my-bucket?secretAccessKey=wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY',
    's3://my-bucket?aws_access_key_id=AKIAIOSFODNN7EXAMPLE',
    's3://my-bucket?endpoint=http://AKIAIOSFODNN7EXAMPLE:wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY@127.0.0.1:9000',
  ])('refuses credentials in %s, pointing at the environment, without echoing them', (url) => {
    let message = '';
    try {
      parseS3Url(url);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain('AWS_ACCESS_KEY_ID');
    expect(message).toContain('AWS_SECRET_ACCESS_KEY');
    expect(message).not.toContain('wJalr');
    expect(message).not.toContain('AKIAIOSFODNN7EXAMPLE');
  });

  test('never echoes what it cannot parse (a forgotten @ turns a secret into a "bucket")', () => {
    for (const url of ['s3://AKIAIOSFODNN7EXAMPLE:wJalrXUtnFEMIK7MDENG', 's3://abc?x=wJalrXUtnFEMIK7MDENG', 's3://abc?region=wJalr_XUtnFEMIK7MDENG']) {
      expect(() => parseS3Url(url)).toThrow();
      try {
        parseS3Url(url);
      } catch (e) {
        expect((e as Error).message).not.toContain('wJalr');
      }
    }
  });
});

describe('redactedStoreUrl', () => {
  test.each([
    ['s3://AKIA:wJalr/XUtn@my-bucket/p?region=eu-west-1', 's3://***@my-bucket/p?region=eu-west-1'],
    ['s3://my-bucket/p?endpoint=http://user:wJalrXUtn@minio:9000&region=us-east-1', 's3://my-bucket/p?endpoint=http%3A%2F%2F***%40minio%3A9000&region=us-east-1'],
    ['s3://my-bucket?secretAccessKey=wJalrXUtn&region=us-east-1', 's3://my-bucket?secretAccessKey=***&region=us-east-1'],
    ['s3://my-bucket/p?endpoint=http://127.0.0.1:9000', 's3://my-bucket/p?endpoint=http://127.0.0.1:9000'],
    ['file:///var/lib/veilgate', 'file:///var/lib/veilgate'],
    ['/home/me@site/veilgate-data', '/home/me@site/veilgate-data'],
  ])('%s is logged as %s', (url, logged) => {
    expect(redactedStoreUrl(url)).toBe(logged);
    expect(redactedStoreUrl(url)).not.toContain('wJalr');
  });
});
