/**
 * The gateway as a separate process (`node dist/src/main.js`), for tests that kill it: free
 * ports, start on a data directory, wait until it listens and its start-up sweep is done,
 * SIGKILL, restart on the same directory.
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const ROOT = path.resolve(__dirname, '../..');
export const MAIN = path.join(ROOT, 'dist/src/main.js');

function newestMtime(dir: string, ext: string): number {
  let newest = 0;
  for (const e of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile() || !e.name.endsWith(ext)) continue;
    const full = path.join(e.parentPath ?? (e as unknown as { path: string }).path, e.name);
    newest = Math.max(newest, fs.statSync(full).mtimeMs);
  }
  return newest;
}

/**
 * dist/ as `npm test`'s pretest step leaves it; built here when it is missing or older than the
 * sources (a plain `npx jest` run). Returns what was done, for the test's log.
 */
export function ensureBuilt(): string {
  const stale = !fs.existsSync(MAIN) || fs.statSync(MAIN).mtimeMs < newestMtime(path.join(ROOT, 'src'), '.ts');
  if (!stale) return 'dist/ is up to date';
  try {
    execFileSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', path.join(ROOT, 'tsconfig.json')], { cwd: ROOT, stdio: 'pipe' });
    return 'dist/ built';
  } catch (e) {
    // tsc emits despite type errors (noEmitOnError is off): what matters here is that main.js exists.
    if (!fs.existsSync(MAIN)) throw new Error(`the build did not produce ${MAIN}: ${String((e as { stdout?: Buffer }).stdout ?? e).slice(0, 2000)}`);
    return `dist/ built with type errors: ${String((e as { stdout?: Buffer }).stdout ?? '').split('\n').slice(0, 3).join(' | ')}`;
  }
}

export { freePort } from './local';

export interface ServerProcess {
  proc: ChildProcess;
  pid: number;
  url: string;
  port: number;
  dimsePort: number;
  /** Every log line (JSON), stdout and stderr. */
  lines: string[];
  /** Resolves once the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface StartOptions {
  dataDir: string;
  port: number;
  dimsePort: number;
  env?: Record<string, string>;
  /** How long to wait for "listening", "dimse-listening" and the start-up sweep. */
  timeoutMs?: number;
}

/** Start the gateway and wait until it serves and its orphan sweep has finished. */
export async function startServer(o: StartOptions): Promise<ServerProcess> {
  // The working directory is a scratch one, so no veilgate.config.json is picked up.
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'veilgate-proc-'));
  const proc = spawn(process.execPath, [MAIN], {
    cwd,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? cwd,
      HOST: '127.0.0.1',
      PORT: String(o.port),
      DIMSE_PORT: String(o.dimsePort),
      DATA_DIR: o.dataDir,
      LOG_LEVEL: 'info',
      ...o.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let buffered = '';
  const onData = (d: Buffer) => {
    buffered += d.toString('utf8');
    const parts = buffered.split('\n');
    buffered = parts.pop() ?? '';
    lines.push(...parts.filter(Boolean));
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => {
      fs.rmSync(cwd, { recursive: true, force: true });
      resolve({ code, signal });
    }),
  );
  const server: ServerProcess = {
    proc,
    pid: proc.pid!,
    url: `http://127.0.0.1:${o.port}/dicom-web`,
    port: o.port,
    dimsePort: o.dimsePort,
    lines,
    exited,
    kill: async (signal = 'SIGKILL') => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
  const deadline = Date.now() + (o.timeoutMs ?? 20_000);
  const has = (event: string) => lines.some((l) => l.includes(`"event":"${event}"`));
  let gone = false;
  void exited.then(() => (gone = true));
  while (!(has('listening') && has('dimse-listening') && (has('orphan-sweep') || has('orphans-quarantined') || has('orphan-sweep-failed')))) {
    if (gone) throw new Error(`the gateway exited during start-up:\n${lines.slice(-20).join('\n')}`);
    if (Date.now() > deadline) {
      await server.kill();
      throw new Error(`the gateway did not become ready in time:\n${lines.slice(-20).join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return server;
}

/** PS3.15-style keyed UID as the design fixes it: 2.25. + the first 128 bits of HMAC-SHA256(site secret, UID). */
const secrets = new Map<string, Buffer>();

export function mappedUid(dataDir: string, original: string): string {
  let secret = secrets.get(dataDir);
  if (!secret) {
    const hex = fs.readFileSync(path.join(dataDir, 'secret.key'), 'utf8').trim();
    if (!/^[0-9a-f]{64}$/.test(hex)) throw new Error('secret.key is not 64 hex digits');
    secrets.set(dataDir, (secret = Buffer.from(hex, 'hex')));
  }
  const digest = crypto.createHmac('sha256', secret).update(original).digest('hex');
  return `2.25.${BigInt('0x' + digest.slice(0, 32)).toString(10)}`;
}

/** Relative paths of the files under a folder. */
export function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath ?? (e as unknown as { path: string }).path, e.name)));
}
