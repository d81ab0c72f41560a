/**
 * A gateway node as its users run it (`node dist/src/main.js`, configured by environment), for
 * benchmarks of several nodes on one index: a free port, no DIMSE, a scratch working directory
 * (so no veilgate.config.json is picked up), ready once it logs "listening" and its start-up
 * orphan sweep has reported.
 */
import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './util';

// The compiled gateway, whether this runs from dist/bench or (in a test) from bench/.
const MAIN = __filename.endsWith('.ts') ? path.resolve(__dirname, '../dist/src/main.js') : path.resolve(__dirname, '../src/main.js');
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 20_000;
const TAIL_LINES = 20;

export interface GatewayNode {
  /** http://127.0.0.1:PORT/dicom-web */
  url: string;
  /** Log lines per level ("error", "warn", …) and event, counted over the node's life. */
  logged: Map<string, number>;
  /** The last lines it logged, for a failure's message. */
  tail: string[];
  stop(): Promise<void>;
}

/** "level event" of a gateway log line (src/log.ts writes both first), "unparsed" for anything else. */
export function logKey(line: string): string {
  const m = /"level":"(\w+)","event":"([^"]+)"/.exec(line);
  return m ? `${m[1]} ${m[2]}` : 'unparsed';
}

async function stop(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

/** Start a node with `env` (INDEX_URL, STORE_URL, SITE_SECRET, NODE_ID, DATA_DIR, …) and wait until it is ready. */
export async function startGatewayNode(env: Record<string, string>): Promise<GatewayNode> {
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'veilgate-node-'));
  const port = await freePort();
  const proc = spawn(process.execPath, [MAIN], {
    cwd,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? cwd, HOST: '127.0.0.1', PORT: String(port), DIMSE_PORT: 'off', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const node: GatewayNode = {
    url: `http://127.0.0.1:${port}/dicom-web`,
    logged: new Map(),
    tail: [],
    stop: async () => {
      await stop(proc);
      fs.rmSync(cwd, { recursive: true, force: true });
    },
  };
  let buffered = '';
  const onData = (d: Buffer) => {
    buffered += d.toString('utf8');
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines.filter(Boolean)) {
      node.tail.push(line);
      if (node.tail.length > TAIL_LINES) node.tail.shift();
      const key = logKey(line);
      node.logged.set(key, (node.logged.get(key) ?? 0) + 1);
    }
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  const has = (event: string) => [...node.logged.keys()].some((k) => k.endsWith(` ${event}`));
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!(has('listening') && (has('orphan-sweep') || has('orphans-quarantined') || has('orphan-sweep-failed')))) {
    const gone = proc.exitCode !== null || proc.signalCode !== null;
    if (gone || Date.now() > deadline) {
      await node.stop();
      throw new Error(`gateway node ${gone ? 'exited during start-up' : 'did not become ready in time'}:\n${node.tail.join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return node;
}
