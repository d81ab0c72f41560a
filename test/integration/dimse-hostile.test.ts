/**
 * The DIMSE listener against hostile peers, over raw sockets: pathological identifiers (deep
 * nesting, oversize), associations that never complete, PDUs larger than announced, one AE
 * hoarding associations, a C-STORE far over maxInstanceBytes, and library log lines. Each
 * probe runs while HTTP QIDO is timed (it must keep answering in under a second), and a
 * normal dcmtk peer must still be served afterwards.
 */
import '../support/real-console'; // first: libraries bind console methods as they load
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startTestGateway, TestGateway, SHARED_DATA } from '../support/gateway';
import { loadConfig } from '../../src/config';
import {
  RawPeer,
  UID,
  acceptedContexts,
  command,
  explicitLong,
  explicitShort,
  nestedIdentifier,
  bushyIdentifier,
  pdu,
  pdataTf,
  associateRq,
} from '../support/dimse-raw';

jest.setTimeout(120_000);

const MiB = 1024 * 1024;
const MAX_INSTANCE = 1 * MiB;
const MAX_IDENTIFIER = 2 * MiB; // above the 1.8 MB of 50,000 levels, so that probe meets the depth limit
const PRE_ASSOCIATION_S = 1;
const MAX_ASSOCIATIONS = 6;
const PER_AE = 2;

function run(cmd: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { maxBuffer: 16 * MiB }, (err, stdout, stderr) => {
      const code = err ? Number((err as { code?: number }).code ?? 1) : 0;
      resolve({ code: Number.isFinite(code) ? code : 1, output: stdout + stderr });
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface ProbeReport<T> {
  result: T;
  /** QIDO requests answered while the probe ran, and the slowest of them. */
  httpCount: number;
  httpMaxMs: number;
  /** Lines written to stdout or stderr while the probe ran that are not JSON log lines. */
  foreignLines: string[];
  ms: number;
  cpuMs: number;
  rssPeakGrowth: number;
}

/**
 * Run a probe while QIDO is polled (one request at a time) and the process's own output
 * streams are captured: every line there must be one of the gateway's JSON lines.
 */
async function probe<T>(url: string, fn: () => Promise<T>): Promise<ProbeReport<T>> {
  const captured: string[] = [];
  const streams = [process.stdout, process.stderr];
  const originals = streams.map((s) => s.write);
  streams.forEach((s, i) => {
    s.write = ((chunk: unknown, ...rest: unknown[]) => {
      captured.push(String(chunk));
      return (originals[i] as (...a: unknown[]) => boolean).call(s, chunk, ...rest);
    }) as typeof s.write;
  });
  let stop = false;
  let httpCount = 0;
  let httpMaxMs = 0;
  const rss0 = process.memoryUsage().rss;
  let rssPeak = rss0;
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 10);
  // Client and gateway share this process: the time from when a request is due (the pause
  // between requests included) to its answer also catches a block that starts mid-pause.
  const pauseMs = 20;
  const http = (async () => {
    let due = performance.now();
    while (!stop) {
      const r = await fetch(`${url}/studies`);
      await r.arrayBuffer();
      expect(r.status).toBe(200);
      httpMaxMs = Math.max(httpMaxMs, performance.now() - due);
      httpCount++;
      due = performance.now() + pauseMs;
      await sleep(pauseMs);
    }
  })();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let result: T;
  try {
    result = await fn();
  } finally {
    stop = true;
    await http;
    clearInterval(sampler);
    streams.forEach((s, i) => (s.write = originals[i]));
  }
  const cpu = process.cpuUsage(cpu0);
  rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
  const foreignLines = captured
    .join('')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .filter((l) => {
      try {
        JSON.parse(l);
        return false;
      } catch {
        return true;
      }
    });
  return { result, httpCount, httpMaxMs, foreignLines, ms: performance.now() - t0, cpuMs: (cpu.user + cpu.system) / 1000, rssPeakGrowth: rssPeak - rss0 };
}

function expectHealthy(report: ProbeReport<unknown>): void {
  expect(report.httpCount).toBeGreaterThan(0);
  expect(report.httpMaxMs).toBeLessThan(1000);
  expect(report.foreignLines).toEqual([]);
}

const findContext = { id: 1, abstractSyntax: UID.StudyRootFind, transferSyntaxes: [UID.ExplicitVRLittleEndian] };
const echoContext = { id: 3, abstractSyntax: UID.Verification, transferSyntaxes: [UID.ImplicitVRLittleEndian] };
const storeContext = { id: 5, abstractSyntax: UID.CTImageStorage, transferSyntaxes: [UID.ExplicitVRLittleEndian] };

/** A-ASSOCIATE-RJ (PDU type 3): result, source, reason. */
function rejection(p: { type: number; body: Buffer }): { result: number; source: number; reason: number } | undefined {
  return p.type === 3 ? { result: p.body[1], source: p.body[2], reason: p.body[3] } : undefined;
}

/** A normal study-level C-FIND identifier, explicit VR LE. */
function studyIdentifier(extra: Buffer[] = []): Buffer {
  return Buffer.concat([
    explicitShort(0x0008, 0x0052, 'CS', Buffer.from('STUDY ')),
    explicitShort(0x0010, 0x0010, 'PN', Buffer.alloc(0)),
    ...extra,
    explicitShort(0x0020, 0x000d, 'UI', Buffer.alloc(0)),
  ]);
}

describe('DIMSE against hostile peers', () => {
  let gw: TestGateway;
  let port: number;
  const dcmtkPeer = (ae = 'PACS') => ['-aec', 'VEILGATE', '-aet', ae, '127.0.0.1', String(port)];

  beforeAll(async () => {
    const base = loadConfig({});
    gw = await startTestGateway({
      maxInstanceBytes: MAX_INSTANCE,
      limits: { ...base.limits, maxIdentifierBytes: MAX_IDENTIFIER },
      dimse: {
        ...base.dimse,
        port: 0,
        allowedCallers: ['*'],
        maxAssociations: MAX_ASSOCIATIONS,
        maxAssociationsPerAe: PER_AE,
        preAssociationTimeoutSeconds: PRE_ASSOCIATION_S,
      },
    });
    port = gw.gateway.dimse!.port;
  });

  afterAll(async () => {
    await gw?.close();
  });

  /** After every probe a normal peer is served: echoscu and findscu. */
  async function expectNormalPeerServed(): Promise<void> {
    const echo = await run('echoscu', dcmtkPeer());
    expect(echo.output).toBe('');
    expect(echo.code).toBe(0);
    const find = await run('findscu', ['-S', '-v', ...dcmtkPeer(), '-k', 'QueryRetrieveLevel=STUDY', '-k', 'StudyInstanceUID']);
    expect(find.output).toMatch(/Received Final Find Response \(Success\)/);
  }

  async function associated(callingAe: string, contexts = [findContext, echoContext, storeContext]): Promise<RawPeer> {
    const peer = await RawPeer.connect(port);
    const answer = await peer.associate(callingAe, contexts);
    expect(answer.type).toBe(2);
    for (const c of contexts) expect([c.id, acceptedContexts(answer).get(c.id)]).toEqual([c.id, 0]);
    return peer;
  }

  test('a C-FIND identifier nested 50,000 levels deep is refused at once; the association goes on', async () => {
    const identifier = nestedIdentifier(50_000);
    expect(identifier.length).toBeGreaterThan(1.7e6);
    const peer = await associated('DEEP');
    const report = await probe(gw.url, async () => {
      const t0 = Date.now();
      await peer.sendMessage(1, command({ sopClass: UID.StudyRootFind, field: 0x0020, messageId: 1, hasDataset: true }), identifier);
      const answer = await peer.nextMessage(20_000);
      return { answer, ms: Date.now() - t0 };
    });
    expectHealthy(report);
    const { answer, ms } = report.result;
    expect(ms).toBeLessThan(2000);
    expect(answer.status).toBe(0xa900);
    expect(answer.errorComment).toMatch(/maxNestingDepth/);
    // The same association still serves the next request.
    await peer.sendMessage(1, command({ sopClass: UID.StudyRootFind, field: 0x0020, messageId: 2, hasDataset: true }), studyIdentifier());
    let last = await peer.nextMessage();
    while (last.status === 0xff00) last = await peer.nextMessage();
    expect(last.status).toBe(0);
    await peer.release();
    expect(gw.logLines.some((l) => l.includes('maxNestingDepth'))).toBe(true);
    await expectNormalPeerServed();
  });

  test('an identifier within every limit but costly to parse (nested maxNestingDepth deep, near maxIdentifierBytes) is answered', async () => {
    const identifier = bushyIdentifier(32, MAX_IDENTIFIER - 64 * 1024);
    expect(identifier.length).toBeLessThanOrEqual(MAX_IDENTIFIER);
    const peer = await associated('BUSHY');
    const report = await probe(gw.url, async () => {
      const t0 = Date.now();
      await peer.sendMessage(1, command({ sopClass: UID.StudyRootFind, field: 0x0020, messageId: 3, hasDataset: true }), identifier);
      let last = await peer.nextMessage(20_000);
      while (last.status === 0xff00) last = await peer.nextMessage(20_000);
      return { last, ms: Date.now() - t0 };
    });
    expectHealthy(report);
    expect(report.result.last.status).toBe(0);
    expect(report.result.ms).toBeLessThan(2000);
    await peer.release();
    console.log(JSON.stringify({ probe: 'bushy-identifier', MiB: identifier.length / MiB, ms: report.result.ms, httpMaxMs: report.httpMaxMs }));
    await expectNormalPeerServed();
  });

  test('a C-FIND identifier over maxIdentifierBytes gets a failure status', async () => {
    // A private element makes it large without being a query key.
    const big = Buffer.concat([
      explicitShort(0x0009, 0x0010, 'LO', Buffer.from('HOSTILE ')),
      explicitLong(0x0009, 0x1000, 'OB', Buffer.alloc(MAX_IDENTIFIER + 64 * 1024, 0x41)),
    ]);
    const identifier = studyIdentifier([big]);
    const peer = await associated('BIGID');
    const report = await probe(gw.url, async () => {
      const t0 = Date.now();
      await peer.sendMessage(1, command({ sopClass: UID.StudyRootFind, field: 0x0020, messageId: 7, hasDataset: true }), identifier);
      const answer = await peer.nextMessage(20_000);
      return { answer, ms: Date.now() - t0 };
    });
    expectHealthy(report);
    expect(report.result.answer.status).toBe(0xa900);
    expect(report.result.answer.errorComment).toMatch(/maxIdentifierBytes/);
    expect(report.result.ms).toBeLessThan(3000);
    // Echo on the same association: still served.
    await peer.sendMessage(3, command({ sopClass: UID.Verification, field: 0x0030, messageId: 8, hasDataset: false }));
    expect((await peer.nextMessage()).status).toBe(0);
    await peer.release();
    await expectNormalPeerServed();
  });

  test('an A-ASSOCIATE-RQ that never completes is closed by preAssociationTimeoutSeconds, cheaply, and frees its slot', async () => {
    const report = await probe(gw.url, async () => {
      // 1. The header declares 48 MiB; the peer sends as fast as it can but never all of it.
      const flood = await RawPeer.connect(port);
      const header = Buffer.alloc(6);
      header[0] = 0x01;
      header.writeUInt32BE(48 * MiB, 2);
      await flood.write(header);
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      let sent = 0;
      const floodDeadline = Date.now() + (PRE_ASSOCIATION_S + 2) * 1000;
      while (!flood.closed && sent + chunk.length < 48 * MiB && Date.now() < floodDeadline) {
        await flood.write(chunk);
        sent += chunk.length;
      }
      const floodClosed = await flood.whenClosed((PRE_ASSOCIATION_S + 2) * 1000);

      // 2. A plausible RQ that trickles in a byte at a time and never finishes.
      const trickle = await RawPeer.connect(port);
      const rq = associateRq('VEILGATE', 'SLOW', [echoContext]);
      let i = 0;
      const ticker = setInterval(() => {
        if (i < rq.length - 1 && !trickle.closed) void trickle.write(rq.subarray(i, ++i));
      }, 50);
      const trickleClosed = await trickle.whenClosed((PRE_ASSOCIATION_S + 3) * 1000);
      clearInterval(ticker);

      // 3. Connections that send nothing hold every slot until they are closed.
      const idle = await Promise.all(Array.from({ length: MAX_ASSOCIATIONS }, () => RawPeer.connect(port)));
      await sleep(100);
      const whileFull = await run('echoscu', ['-v', ...dcmtkPeer()]);
      // A few more are let in only to be told the limit; past those a connection is closed at once.
      const overflow = await Promise.all(Array.from({ length: MAX_ASSOCIATIONS }, () => RawPeer.connect(port)));
      await sleep(100);
      const beyond = await RawPeer.connect(port);
      const beyondClosed = await beyond.whenClosed(500);
      idle.push(...overflow);
      const idleClosed = await Promise.all(idle.map((p) => p.whenClosed((PRE_ASSOCIATION_S + 3) * 1000)));
      return {
        floodClosed,
        floodSeconds: (flood.closedAt - flood.openedAt) / 1000,
        sentMiB: sent / MiB,
        trickleClosed,
        trickleSeconds: (trickle.closedAt - trickle.openedAt) / 1000,
        whileFull,
        beyondClosed,
        idleClosed,
        idleSeconds: Math.max(...idle.map((p) => (p.closedAt - p.openedAt) / 1000)),
      };
    });
    expectHealthy(report);
    const r = report.result;
    expect(r.floodClosed).toBe(true);
    expect(r.floodSeconds).toBeLessThanOrEqual(PRE_ASSOCIATION_S + 1.5);
    expect(r.trickleClosed).toBe(true);
    expect(r.trickleSeconds).toBeGreaterThanOrEqual(PRE_ASSOCIATION_S - 0.1);
    expect(r.trickleSeconds).toBeLessThanOrEqual(PRE_ASSOCIATION_S + 1.5);
    expect(r.whileFull.output).toMatch(/Association Rejected/);
    expect(r.whileFull.output).toMatch(/Local Limit Exceeded/i);
    expect(r.beyondClosed).toBe(true);
    expect(r.idleClosed.every(Boolean)).toBe(true);
    expect(r.idleSeconds).toBeLessThanOrEqual(PRE_ASSOCIATION_S + 1.5);
    // The gateway's CPU (this process's, the test's own sending included) stays low.
    expect(report.cpuMs).toBeLessThan(1500);
    expect(gw.logLines.some((l) => l.includes('"event":"dimse-pre-association-timeout"'))).toBe(true);
    // Every slot is free again.
    await expectNormalPeerServed();
    const again = await Promise.all(Array.from({ length: PER_AE }, () => associated('AFTER')));
    for (const p of again) await p.release();
    console.log(JSON.stringify({ probe: 'pre-association', ...r, whileFull: undefined, cpuMs: report.cpuMs, httpMaxMs: report.httpMaxMs }));
  });

  test('a PDU before A-ASSOCIATE-RQ, or a P-DATA-TF larger than announced, is aborted', async () => {
    const report = await probe(gw.url, async () => {
      const early = await RawPeer.connect(port);
      await early.write(pdu(0x04, Buffer.alloc(64)));
      const earlyAnswer = await early.nextPdu(3000);
      const earlyClosed = await early.whenClosed(3000);

      const peer = await associated('BIGPDU');
      const header = Buffer.alloc(6);
      header[0] = 0x04;
      header.writeUInt32BE(8 * MiB, 2);
      await peer.write(header);
      const t0 = Date.now();
      for (let i = 0; i < 16 && !peer.closed; i++) await peer.write(Buffer.alloc(64 * 1024));
      const answer = await peer.nextPdu(3000);
      const closed = await peer.whenClosed(3000);
      return { earlyAnswer, earlyClosed, answer, closed, ms: Date.now() - t0 };
    });
    expectHealthy(report);
    expect(report.result.earlyAnswer.type).toBe(7); // A-ABORT
    expect(report.result.earlyClosed).toBe(true);
    expect(report.result.answer.type).toBe(7);
    expect(report.result.closed).toBe(true);
    expect(report.result.ms).toBeLessThan(3000);
    expect(gw.logLines.some((l) => l.includes('"event":"dimse-protocol-abort"'))).toBe(true);
    await expectNormalPeerServed();
  });

  test('one calling AE gets at most maxAssociationsPerAe associations; another AE still associates', async () => {
    const report = await probe(gw.url, async () => {
      const held = [await associated('HOG'), await associated('HOG')];
      const extra = await RawPeer.connect(port);
      const refused = rejection(await extra.associate('HOG', [echoContext]));
      await extra.whenClosed(3000);
      const other = await run('echoscu', ['-v', ...dcmtkPeer('PACS')]);
      await held[0].release();
      const afterRelease = await RawPeer.connect(port);
      const accepted = (await afterRelease.associate('HOG', [echoContext])).type;
      await afterRelease.release();
      await held[1].release();
      return { refused, other, accepted };
    });
    expectHealthy(report);
    expect(report.result.refused).toEqual({ result: 2, source: 3, reason: 2 }); // transient, provider (presentation), local limit exceeded
    expect(report.result.other.code).toBe(0);
    expect(report.result.accepted).toBe(2);
    expect(gw.logLines.some((l) => l.includes('"callingAe":"HOG"') && l.includes('dimse-association-rejected'))).toBe(true);
    await expectNormalPeerServed();
  });

  test('a C-STORE far over maxInstanceBytes is answered A700 without buffering it; stores go on', async () => {
    const file = fs.readFileSync(path.join(SHARED_DATA, 'pydicom/CT_small.dcm'));
    const metaEnd = 132 + 12 + file.readUInt32LE(140);
    const ctDataset = file.subarray(metaEnd);
    const before = await gw.gateway.index.counts();
    const peer = await associated('BIGSTORE');
    const total = 192 * MiB; // what the gateway held before, with a 1 MB limit
    const fragment = Buffer.alloc(16000, 0x42);
    // One PDU, written again and again: the test itself allocates next to nothing.
    const middle = pdataTf(5, false, false, fragment);
    const oversized = async (messageId: number, bytes: number) => {
      const t0 = Date.now();
      await peer.write(pdataTf(5, true, true, command({ sopClass: UID.CTImageStorage, field: 0x0001, messageId, hasDataset: true, sopInstance: '1.2.3.4.5.6.7.8.9' })));
      for (let sent = 0; sent < bytes; sent += fragment.length) {
        await peer.write(sent + fragment.length >= bytes ? pdataTf(5, false, true, fragment) : middle);
      }
      const answer = await peer.nextMessage(30_000);
      return { answer, ms: Date.now() - t0 };
    };
    // A first one, a quarter of the size, brings the process to its steady state (heap, malloc
    // arenas, the socket chunks that are garbage until the next GC): what is measured next is
    // whether memory grows with the size of the data set.
    const warm = await probe(gw.url, () => oversized(10, total / 4));
    expect(warm.result.answer.status).toBe(0xa700);
    const report = await probe(gw.url, () => oversized(11, total));
    expectHealthy(report);
    expect(report.rssPeakGrowth).toBeLessThan(total / 8);
    expect(report.result.answer.status).toBe(0xa700);
    expect(report.result.answer.errorComment).toMatch(/maxInstanceBytes/);
    expect(await gw.gateway.index.counts()).toEqual(before);
    // The same association stores a normal instance.
    await peer.sendMessage(5, command({ sopClass: UID.CTImageStorage, field: 0x0001, messageId: 12, hasDataset: true, sopInstance: '1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322' }), ctDataset);
    const stored = await peer.nextMessage(10_000);
    expect(stored.status).toBe(0);
    await peer.release();
    // And so does the next association.
    const next = await run('storescu', ['-v', ...dcmtkPeer(), path.join(SHARED_DATA, 'pydicom/MR_small.dcm')]);
    expect(next.output).toMatch(/Received Store Response \(Success\)/);
    const after = await gw.gateway.index.counts();
    expect(after).not.toEqual(before);
    // No partial file left behind (the store's temporary folder holds nothing).
    const leftovers = (fs.readdirSync(path.join(gw.dataDir, 'tmp'), { recursive: true }) as string[]).filter((f) => f.endsWith('.part'));
    expect(leftovers).toEqual([]);
    console.log(JSON.stringify({ probe: 'c-store', sentMiB: total / MiB, rssPeakGrowthMiB: report.rssPeakGrowth / MiB, warmUpRssGrowthMiB: warm.rssPeakGrowth / MiB, ms: report.result.ms, httpMaxMs: report.httpMaxMs }));
    await expectNormalPeerServed();
  });

  test("no line from dcmjs's logger reaches the process's output (a character set it does not know)", async () => {
    const peer = await associated('CHARSET');
    const report = await probe(gw.url, async () => {
      const answers = [];
      for (const [i, charset] of ['ISO_IR 999', 'ISO_IR 100\\ISO 2022 IR 87'].entries()) {
        const value = Buffer.from(charset.length % 2 ? charset + ' ' : charset);
        const identifier = Buffer.concat([
          explicitShort(0x0008, 0x0005, 'CS', value),
          explicitShort(0x0008, 0x0052, 'CS', Buffer.from('STUDY ')),
          explicitShort(0x0010, 0x0010, 'PN', Buffer.from('SECRET^NAME ')),
        ]);
        await peer.sendMessage(1, command({ sopClass: UID.StudyRootFind, field: 0x0020, messageId: 20 + i, hasDataset: true }), identifier);
        let last = await peer.nextMessage();
        while (last.status === 0xff00) last = await peer.nextMessage();
        answers.push(last.status);
      }
      return answers;
    });
    expectHealthy(report);
    expect(report.result).toEqual([0, 0]);
    await peer.release();
    await expectNormalPeerServed();
  });
});
