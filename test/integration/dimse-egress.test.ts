/**
 * DIMSE egress (src/egress/dimse-sender.ts) where the remote does not take what is stored.
 *
 * Against a C-STORE SCP in this process (dcmjs-dimse; what it accepts, its statuses and whether
 * it takes Verification are set per test, and it keeps the bytes it was sent), with the stored
 * instances, store and worker pool of a real gateway:
 *   - a peer that takes only Explicit VR Little Endian gets the same MR image stored uncompressed,
 *     RLE, JPEG lossless, JPEG-LS and JPEG 2000, every one in Explicit VR Little Endian with the
 *     reference pixels, the compressed ones rewritten by the worker pool's transcode task (and a
 *     peer that takes only Implicit VR gets them all rewritten there);
 *   - a peer without Verification gets a second association when the first instance had to be
 *     rewritten, and none the next time (the sender learnt what it takes);
 *   - a batch is read as it is sent: when the k-th instance arrives, at most a few beyond it
 *     have been read from the store (before, the whole batch was read first);
 *   - statuses keep their meaning: out of resources is retried, a refusal fails at once, an
 *     instance that cannot be read is retried, the rest are sent, each exactly once.
 * And end to end, a transfer through the gateway's queue to an Orthanc configured to accept
 * only Explicit VR Little Endian: every instance arrives in it, with the reference pixels
 * (Orthanc's own REST API reads them back).
 */
import fs from 'node:fs';
import path from 'node:path';
import dicomParser from 'dicom-parser';
import { SHARED_DATA, TestGateway, multipartBody, startTestGateway, stowStored } from '../support/gateway';
import { ensureBuilt } from '../support/server-process';
import { freePort } from '../support/local';
import { orthancInstalled, startOrthanc, Orthanc } from '../support/orthanc';
import { startStorageScp, type Received, type StorageScp } from '../support/storage-scp';
import { AHEAD, DimseSender } from '../../src/egress/dimse-sender';
import { validateEgress, type DimseDestination } from '../../src/egress/config';
import type { SendItem } from '../../src/egress/senders';
import type { StoredInstance } from '../../src/index/index';
import type { TransferItem } from '../../src/egress/transfer-store';
import type { BlobStore } from '../../src/store/blob-store';
import { parseDataset, readUidValue } from '../../src/dicom/parse';
import { Tags } from '../../src/dicom/tags';
import { syntheticInstance, randomUid } from '../../src/synthetic/instances';

jest.setTimeout(180_000);

const EXPLICIT = '1.2.840.10008.1.2.1';
const IMPLICIT = '1.2.840.10008.1.2';
const TS_DIR = path.join(SHARED_DATA, 'dcm_qa_ts/In');
/** The same 384×384 MR image: Explicit, Implicit (stored as Explicit), RLE, JPEG lossless, JPEG-LS, JPEG 2000 (all lossless). */
const MR_FILES = ['1.dcm', '2.dcm', '4.dcm', '5.dcm', '7.dcm', '9.dcm'];

type Json = Record<string, { Value?: unknown[] }>;

/** Native pixel bytes of frame 0 of an uncompressed file. */
function referenceFrame(file: string): Buffer {
  const bytes = new Uint8Array(fs.readFileSync(file));
  const ds = dicomParser.parseDicom(bytes);
  const el = ds.elements.x7fe00010;
  const frameBytes = (ds.uint16('x00280010')! * ds.uint16('x00280011')! * (ds.uint16('x00280002') ?? 1) * ds.uint16('x00280100')!) / 8;
  return Buffer.from(bytes.buffer, el.dataOffset, frameBytes);
}

/** Pixel Data and SOP Instance UID of a data set the peer received. */
function contentOf(r: Received): { sop?: string; pixels?: Buffer } {
  const ds = parseDataset(r.bytes, r.ts);
  const px = ds.get(Tags.PixelData)?.value;
  return { sop: readUidValue(ds.get(Tags.SOPInstanceUID)), pixels: px && Buffer.from(px.buffer, px.byteOffset, px.byteLength) };
}

describe('DIMSE egress to a peer that takes another transfer syntax', () => {
  let gw: TestGateway;
  /** The peer: what it takes and answers is set per test; it keeps what it was sent. */
  let peer: StorageScp;
  let port: number;
  let mr: StoredInstance[];
  const reference = referenceFrame(path.join(TS_DIR, '1.dcm'));

  const destination = (): DimseDestination => ({ name: 'peer', type: 'dimse', host: '127.0.0.1', port, aeTitle: 'PEER', callingAeTitle: 'VEILGATE', concurrency: 1, batchSize: 100, timeoutSeconds: 20 }) as DimseDestination;
  const items = (stored: StoredInstance[]): SendItem[] => stored.map((s, i) => ({ item: { id: i + 1, study: s.studyUID, series: s.seriesUID, instance: s.sopInstanceUID } as TransferItem, stored: s }));
  const sender = (store: BlobStore = gw.gateway.store) => new DimseSender(destination(), store, 'VEILGATE', gw.gateway.workers);

  /** STOW the files; the stored instances, in the order given. */
  const stow = (parts: Buffer[]): Promise<StoredInstance[]> => stowStored(gw, parts);

  beforeAll(async () => {
    ensureBuilt();
    gw = await startTestGateway();
    peer = await startStorageScp();
    port = peer.port;
    mr = await stow(MR_FILES.map((f) => fs.readFileSync(path.join(TS_DIR, f))));
    // Ingest stores the Implicit VR file in Explicit VR.
    expect(mr.map((i) => i.transferSyntaxUID)).toEqual([EXPLICIT, EXPLICIT, '1.2.840.10008.1.2.5', '1.2.840.10008.1.2.4.70', '1.2.840.10008.1.2.4.80', '1.2.840.10008.1.2.4.90']);
  });
  afterAll(async () => {
    peer?.close();
    await gw?.close();
  });

  test('a peer that takes only Explicit VR Little Endian gets every instance in it, with the reference pixels, rewritten on the worker pool', async () => {
    peer.reset({ storage: [EXPLICIT] });
    const before = gw.gateway.workers.completed;
    const outcomes = await sender().send(items(mr), new AbortController().signal);
    expect(outcomes).toEqual(mr.map(() => ({ ok: true })));
    // The four compressed ones were rewritten, each by a task on the pool (the main thread only routed).
    expect(gw.gateway.workers.completed - before).toBeGreaterThanOrEqual(4);
    expect(peer.received.map((r) => r.sop)).toEqual(mr.map((i) => i.sopInstanceUID));
    for (const r of peer.received) {
      expect(r.ts).toBe(EXPLICIT);
      const c = contentOf(r);
      expect(c.sop).toBe(r.sop);
      expect(c.pixels?.equals(reference)).toBe(true);
    }
    expect(peer.associations).toBe(1);
  });

  test('the first instance needing a rewrite: a C-ECHO waits for it; without Verification a second association, then none the next time', async () => {
    const compressedFirst = [mr[5], mr[2], mr[0]];
    // Verification taken: one association, opened by an echo held until the J2K image is rewritten.
    peer.reset({ storage: [EXPLICIT], verification: true });
    expect(await sender().send(items(compressedFirst), new AbortController().signal)).toEqual([{ ok: true }, { ok: true }, { ok: true }]);
    expect(peer.associations).toBe(1);
    expect(peer.echoes).toBe(1);
    expect(peer.received.map((r) => r.ts)).toEqual([EXPLICIT, EXPLICIT, EXPLICIT]);

    // No Verification: the first association sends nothing and teaches the sender; the second sends all.
    peer.reset({ storage: [EXPLICIT], verification: false });
    const s = sender();
    expect(await s.send(items(compressedFirst), new AbortController().signal)).toEqual([{ ok: true }, { ok: true }, { ok: true }]);
    expect(peer.associations).toBe(2);
    expect(peer.received.map((r) => r.sop)).toEqual(compressedFirst.map((i) => i.sopInstanceUID));
    for (const r of peer.received) expect(contentOf(r).pixels?.equals(reference)).toBe(true);
    // What it learnt holds: the next batch goes in one association, its first instance rewritten beforehand.
    peer.reset({ storage: [EXPLICIT], verification: false });
    expect(await s.send(items(compressedFirst), new AbortController().signal)).toEqual([{ ok: true }, { ok: true }, { ok: true }]);
    expect(peer.associations).toBe(1);
    expect(peer.received).toHaveLength(3);
  });

  test('a batch is read as it is sent: a few instances ahead of the one on the wire, never the whole batch', async () => {
    const studyUID = randomUid();
    const seriesUID = randomUid();
    const n = 40;
    const stored = await stow(Array.from({ length: n }, (_, i) => syntheticInstance({ studyUID, seriesUID, patientID: 'EGRESS-1', instanceNumber: i + 1, rows: 256, columns: 256, seed: i }).bytes));
    let reads = 0;
    const counting: BlobStore = new Proxy(gw.gateway.store, {
      get(target, prop, receiver) {
        if (prop === 'read') return (...args: Parameters<BlobStore['read']>) => (reads++, target.read(...args));
        const v = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const readsAtArrival: number[] = [];
    // Implicit only: every instance is rewritten on the pool as well.
    peer.reset({ storage: [IMPLICIT], onStore: () => readsAtArrival.push(reads) });
    const outcomes = await sender(counting).send(items(stored), new AbortController().signal);
    expect(outcomes.every((o) => o.ok)).toBe(true);
    expect(peer.received.map((r) => r.sop)).toEqual(stored.map((i) => i.sopInstanceUID));
    expect(peer.received.every((r) => r.ts === IMPLICIT)).toBe(true);
    // When the k-th arrives (k from 1), at most AHEAD beyond it have been read (and the first twice, below).
    expect(readsAtArrival[0]).toBeLessThan(n);
    readsAtArrival.forEach((r, i) => expect(r).toBeLessThanOrEqual(i + 1 + AHEAD + 1));
    // Each once, and the first once more: read before the association in its stored syntax, which the peer did not take.
    expect(reads).toBe(n + 1);
  });

  test('statuses keep their meaning: out of resources retried, a refusal final, an unreadable instance retried; the rest sent once each', async () => {
    const [explicit, implicit, rle, jpeg, jls, j2k] = mr;
    const unreadable = jls.blobKey;
    const failing: BlobStore = new Proxy(gw.gateway.store, {
      get(target, prop, receiver) {
        if (prop === 'read')
          return (key: string, ranges: Parameters<BlobStore['read']>[1]) => {
            if (key === unreadable) return Promise.reject(Object.assign(new Error('gone'), { code: 'ENOENT' }));
            return target.read(key, ranges);
          };
        const v = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    peer.reset({ storage: [EXPLICIT], status: (sop) => (sop === rle.sopInstanceUID ? 0xa700 : sop === jpeg.sopInstanceUID ? 0xc000 : 0x0000) });
    const batch = [explicit, rle, jls, jpeg, implicit, j2k];
    const outcomes = await sender(failing).send(items(batch), new AbortController().signal);
    expect(outcomes).toEqual([
      { ok: true },
      { ok: false, permanent: false, reason: 'C-STORE status 0xA700' },
      { ok: false, permanent: false, reason: 'reading the stored instance failed: ENOENT' },
      { ok: false, permanent: true, reason: 'C-STORE refused: status 0xC000' },
      { ok: true },
      { ok: true },
    ]);
    // The unreadable one never went out; the others once each.
    expect(peer.received.map((r) => r.sop)).toEqual([explicit, rle, jpeg, implicit, j2k].map((i) => i.sopInstanceUID));
  });

  test('a peer down: every instance is retried, with the reason', async () => {
    const closed = await freePort();
    const s = new DimseSender({ ...destination(), port: closed }, gw.gateway.store, 'VEILGATE', gw.gateway.workers);
    const outcomes = await s.send(items(mr.slice(0, 3)), new AbortController().signal);
    for (const o of outcomes) expect(o).toEqual({ ok: false, permanent: false, reason: expect.stringMatching(/^(ECONNREFUSED|network error)$/) });
  });
});

describe('DIMSE egress to Orthanc taking only Explicit VR Little Endian', () => {
  const skip = !orthancInstalled();
  let orthanc: Orthanc;
  let gw: TestGateway;

  beforeAll(async () => {
    if (skip) return;
    ensureBuilt();
    orthanc = await startOrthanc({ aeTitle: 'EXPLICIT', name: 'explicit-peer', acceptedTransferSyntaxes: [EXPLICIT] });
    gw = await startTestGateway({
      egress: validateEgress({
        destinations: { explicit: { type: 'dimse', host: '127.0.0.1', port: orthanc.dimsePort, aeTitle: 'EXPLICIT', callingAeTitle: 'VEILGATE', concurrency: 1, batchSize: 4, timeoutSeconds: 20 } },
        retryBaseSeconds: 0.5,
        retryCapSeconds: 2,
      }),
    });
  });
  afterAll(async () => {
    await gw?.close();
    await orthanc?.destroy();
  });

  (skip ? test.skip : test)('a study of compressed and uncompressed instances arrives, each once, in Explicit VR Little Endian with the reference pixels', async () => {
    const { body, contentType } = multipartBody(MR_FILES.map((f) => fs.readFileSync(path.join(TS_DIR, f))));
    const stored = await fetch(`${gw.url}/studies`, { method: 'POST', headers: { 'Content-Type': contentType }, body });
    expect(stored.status).toBe(200);
    const [study] = (await (await fetch(`${gw.url}/studies`)).json()) as Json[];
    const studyUID = String(study['0020000D'].Value![0]);
    const sops = ((await (await fetch(`${gw.url}/studies/${studyUID}/instances`)).json()) as Json[]).map((i) => String(i['00080018'].Value![0])).sort();
    expect(sops).toHaveLength(6);
    const api = gw.url.replace(/\/dicom-web$/, '/api');
    const posted = await fetch(`${api}/transfers`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ destination: 'explicit', study: studyUID }) });
    expect(posted.status).toBe(202);
    const { id } = (await posted.json()) as { id: string };
    const deadline = Date.now() + 60_000;
    let view: { state: string; counts: Record<string, number>; items?: { state: string; lastError?: string }[] };
    for (;;) {
      view = (await (await fetch(`${api}/transfers/${id}`)).json()) as typeof view;
      if (view.state === 'done' || view.state === 'failed' || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(view.state).toBe('done');
    expect(view.counts).toMatchObject({ total: 6, sent: 6, failed: 0 });

    const ids = await orthanc.get<string[]>('/instances');
    expect(ids).toHaveLength(6);
    const uids: string[] = [];
    for (const oid of ids) {
      const tags = await orthanc.get<{ MainDicomTags: { SOPInstanceUID: string } }>(`/instances/${oid}`);
      uids.push(tags.MainDicomTags.SOPInstanceUID);
      expect(await (await fetch(`${orthanc.rest}/instances/${oid}/metadata/TransferSyntax`)).text()).toBe(EXPLICIT);
      const raw = Buffer.from(await (await fetch(`${orthanc.rest}/instances/${oid}/frames/0/raw`)).arrayBuffer());
      expect(raw.equals(reference())).toBe(true);
    }
    expect(uids.sort()).toEqual(sops);
    const stats = await orthanc.get<{ CountInstances: number }>('/statistics');
    expect(stats.CountInstances).toBe(6);
  });

  const reference = () => referenceFrame(path.join(TS_DIR, '1.dcm'));
});
