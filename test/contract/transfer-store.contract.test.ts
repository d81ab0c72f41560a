/**
 * The TransferStore contract: SQLite and PostgreSQL keep the same egress queue. Two "nodes" share
 * one database in each (two stores on one SQLite file, two pools on one PostgreSQL database): an
 * item is claimed once whoever races for it, a destination's concurrency holds across nodes, a
 * failed attempt waits out its backoff and gives up at maxAttempts, a lease that runs out passes
 * the batch to the other node, a cancel stops the holder, a onceKey makes one transfer that later
 * instances join.
 */
import { SqliteTransferStore } from '../../src/egress/sqlite-transfer-store';
import { PostgresTransferStore } from '../../src/egress/postgres-transfer-store';
import type { NewItem, TransferStore } from '../../src/egress/transfer-store';
import { backoffMs, inWindow, matchesPattern, parseWindow, validateEgress } from '../../src/egress/config';
import { setLogLevel } from '../../src/log';
import { twoPostgresNodes, twoSqliteNodes } from '../support/two-nodes';

jest.setTimeout(120_000);
setLogLevel('warn');

interface Cluster {
  a: TransferStore;
  b: TransferStore;
  close(): Promise<void>;
}

async function sqliteCluster(): Promise<Cluster> {
  const nodes = twoSqliteNodes('veilgate-transfers-');
  return { a: new SqliteTransferStore(nodes.first.database), b: new SqliteTransferStore(nodes.second.database), close: nodes.close };
}

async function postgresCluster(): Promise<Cluster> {
  const nodes = await twoPostgresNodes(2);
  return { a: new PostgresTransferStore(nodes.first.database), b: new PostgresTransferStore(nodes.second.database), close: nodes.close };
}

let n = 0;
const items = (count: number, series = `1.2.3.${++n}`): NewItem[] => Array.from({ length: count }, (_, i) => ({ study: '1.2.3', series, instance: `${series}.${i + 1}` }));
const transfer = (destination: string, onceKey?: string) => ({ id: `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`, destination, origin: 'api', request: {}, onceKey });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each([
  ['SQLite', sqliteCluster],
  ['PostgreSQL', postgresCluster],
] as const)('TransferStore on %s', (_name, open) => {
  let c: Cluster;
  beforeAll(async () => {
    c = await open();
  });
  afterAll(() => c?.close());

  test('create, counts and states; a onceKey makes one transfer that later instances join', async () => {
    const { transfer: t, added } = await c.a.create(transfer('d-create', 'k1'), items(3, '1.2.3.100'));
    expect(added).toBe(3);
    expect(t).toMatchObject({ state: 'queued', destination: 'd-create', counts: { total: 3, queued: 3, sent: 0 } });
    const again = await c.b.create(transfer('d-create', 'k1'), items(5, '1.2.3.100'));
    expect(again.transfer.id).toBe(t.id);
    expect(again.added).toBe(2);
    expect((await c.a.get(t.id))!.counts.total).toBe(5);
    expect((await c.a.items(t.id, 2, 1)).map((i) => i.instance)).toEqual(['1.2.3.100.2', '1.2.3.100.3']);
    expect(await c.a.studies(t.id)).toEqual(['1.2.3']);
    expect((await c.b.list(10)).map((x) => x.id)).toContain(t.id);
  });

  test('two nodes racing for 200 items claim each once', async () => {
    const { transfer: t } = await c.a.create(transfer('d-race'), items(200));
    const seen: number[] = [];
    const node = async (store: TransferStore, name: string) => {
      for (;;) {
        const batch = await store.claim('d-race', name, 7, 100, 30_000);
        if (!batch) return;
        seen.push(...batch.items.map((i) => i.id));
        expect(await store.markSent(name, batch.items.map((i) => i.id))).toBe(batch.items.length);
      }
    };
    await Promise.all([node(c.a, 'A'), node(c.b, 'B'), node(c.a, 'A2'), node(c.b, 'B2')]);
    expect(seen).toHaveLength(200);
    expect(new Set(seen).size).toBe(200);
    expect(await c.a.get(t.id)).toMatchObject({ state: 'done', counts: { sent: 200, queued: 0 } });
  });

  test('a destination\'s concurrency holds across nodes', async () => {
    await c.a.create(transfer('d-conc'), items(10));
    const first = await c.a.claim('d-conc', 'A', 2, 1, 30_000);
    expect(first?.items).toHaveLength(2);
    expect(await c.b.claim('d-conc', 'B', 2, 1, 30_000)).toBeUndefined();
    expect(await c.b.claim('d-conc', 'B', 2, 2, 30_000)).toBeDefined();
    await c.a.markSent('A', first!.items.map((i) => i.id));
    expect(await c.b.claim('d-conc', 'B', 2, 2, 30_000)).toBeDefined();
  });

  test('a failed attempt waits out its backoff, is failed at maxAttempts or when permanent, with the reason', async () => {
    const { transfer: t } = await c.a.create(transfer('d-fail'), items(2));
    let b = (await c.a.claim('d-fail', 'A', 1, 5, 30_000))!;
    expect(await c.a.markFailed('A', b.items[0].id, 'ECONNREFUSED', { delayMs: 400, maxAttempts: 2, permanent: false })).toBe('queued');
    const other = (await c.b.claim('d-fail', 'B', 5, 5, 30_000))!; // only the other item is due
    expect(other.items.map((i) => i.id)).not.toContain(b.items[0].id);
    expect(await c.b.markFailed('B', other.items[0].id, 'remote refused the instance: 0xC000', { delayMs: 0, maxAttempts: 20, permanent: true })).toBe('failed');
    const waiting = (await c.a.items(t.id, 10, 0)).find((i) => i.id === b.items[0].id)!;
    expect(waiting).toMatchObject({ state: 'queued', attempts: 1, error: 'ECONNREFUSED' });
    expect(waiting.nextAttemptAt).toBeDefined();
    expect((await c.a.get(t.id))!.counts).toMatchObject({ retrying: 1, failed: 1 });
    await sleep(500);
    b = (await c.a.claim('d-fail', 'A', 1, 5, 30_000))!;
    expect(b.items[0].attempts).toBe(2);
    expect(await c.a.markFailed('A', b.items[0].id, 'HTTP 503', { delayMs: 0, maxAttempts: 2, permanent: false })).toBe('failed');
    expect(await c.a.get(t.id)).toMatchObject({ state: 'failed', counts: { failed: 2, queued: 0 } });
  });

  test('a lease that runs out passes the batch to the other node; the first node\'s late outcome is not recorded', async () => {
    await c.a.create(transfer('d-lease'), items(3));
    const held = (await c.a.claim('d-lease', 'A', 3, 1, 300))!;
    expect(await c.b.claim('d-lease', 'B', 3, 1, 30_000)).toBeUndefined(); // A's batch still counts
    await sleep(450);
    expect(await c.a.renew('A', held.batch, 300)).toBe(true); // not yet taken back: a late renewal holds
    await sleep(450);
    expect(await c.b.recover(20)).toMatchObject({ requeued: 3 });
    expect(await c.a.renew('A', held.batch, 300)).toBe(false);
    const taken = (await c.b.claim('d-lease', 'B', 3, 1, 30_000))!;
    expect(taken.items.map((i) => i.attempts)).toEqual([2, 2, 2]);
    expect(await c.a.markSent('A', held.items.map((i) => i.id))).toBe(0);
    expect(await c.a.markFailed('A', held.items[0].id, 'x', { delayMs: 0, maxAttempts: 2, permanent: false })).toBe('lost');
    expect(await c.b.markSent('B', taken.items.map((i) => i.id))).toBe(3);
  });

  test('a restarted node takes back its own batches at once; interrupted too often is failed; a stop releases unsent', async () => {
    const { transfer: t } = await c.a.create(transfer('d-restart'), items(2));
    const held = (await c.a.claim('d-restart', 'A', 1, 5, 30_000))!;
    expect(await c.a.recover(1, 'A')).toEqual({ requeued: 0, failed: 1 });
    const second = (await c.a.claim('d-restart', 'A', 1, 5, 30_000))!;
    expect(second.items[0].id).not.toBe(held.items[0].id);
    expect(await c.a.release('A', second.batch)).toBe(1);
    const items2 = await c.a.items(t.id, 10, 0);
    expect(items2.find((i) => i.id === second.items[0].id)).toMatchObject({ state: 'queued', attempts: 0 });
    expect(items2.find((i) => i.id === held.items[0].id)?.error).toMatch(/interrupted/);
  });

  test('a cancel stops the holder: its renewal fails and its outcome is not recorded', async () => {
    const { transfer: t } = await c.a.create(transfer('d-cancel', 'k-cancel'), items(4, '1.2.3.200'));
    const held = (await c.a.claim('d-cancel', 'A', 2, 5, 30_000))!;
    expect((await c.b.cancel(t.id))!).toMatchObject({ state: 'cancelled', counts: { cancelled: 4 } });
    expect(await c.a.renew('A', held.batch, 30_000)).toBe(false);
    expect(await c.a.markSent('A', held.items.map((i) => i.id))).toBe(0);
    expect(await c.a.claim('d-cancel', 'A', 2, 5, 30_000)).toBeUndefined();
    // A route's later instances do not revive a cancelled transfer.
    expect((await c.a.create(transfer('d-cancel', 'k-cancel'), items(6, '1.2.3.200'))).added).toBe(0);
    expect((await c.a.destinationCounts())['d-cancel']).toMatchObject({ cancelled: 4, queued: 0 });
  });
});

describe('egress configuration and policies', () => {
  test('full-jitter backoff: within [0, min(cap, base·2^(n−1)))', () => {
    expect(backoffMs(1, 2, 600, () => 0.999)).toBeLessThan(2000);
    expect(backoffMs(4, 2, 600, () => 0.999)).toBeLessThan(16_000);
    expect(backoffMs(4, 2, 600, () => 0.999)).toBeGreaterThan(15_000);
    expect(backoffMs(30, 2, 600, () => 0.999)).toBeLessThan(600_000);
    expect(backoffMs(30, 2, 600, () => 0)).toBe(0);
  });

  test('windows wrap past midnight', () => {
    const w = parseWindow('22:00-06:00');
    const at = (h: number, m = 0) => new Date(2025, 0, 1, h, m);
    expect([at(21, 59), at(22), at(3), at(5, 59), at(6), at(12)].map((d) => inWindow(w, d))).toEqual([false, true, true, true, false, false]);
    const day = parseWindow('08:30-17:00');
    expect([at(8, 29), at(8, 30), at(16, 59), at(17)].map((d) => inWindow(day, d))).toEqual([false, true, true, false]);
    expect(() => parseWindow('25:00-01:00')).toThrow(/HH:MM/);
  });

  test('description patterns: * and ?, case-insensitive, no regular expressions', () => {
    expect(matchesPattern('*thorax*', 'CT THORAX 1.0 B31f')).toBe(true);
    expect(matchesPattern('T? AX*', 't1 ax post')).toBe(true);
    expect(matchesPattern('*.*', 'abc')).toBe(false);
    expect(matchesPattern('(a+)+$', 'aaaa')).toBe(false);
    expect(matchesPattern('*a*a*a*a*a*b', 'a'.repeat(5000))).toBe(false);
    expect(matchesPattern('', '')).toBe(true);
    expect(matchesPattern('*', '')).toBe(true);
  });

  test('configuration errors are clear and never echo a secret', () => {
    const bad = (egress: unknown) => () => validateEgress(egress);
    expect(bad({ destinations: { x: { type: 'ftp' } } })).toThrow(/egress.destinations.x.type must be "dicomweb" or "dimse"/);
    expect(bad({ destinations: { x: { type: 'dicomweb', url: 'https://u:p@h/dicom-web' } } })).toThrow(/must not hold credentials/);
    expect(bad({ destinations: { x: { type: 'dicomweb', url: 'https://h/dicom-web', auth: { bearer: 'sekrit-token', extra: 1 } } } })).toThrow(/auth must be/);
    expect(bad({ destinations: { x: { type: 'dicomweb', url: 'https://h/dicom-web', auth: { bearer: 'sekrit-token', extra: 1 } } } })).not.toThrow(/sekrit/);
    expect(bad({ destinations: { x: { type: 'dimse', host: 'h', port: 104 } } })).toThrow(/aeTitle/);
    expect(bad({ destinations: {}, routes: [{ destinations: ['nowhere'] }] })).toThrow(/names "nowhere", which is not in egress.destinations/);
    expect(bad({ destinations: { x: { type: 'dimse', host: 'h', port: 104, aeTitle: 'A' } }, routes: [{ destinations: ['x'], modalty: 'CT' }] })).toThrow(/unknown condition "modalty"/);
    expect(bad({ destinations: { x: { type: 'dicomweb', url: 'https://h/dicom-web', tls: { ca: '/no/such.pem' } } } })).toThrow(/tls.ca must name a PEM file/);
    const ok = validateEgress({ destinations: { x: { type: 'dicomweb', url: 'https://h/dicom-web/' } }, routes: [{ modality: 'CT', destinations: 'x' }] });
    expect(ok.destinations.x).toMatchObject({ url: 'https://h/dicom-web', concurrency: 2, batchSize: 20 });
    expect(ok.routes[0]).toMatchObject({ name: 'route-1', from: 'ingest', modality: ['CT'], destinations: ['x'] });
    expect(ok).toMatchObject({ maxAttempts: 20, retryBaseSeconds: 2, retryCapSeconds: 600 });
  });
});
