/**
 * Orthanc (Debian's 1.10) as a peer on a PostgreSQL server: its index in a database of its own
 * through Debian's orthanc-postgresql plugin, its files in a temporary folder, the DICOMweb
 * plugin on, on a free loopback port. Filled and sampled through its REST API (POST /instances,
 * the body one Part 10 file), the way an Orthanc user loads it.
 */
import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, hasCommand } from './util';

const PLUGINS = '/usr/share/orthanc/plugins';
const INDEX_PLUGIN = path.join(PLUGINS, 'libOrthancPostgreSQLIndex.so');
const DICOMWEB_PLUGIN = path.join(PLUGINS, 'libOrthancDicomWeb.so');
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;

/** Why the peer cannot run here, or undefined when it can. */
export function orthancMissing(): string | undefined {
  if (!hasCommand('Orthanc')) return 'Orthanc is not installed (apt-get install orthanc orthanc-dicomweb orthanc-postgresql)';
  for (const p of [INDEX_PLUGIN, DICOMWEB_PLUGIN]) if (!fs.existsSync(p)) return `${p} is missing (apt-get install orthanc-dicomweb orthanc-postgresql)`;
  return undefined;
}

export interface PostgresTarget {
  host: string;
  port: number;
  user: string;
  database: string;
}

export interface OrthancPeer {
  /** http://127.0.0.1:PORT (the REST root; DICOMweb under /dicom-web). */
  url: string;
  /** Orthanc's /system: its version and the database back end it reports. */
  system: { Version: string; DatabaseBackendPlugin?: string | null; DatabaseVersion?: number };
  stop(): Promise<void>;
}

function config(dir: string, httpPort: number, pg: PostgresTarget): object {
  return {
    Name: 'peer',
    StorageDirectory: path.join(dir, 'storage'),
    IndexDirectory: path.join(dir, 'index'),
    Plugins: [DICOMWEB_PLUGIN, INDEX_PLUGIN],
    HttpPort: httpPort,
    DicomServerEnabled: false,
    RemoteAccessAllowed: false,
    AuthenticationEnabled: false,
    DicomWeb: { Enable: true, Root: '/dicom-web/', EnableWado: true, StudiesMetadata: 'Full', SeriesMetadata: 'Full' },
    PostgreSQL: { EnableIndex: true, EnableStorage: false, Host: pg.host, Port: pg.port, Database: pg.database, Username: pg.user, Password: '', Lock: false },
  };
}

async function stopProcess(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  // Its own process group (detached), so nothing it forked outlives it.
  const signal = (s: NodeJS.Signals) => {
    try {
      process.kill(-proc.pid!, s);
    } catch {
      /* gone already */
    }
  };
  signal('SIGTERM');
  const timer = setTimeout(() => signal('SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

export async function startOrthanc(pg: PostgresTarget): Promise<OrthancPeer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'veilgate-orthanc-pg-'));
  const port = await freePort();
  fs.writeFileSync(path.join(dir, 'orthanc.json'), JSON.stringify(config(dir, port, pg), null, 1));
  const log = fs.openSync(path.join(dir, 'log'), 'w');
  const proc = spawn('Orthanc', [path.join(dir, 'orthanc.json')], { cwd: dir, detached: true, stdio: ['ignore', log, log] });
  fs.closeSync(log);
  const stop = async () => {
    await stopProcess(proc);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  const url = `http://127.0.0.1:${port}`;
  try {
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`Orthanc exited (${proc.exitCode})`);
      const res = await fetch(`${url}/system`).catch(() => undefined);
      if (res?.ok) return { url, system: (await res.json()) as OrthancPeer['system'], stop };
      if (Date.now() > deadline) throw new Error('Orthanc did not answer /system in time');
      await new Promise((r) => setTimeout(r, 250));
    }
  } catch (e) {
    const tail = fs.existsSync(path.join(dir, 'log')) ? fs.readFileSync(path.join(dir, 'log'), 'utf8').slice(-2000) : '';
    await stop();
    throw new Error(`${(e as Error).message}\n${tail}`);
  }
}

/** One instance through POST /instances; refuses anything but a new instance stored. */
export async function postInstance(url: string, bytes: Buffer): Promise<void> {
  const res = await fetch(`${url}/instances`, { method: 'POST', headers: { 'Content-Type': 'application/dicom' }, body: bytes });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`Orthanc POST /instances: HTTP ${res.status} ${text.slice(0, 300)}`);
  const status = (JSON.parse(text) as { Status?: string }).Status;
  if (status !== 'Success') throw new Error(`Orthanc POST /instances: ${status}`);
}

/** Upload `count` instances from `next` with `uploads` requests in flight; returns how many went in. */
export async function fillOrthanc(url: string, next: () => Buffer | undefined, count: number, uploads: number): Promise<number> {
  let taken = 0;
  const worker = async () => {
    while (taken < count) {
      const bytes = next();
      if (!bytes) return;
      taken++;
      await postInstance(url, bytes);
    }
  };
  await Promise.all(Array.from({ length: uploads }, worker));
  return taken;
}
