/**
 * Short writes, as a filling disk makes them: writev(2) writes part of what it was given and
 * reports success (libuv returns the bytes that made it and no error); the next call fails with
 * ENOSPC. The blob store must go on with the rest while there is progress, and fail with an
 * out-of-resources error (never keep a short file) when there is none. The bytes are a real
 * instance: CT_small.dcm as the writer chunks it.
 */
import fs from 'node:fs';
import fsp, { FileHandle } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parsePart10 } from '../../src/dicom/parse';
import { writePart10 } from '../../src/dicom/write';
import { TS } from '../../src/dicom/transfer-syntax';
import { identify } from '../../src/ingest/validate';
import { FsBlobStore } from '../../src/store/fs-blob-store';
import { ShortWriteError, writeAllChunks, writeAllSync } from '../../src/store/write-fully';
import { LinkageFile } from '../../src/deid/linkage';
import { isOutOfResources } from '../../src/errors';

const DATA = path.resolve(__dirname, '../../../shared/data');

function instanceChunks(): Uint8Array[] {
  const { dataset } = parsePart10(fs.readFileSync(path.join(DATA, 'pydicom/CT_small.dcm')));
  return writePart10(dataset, { ...identify(dataset), transferSyntaxUID: TS.ExplicitVRLittleEndian }).chunks;
}

interface DiskModel {
  /** Most bytes one writev call takes (a partial write past it). */
  perCall: number;
  /** Bytes left on the "disk"; once none are, writev fails with ENOSPC. */
  free: number;
  /** Instead of ENOSPC, a full disk reports 0 bytes written and no error. */
  silentWhenFull?: boolean;
  calls: number;
}

function enospc(): NodeJS.ErrnoException {
  return Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' });
}

/** A real file handle whose writev behaves as a disk filling up would. */
function shortWriting(real: FileHandle, disk: DiskModel): FileHandle {
  const writev = async (buffers: Uint8Array[]) => {
    disk.calls++;
    const room = Math.min(disk.perCall, disk.free);
    if (room === 0) {
      if (disk.silentWhenFull) return { bytesWritten: 0, buffers };
      throw enospc();
    }
    let written = 0;
    for (const b of buffers) {
      if (written === room) break;
      const part = b.subarray(0, room - written);
      await real.write(part);
      written += part.length;
    }
    disk.free -= written;
    return { bytesWritten: written, buffers };
  };
  return new Proxy(real, {
    get(target, prop) {
      if (prop === 'writev') return writev;
      const v = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

describe('writeAllChunks', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'veilgate-short-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('goes on after partial writes until every byte is written, in order', async () => {
    const chunks = instanceChunks();
    const expected = Buffer.concat(chunks);
    const file = path.join(dir, 'out');
    const real = await fsp.open(file, 'wx');
    const disk: DiskModel = { perCall: 1000, free: Infinity, calls: 0 };
    await writeAllChunks(shortWriting(real, disk), chunks);
    await real.close();
    expect(disk.calls).toBeGreaterThan(expected.length / 1000 - 1);
    expect(fs.readFileSync(file).equals(expected)).toBe(true);
  });

  test('more than IOV_MAX chunks, some empty, split anywhere', async () => {
    const source = Buffer.concat(instanceChunks());
    const chunks: Uint8Array[] = [];
    for (let at = 0, k = 0; at < source.length; k++) {
      const n = k % 7 === 0 ? 0 : 1 + (k % 13);
      chunks.push(source.subarray(at, at + n));
      at += n;
    }
    expect(chunks.length).toBeGreaterThan(2048);
    const file = path.join(dir, 'out');
    const real = await fsp.open(file, 'wx');
    await writeAllChunks(shortWriting(real, { perCall: 4093, free: Infinity, calls: 0 }), chunks);
    await real.close();
    expect(fs.readFileSync(file).equals(source)).toBe(true);
  });

  test('a write that makes no progress and reports none is an ENOSPC-kind error', async () => {
    const real = await fsp.open(path.join(dir, 'out'), 'wx');
    const handle = shortWriting(real, { perCall: 4096, free: 10_000, silentWhenFull: true, calls: 0 });
    const err = await writeAllChunks(handle, instanceChunks()).catch((e) => e);
    await real.close();
    expect(err).toBeInstanceOf(ShortWriteError);
    expect(err.code).toBe('ENOSPC');
    expect(err.written).toBe(10_000);
    expect(isOutOfResources(err)).toBe(true);
  });

  test('writeAllSync writes every byte', () => {
    const data = Buffer.concat(instanceChunks());
    const file = path.join(dir, 'sync');
    const fd = fs.openSync(file, 'wx');
    writeAllSync(fd, data);
    fs.closeSync(fd);
    expect(fs.readFileSync(file).equals(data)).toBe(true);
  });
});

describe('FsBlobStore.put on a filling disk', () => {
  let dataDir: string;
  let store: FsBlobStore;
  let disk: DiskModel;
  const realOpen = fsp.open;

  beforeEach(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'veilgate-store-'));
    store = new FsBlobStore(dataDir);
    // Only the store's temporary files get the disk model; everything else opens as usual.
    jest.spyOn(fsp, 'open').mockImplementation(async (...args: Parameters<typeof fsp.open>) => {
      const h = await realOpen(...args);
      return String(args[0]).endsWith('.part') ? shortWriting(h, disk) : h;
    });
  });
  afterEach(() => {
    jest.restoreAllMocks();
    store.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const tmpFiles = () => fs.readdirSync(path.join(dataDir, 'tmp'), { recursive: true, withFileTypes: true }).filter((e) => e.isFile());

  test('the whole instance is stored through partial writes', async () => {
    const chunks = instanceChunks();
    disk = { perCall: 777, free: Infinity, calls: 0 };
    await store.put('a/b/c.dcm', chunks);
    expect(fs.readFileSync(path.join(dataDir, 'files/a/b/c.dcm')).equals(Buffer.concat(chunks))).toBe(true);
    expect(tmpFiles()).toEqual([]);
  });

  test('the disk fills mid-instance: put fails out-of-resources, and leaves no file and no temporary', async () => {
    const chunks = instanceChunks();
    const size = Buffer.concat(chunks).length;
    // As the fuzzer's full disk did: most of the file fits, one writev writes part and says nothing.
    disk = { perCall: Infinity, free: size - 1000, calls: 0 };
    const err = await store.put('a/b/c.dcm', chunks).catch((e) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err.code).toBe('ENOSPC');
    expect(isOutOfResources(err)).toBe(true);
    expect(disk.calls).toBeGreaterThanOrEqual(2); // it went on after the short write and found the disk full
    expect(fs.existsSync(path.join(dataDir, 'files/a/b/c.dcm'))).toBe(false);
    expect(tmpFiles()).toEqual([]);
  });

  test('a full disk that reports 0 bytes and no error: out-of-resources too', async () => {
    disk = { perCall: Infinity, free: 5000, silentWhenFull: true, calls: 0 };
    const err = await store.put('x.dcm', instanceChunks()).catch((e) => e);
    expect(err).toBeInstanceOf(ShortWriteError);
    expect(isOutOfResources(err)).toBe(true);
    expect(fs.existsSync(path.join(dataDir, 'files/x.dcm'))).toBe(false);
    expect(tmpFiles()).toEqual([]);
  });
});

describe('the linkage file on a filling disk', () => {
  test('a record that does not fit leaves no torn line behind', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'veilgate-linkage-'));
    const file = path.join(dir, 'linkage', 'linkage.jsonl');
    const linkage = new LinkageFile(file);
    const row = { issuerOfPatientID: '', patientID: 'P1', pseudonym: 'X', originalStudyUID: '1.2', studyUID: '2.25.1', originalSeriesUID: '1.3', seriesUID: '2.25.2', originalSOPInstanceUID: '1.4', sopInstanceUID: '2.25.3' };
    linkage.record(row);
    const before = fs.readFileSync(file, 'utf8');
    // The disk takes 10 more bytes, then is full.
    const realWrite = fs.writeSync;
    let free = 10;
    const spy = jest.spyOn(fs, 'writeSync').mockImplementation(((fd: number, buf: Uint8Array, offset?: number, length?: number) => {
      const n = Math.min(free, length ?? buf.length);
      if (n === 0) throw enospc();
      free -= n;
      return realWrite(fd, buf, offset ?? 0, n);
    }) as typeof fs.writeSync);
    try {
      expect(() => linkage.record(row)).toThrow(/ENOSPC/);
    } finally {
      spy.mockRestore();
    }
    expect(fs.readFileSync(file, 'utf8')).toBe(before);
    linkage.record(row);
    expect(fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l).patientID)).toEqual(['P1', 'P1']);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
