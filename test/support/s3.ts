/**
 * An S3-compatible server (s3rver) on a free loopback port, storing under its own temporary
 * folder, with one fresh bucket: each test file gets a store nobody else writes to, and stop()
 * leaves neither a listening socket nor files behind.
 */
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import crypto, { randomBytes } from 'node:crypto';

/** The part of s3rver's API these tests use (the package ships no types). */
interface S3rverServer {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
type S3rverConstructor = new (options: {
  address: string;
  port: number;
  directory: string;
  silent: boolean;
  configureBuckets: { name: string }[];
}) => S3rverServer;
const S3rver = loadS3rverWithoutDes();

/**
 * s3rver encrypts its ListObjectsV2 continuation tokens with DES, which OpenSSL 3 (Node 17 and
 * later) no longer provides: every listing longer than one page fails with InternalError. s3rver
 * is given a crypto module whose 'des' is AES-128-CBC under its 8-byte key and IV repeated to 16
 * bytes, so the token stays opaque and s3rver's own checks on it (region, bucket) still run.
 * The substitute is registered only while s3rver's modules load: nothing else sees it.
 */
function loadS3rverWithoutDes(): S3rverConstructor {
  const stretched = (b: crypto.BinaryLike) => {
    const bytes = Buffer.from(b as Uint8Array);
    return Buffer.concat([bytes, bytes]);
  };
  const replaced = (algorithm: string) => (algorithm === 'des' ? 'aes-128-cbc' : algorithm);
  const substitute = {
    ...crypto,
    createCipheriv: (algorithm: string, key: crypto.BinaryLike, iv: crypto.BinaryLike) =>
      algorithm === 'des' ? crypto.createCipheriv(replaced(algorithm), stretched(key), stretched(iv)) : crypto.createCipheriv(algorithm, key, iv),
    createDecipheriv: (algorithm: string, key: crypto.BinaryLike, iv: crypto.BinaryLike) =>
      algorithm === 'des' ? crypto.createDecipheriv(replaced(algorithm), stretched(key), stretched(iv)) : crypto.createDecipheriv(algorithm, key, iv),
  };
  jest.doMock('crypto', () => substitute);
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('s3rver') as S3rverConstructor;
  } finally {
    jest.dontMock('crypto');
  }
}

/** s3rver checks signatures against this fixed key pair. */
const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

export interface TestS3 {
  /** http://127.0.0.1:<port> */
  endpoint: string;
  bucket: string;
  /** A STORE_URL for this bucket, with no prefix. */
  url: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  stop(): Promise<void>;
}

export async function startS3(): Promise<TestS3> {
  const directory = await fsp.mkdtemp(path.join(os.tmpdir(), 'veilgate-s3-'));
  const bucket = `veilgate-test-${randomBytes(4).toString('hex')}`;
  // Port 0: the kernel picks a free port, so parallel runs on a shared machine cannot collide.
  const server = new S3rver({ address: '127.0.0.1', port: 0, directory, silent: true, configureBuckets: [{ name: bucket }] });
  let address: AddressInfo;
  try {
    address = await server.run();
  } catch (e) {
    await fsp.rm(directory, { recursive: true, force: true });
    throw e;
  }
  const endpoint = `http://127.0.0.1:${address.port}`;
  let stopped = false;
  return {
    endpoint,
    bucket,
    url: `s3://${bucket}?endpoint=${encodeURIComponent(endpoint)}&region=us-east-1&forcePathStyle=true`,
    credentials: { ...S3RVER_CREDENTIALS },
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        await server.close();
      } finally {
        await fsp.rm(directory, { recursive: true, force: true });
      }
    },
  };
}
