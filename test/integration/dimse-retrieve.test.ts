/**
 * C-MOVE and C-GET sub-operations (src/dimse/store-pipeline.ts) to peers that do not take what
 * is stored. The same MR image stored uncompressed, RLE, JPEG lossless, JPEG-LS and JPEG 2000:
 *   - movescu to a dcmtk storescp that takes only uncompressed data, Explicit VR Little Endian
 *     first (+xe), and to one that takes only Implicit VR (+xi); getscu taking uncompressed data,
 *     Explicit VR Little Endian first (+xe). Every instance arrives (written bit for bit as
 *     received, +B) in that syntax, with the reference pixels as pydicom reads them, and each
 *     rewrite was a transcode task of the worker pool (veilgate_worker_tasks_total in /metrics):
 *     none ran on the main thread. (getscu cannot be made to propose Implicit VR only for its
 *     storage contexts: its +xi proposes Explicit VR Little Endian only. The C-GET below through
 *     dcmjs-dimse, which proposes Implicit VR first, covers that.);
 *   - a C-MOVE whose first instance must be rewritten opens its association with a C-ECHO held
 *     until it is ready, and the next C-MOVE to that destination needs none (what it takes was
 *     learnt);
 *   - instances are read as they are sent: when the k-th arrives at a C-MOVE destination or at a
 *     C-GET requester, at most a few beyond it have been read from the store (before, a C-MOVE
 *     read 16 at a time before sending any), every one rewritten on the pool for a requester
 *     that takes Implicit VR.
 */
import { ChildProcess, execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import dicomParser from 'dicom-parser';
import { Client, requests, responses } from 'dcmjs-dimse';
import { SHARED_DATA, TestGateway, startTestGateway, stowStored } from '../support/gateway';
import { ensureBuilt } from '../support/server-process';
import { filesIn, freePort } from '../support/local';
import { startStorageScp, type StorageScp } from '../support/storage-scp';
import { loadConfig } from '../../src/config';
import { AHEAD } from '../../src/dimse/store-pipeline';
import type { StoredInstance } from '../../src/index/index';
import type { BlobStore } from '../../src/store/blob-store';
import { parseDataset } from '../../src/dicom/parse';
import { Tags } from '../../src/dicom/tags';
import { syntheticInstance, randomUid } from '../../src/synthetic/instances';

jest.setTimeout(180_000);

const EXPLICIT = '1.2.840.10008.1.2.1';
const IMPLICIT = '1.2.840.10008.1.2';
const TS_DIR = path.join(SHARED_DATA, 'dcm_qa_ts/In');
/** The same 384×384 MR image: Explicit, Implicit (stored as Explicit), RLE, JPEG lossless, JPEG-LS, JPEG 2000 (all lossless). */
const MR_FILES = ['1.dcm', '2.dcm', '4.dcm', '5.dcm', '7.dcm', '9.dcm'];
const COMPRESSED = 4;

/** The Pixel Data of the uncompressed original, read with dicom-parser. */
function referencePixels(): Buffer {
  const bytes = fs.readFileSync(path.join(TS_DIR, '1.dcm'));
  const el = dicomParser.parseDicom(new Uint8Array(bytes)).elements.x7fe00010;
  return bytes.subarray(el.dataOffset, el.dataOffset + el.length);
}

function run(cmd: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: number }).code ?? 1) : 0;
      resolve({ code: typeof code === 'number' ? code : 1, output: stdout + stderr });
    });
  });
}

interface Read {
  ts: string;
  sop: string;
  /** sha256 of the Pixel Data element's bytes, and of the pixel array pydicom decodes. */
  pixelData: string;
  pixels: string;
}

/** Each file as pydicom (an independent reader) sees it. */
async function pydicom(files: string[]): Promise<Read[]> {
  const script = [
    'import sys, json, hashlib, pydicom',
    'out = []',
    'for f in sys.argv[1:]:',
    '    ds = pydicom.dcmread(f)',
    '    out.append({"ts": str(ds.file_meta.TransferSyntaxUID), "sop": str(ds.SOPInstanceUID),',
    '                "pixelData": hashlib.sha256(ds.PixelData).hexdigest(), "pixels": hashlib.sha256(ds.pixel_array.tobytes()).hexdigest()})',
    'print(json.dumps(out))',
  ].join('\n');
  const r = await run('/usr/bin/python3', ['-c', script, ...files]);
  expect(r.code).toBe(0);
  return JSON.parse(r.output) as Read[];
}

describe('C-MOVE and C-GET to peers that take only uncompressed data', () => {
  let gw: TestGateway;
  let port: number;
  let work: string;
  let reference: Read;
  let mr: StoredInstance[];
  let study: string;
  const storescp: ChildProcess[] = [];
  const dirs = { EXPLICIT: '', IMPLICIT: '' };
  /** An in-process move destination (COUNTER): takes only Explicit VR Little Endian unless told otherwise, counts echoes. */
  let peer: StorageScp;
  const peerArgs = () => ['-aec', 'VEILGATE', '-aet', 'PACS', '127.0.0.1', String(port)];

  /** The pool's finished transcode tasks, as /metrics says. */
  async function transcodes(): Promise<number> {
    const text = await (await fetch(gw.url.replace('/dicom-web', '/metrics'))).text();
    const m = /^veilgate_worker_tasks_total\{task="transcode"\} (\d+)/m.exec(text);
    return m ? Number(m[1]) : 0;
  }

  /** STOW the files; the stored instances, in the order given. */
  const stow = (parts: Buffer[]): Promise<StoredInstance[]> => stowStored(gw, parts);

  /** Count the store's reads while `during` runs. */
  async function countingReads<T>(during: (reads: () => number) => Promise<T>): Promise<{ value: T; reads: number }> {
    const store = gw.gateway.store as BlobStore;
    const original = store.read;
    let reads = 0;
    store.read = (...args: Parameters<BlobStore['read']>) => (reads++, original.apply(store, args));
    try {
      const value = await during(() => reads);
      return { value, reads };
    } finally {
      store.read = original;
    }
  }

  /** What arrived in a storescp's (or getscu's) folder: n files, each in `ts` with the reference pixels, every stored MR instance once. */
  async function expectReceived(dir: string, ts: string): Promise<void> {
    const files = filesIn(dir).map((f) => path.join(dir, f));
    expect(files).toHaveLength(MR_FILES.length);
    const read = await pydicom(files);
    for (const r of read) expect({ ts: r.ts, pixelData: r.pixelData, pixels: r.pixels }).toEqual({ ts, pixelData: reference.pixelData, pixels: reference.pixels });
    expect(read.map((r) => r.sop).sort()).toEqual(mr.map((i) => i.sopInstanceUID).sort());
  }

  const fresh = (dir: string) => {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
  };

  beforeAll(async () => {
    ensureBuilt(); // the worker threads run dist/
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'veilgate-retrieve-'));
    peer = await startStorageScp();
    const ports = { EXPLICIT: await freePort(), IMPLICIT: await freePort(), COUNTER: peer.port };
    for (const [ae, flag] of [['EXPLICIT', '+xe'], ['IMPLICIT', '+xi']] as const) {
      dirs[ae] = path.join(work, ae);
      fs.mkdirSync(dirs[ae]);
      // +B: each file is the data set exactly as it arrived, in the syntax it arrived in.
      storescp.push(spawn('storescp', [flag, '+B', '-aet', ae, '-od', dirs[ae], String(ports[ae])], { stdio: 'ignore' }));
    }
    const dimse = {
      ...loadConfig({}).dimse,
      port: 0,
      allowedCallers: ['PACS'],
      destinations: Object.fromEntries(Object.entries(ports).map(([ae, p]) => [ae, { host: '127.0.0.1', port: p }])),
    };
    gw = await startTestGateway({ dimse });
    port = gw.gateway.dimse!.port;
    mr = await stow(MR_FILES.map((f) => fs.readFileSync(path.join(TS_DIR, f))));
    expect(mr.map((i) => i.transferSyntaxUID)).toEqual([EXPLICIT, EXPLICIT, '1.2.840.10008.1.2.5', '1.2.840.10008.1.2.4.70', '1.2.840.10008.1.2.4.80', '1.2.840.10008.1.2.4.90']);
    study = mr[0].studyUID;
    [reference] = await pydicom([path.join(TS_DIR, '1.dcm')]);
    // Each storescp listening before the first move.
    for (const ae of ['EXPLICIT', 'IMPLICIT'] as const) {
      for (let i = 0; i < 50 && (await run('echoscu', ['-aec', ae, '127.0.0.1', String(ports[ae])])).code !== 0; i++) await new Promise((r) => setTimeout(r, 100));
    }
  });

  afterAll(async () => {
    for (const p of storescp) p.kill();
    peer?.close();
    await gw?.close();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  const move = (ae: string, ...keys: string[]) =>
    run('movescu', ['-S', '-v', ...peerArgs(), '-aem', ae, '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${study}`, ...keys]);

  /** A C-MOVE of the study to one of the storescps: it succeeds, all arrive there in `ts`, and `rewritten` transcode tasks ran on the pool. */
  async function moveToStorescp(ae: keyof typeof dirs, ts: string, rewritten: number): Promise<void> {
    fresh(dirs[ae]);
    const before = await transcodes();
    const r = await move(ae);
    expect(r.output).toMatch(/Received Final Move Response \(Success\)/);
    await expectReceived(dirs[ae], ts);
    expect((await transcodes()) - before).toBe(rewritten);
  }

  test('C-MOVE to a storescp taking uncompressed data, Explicit VR Little Endian first: all in Explicit VR with the reference pixels, the compressed ones rewritten on the worker pool', () => moveToStorescp('EXPLICIT', EXPLICIT, COMPRESSED));

  test('C-MOVE to a storescp taking only Implicit VR: every instance rewritten on the worker pool, the uncompressed ones too', () => moveToStorescp('IMPLICIT', IMPLICIT, MR_FILES.length));

  test('C-GET by getscu taking uncompressed data, Explicit VR Little Endian first (+xe): all in Explicit VR with the reference pixels, the compressed ones rewritten on the worker pool', async () => {
    const dir = path.join(work, 'get');
    fresh(dir);
    const before = await transcodes();
    const r = await run('getscu', ['-S', '-v', '+xe', '+B', ...peerArgs(), '-od', dir, '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${study}`]);
    expect(r.output).toMatch(/Number of Completed Suboperations\s*: 6/);
    expect(r.output).not.toMatch(/Number of Failed Suboperations\s*: [1-9]/);
    await expectReceived(dir, EXPLICIT);
    expect((await transcodes()) - before).toBe(COMPRESSED);
  });

  test('a C-MOVE whose first instance must be rewritten opens with a C-ECHO held until it is ready; the next one to that destination needs none', async () => {
    const j2k = mr[5];
    const image = ['-k', 'QueryRetrieveLevel=IMAGE', '-k', `SeriesInstanceUID=${j2k.seriesUID}`, '-k', `SOPInstanceUID=${j2k.sopInstanceUID}`];
    const moveImage = () => run('movescu', ['-S', '-v', ...peerArgs(), '-aem', 'COUNTER', '-k', `StudyInstanceUID=${study}`, ...image]);
    peer.reset({ storage: [EXPLICIT] });
    expect((await moveImage()).output).toMatch(/Received Final Move Response \(Success\)/);
    expect(peer.echoes).toBe(1);
    expect(peer.associations).toBe(1);
    expect(peer.received.map((r) => [r.sop, r.ts])).toEqual([[j2k.sopInstanceUID, EXPLICIT]]);
    const px = parseDataset(peer.received[0].bytes, EXPLICIT).get(Tags.PixelData)?.value;
    expect(px && Buffer.from(px.buffer, px.byteOffset, px.byteLength).equals(referencePixels())).toBe(true);

    peer.reset({ storage: [EXPLICIT] });
    expect((await moveImage()).output).toMatch(/Received Final Move Response \(Success\)/);
    expect(peer.echoes).toBe(0); // rewritten before the association opened, in the syntax learnt
    expect(peer.received.map((r) => r.ts)).toEqual([EXPLICIT]);
  });

  describe('read as sent', () => {
    const n = 40;
    let big: StoredInstance[];
    beforeAll(async () => {
      const studyUID = randomUid();
      const seriesUID = randomUid();
      big = await stow(Array.from({ length: n }, (_, i) => syntheticInstance({ studyUID, seriesUID, patientID: 'RETRIEVE-1', instanceNumber: i + 1, rows: 256, columns: 256, seed: i }).bytes));
    });

    test('C-MOVE: when the k-th instance arrives, at most a few beyond it have been read', async () => {
      const readsAtArrival: number[] = [];
      const { reads } = await countingReads(async (reads) => {
        // Implicit only: every instance is rewritten on the pool as well.
        peer.reset({ storage: [IMPLICIT], onStore: () => readsAtArrival.push(reads()) });
        const r = await run('movescu', ['-S', '-v', ...peerArgs(), '-aem', 'COUNTER', '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${big[0].studyUID}`]);
        expect(r.output).toMatch(/Received Final Move Response \(Success\)/);
      });
      expect(peer.received.map((r) => r.sop).sort()).toEqual(big.map((i) => i.sopInstanceUID).sort());
      expect(peer.received.every((r) => r.ts === IMPLICIT)).toBe(true);
      expect(readsAtArrival).toHaveLength(n);
      // The k-th (from 1): itself, AHEAD beyond it, and the first read once more (before the association, in its stored syntax).
      readsAtArrival.forEach((r, i) => expect(r).toBeLessThanOrEqual(i + 1 + AHEAD + 1));
      expect(reads).toBeLessThanOrEqual(n + 1);
    });

    test('C-GET: when the k-th instance arrives at the requester, at most a few beyond it have been read (a requester taking Implicit VR first: each rewritten on the pool)', async () => {
      const readsAtArrival: number[] = [];
      const received: string[] = [];
      const syntaxes = new Set<string>();
      const before = await transcodes();
      let final: number | undefined;
      await countingReads(
        (reads) =>
          new Promise<void>((resolve, reject) => {
            const client = new Client();
            const get = requests.CGetRequest.createStudyGetRequest(big[0].studyUID);
            get.on('response', (r: { getStatus(): number }) => (final = r.getStatus()));
            client.addRequest(get);
            client.on('cStoreRequest', (request: InstanceType<typeof requests.CStoreRequest>, callback: (r: InstanceType<typeof responses.CStoreResponse>) => void) => {
              readsAtArrival.push(reads());
              received.push(request.getAffectedSopInstanceUid());
              syntaxes.add(request.getDataset()!.getTransferSyntaxUid());
              const r = responses.CStoreResponse.fromRequest(request);
              r.setStatus(0x0000);
              callback(r);
            });
            client.on('closed', () => resolve());
            client.on('networkError', reject);
            client.send('127.0.0.1', port, 'PACS', 'VEILGATE');
          }),
      );
      expect(final).toBe(0x0000);
      expect(received.sort()).toEqual(big.map((i) => i.sopInstanceUID).sort());
      // dcmjs-dimse proposes Implicit VR first for the storage contexts of a C-GET, and the gateway takes the requester's first choice.
      expect([...syntaxes]).toEqual([IMPLICIT]);
      expect((await transcodes()) - before).toBe(n);
      readsAtArrival.forEach((r, i) => expect(r).toBeLessThanOrEqual(i + 1 + AHEAD));
    });
  });
});
