/**
 * STOW-RS throughput of one gateway node against two on one PostgreSQL: each node its own process
 * (node dist/src/main.js), the nodes sharing the index (a fresh database per measurement, so every
 * one starts empty), the store (one file: folder) and the site secret. The same instances each
 * time, from clientsPerNode clients per node; one node and two alternate, `rounds` times each, and
 * the better round of each counts (a shared machine's noise only ever slows a round down).
 *
 * Two layouts: the instances in one study (one series), where every node's inserts take turns on
 * the study's lock, and in one study per client of the two-node run (each client's share whole
 * studies), the load of many senders at once.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUid, syntheticInstance } from '../src/synthetic/instances';
import { GatewayNode, startGatewayNode } from './gateway-node';
import type { PostgresServer } from './postgres-server';
import { sendFromClients, stowRequests } from './stow-clients';
import type { Teardown } from './teardown';

export interface StowPlan {
  instances: number;
  size: number;
  clientsPerNode: number;
  perRequest: number;
  rounds: number;
  /** Studies the instances are spread over, one layout each. */
  layouts: number[];
}

export interface StowLayoutRun {
  studies: number;
  /** instances/s per round. */
  one: number[];
  two: number[];
  bytes: number;
}

export interface StowRun {
  layouts: StowLayoutRun[];
  /** Warnings and errors the nodes logged, by event. */
  logged: Map<string, number>;
}

/** The instances in `studies` studies of one series each, in contiguous runs (a client's share is whole studies when it divides). */
function instancesIn(studies: number, plan: StowPlan): Buffer[] {
  const perStudy = Math.ceil(plan.instances / studies);
  const uids = Array.from({ length: studies }, () => ({ studyUID: randomUid(), seriesUID: randomUid() }));
  return Array.from({ length: plan.instances }, (_, i) => {
    const { studyUID, seriesUID } = uids[Math.floor(i / perStudy)];
    return syntheticInstance({ studyUID, seriesUID, instanceNumber: (i % perStudy) + 1, rows: plan.size, columns: plan.size, seed: i }).bytes;
  });
}

async function measure(pg: PostgresServer, instances: Buffer[], nodes: number, tag: string, plan: StowPlan, secret: string, teardown: Teardown, logged: Map<string, number>): Promise<number> {
  const database = `veilgate_stow_${tag}`;
  const indexUrl = await pg.createDatabase(database);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'veilgate-bench-stow-nodes-'));
  const dropAll = teardown.add(`the STOW-RS database ${database}`, async () => {
    await pg.dropDatabase(database);
    fs.rmSync(work, { recursive: true, force: true });
  });
  const started: { node: GatewayNode; stop: () => Promise<void> }[] = [];
  try {
    for (let n = 0; n < nodes; n++) {
      const node = await startGatewayNode({
        INDEX_URL: indexUrl,
        STORE_URL: `file:${path.join(work, 'store')}`,
        SITE_SECRET: secret,
        NODE_ID: `bench-node-${n}`,
        DATA_DIR: path.join(work, `node-${n}`),
      });
      started.push({ node, stop: teardown.add(`gateway node ${n}`, node.stop) });
    }
    const clients = nodes * plan.clientsPerNode;
    // Client c goes to node floor(c / clientsPerNode): the same number of clients on every node.
    const urls = Array.from({ length: clients }, (_, c) => started[Math.floor(c / plan.clientsPerNode)].node.url);
    const seconds = await sendFromClients(urls, stowRequests(instances, clients, plan.perRequest));
    return instances.length / seconds;
  } finally {
    for (const { node, stop } of started.reverse()) {
      await stop();
      for (const [k, v] of node.logged) if (!k.startsWith('info ') && !k.startsWith('debug ')) logged.set(k, (logged.get(k) ?? 0) + v);
    }
    await dropAll();
  }
}

export async function stowOneNodeAgainstTwo(pg: PostgresServer, plan: StowPlan, teardown: Teardown): Promise<StowRun> {
  const secret = randomBytes(32).toString('hex');
  const run: StowRun = { layouts: [], logged: new Map() };
  for (const studies of plan.layouts) {
    // One layout's instances at a time: each set is a quarter of a gigabyte at the default size.
    const instances = instancesIn(studies, plan);
    const layout: StowLayoutRun = { studies, one: [], two: [], bytes: instances.reduce((a, b) => a + b.length, 0) };
    for (let round = 0; round < plan.rounds; round++) {
      layout.one.push(await measure(pg, instances, 1, `${studies}s_1n_r${round}`, plan, secret, teardown, run.logged));
      layout.two.push(await measure(pg, instances, 2, `${studies}s_2n_r${round}`, plan, secret, teardown, run.logged));
    }
    run.layouts.push(layout);
  }
  return run;
}
