/**
 * A throw-away Orthanc (Debian's orthanc and orthanc-dicomweb) as a remote for egress tests, as
 * ../shared/tools/orthanc-peer.sh starts one: free loopback ports, its own storage directory, the
 * DICOMweb plugin. It can be stopped and started again on the same storage and ports (a remote
 * that goes away and comes back), and is read through its REST API.
 */
import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './local';

export interface Orthanc {
  /** http://127.0.0.1:PORT */
  rest: string;
  /** http://127.0.0.1:PORT/dicom-web */
  dicomweb: string;
  dimsePort: number;
  aeTitle: string;
  dir: string;
  running(): boolean;
  /** Start again on the same storage and ports (after stop()). */
  start(): Promise<void>;
  /** Stop it (SIGTERM, then SIGKILL after a while) and wait for it to exit. */
  stop(): Promise<void>;
  /** GET a REST resource as JSON. */
  get<T = unknown>(p: string): Promise<T>;
  /** Stop and remove its storage. */
  destroy(): Promise<void>;
}

export function orthancInstalled(): boolean {
  return fs.existsSync('/usr/sbin/Orthanc') && fs.existsSync('/usr/share/orthanc/plugins/libOrthancDicomWeb.so');
}

/** `acceptedTransferSyntaxes`: what its C-STORE SCP takes (Orthanc's AcceptedTransferSyntaxes; all it knows by default). */
export async function startOrthanc(options: { aeTitle?: string; name?: string; acceptedTransferSyntaxes?: string[] } = {}): Promise<Orthanc> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'orthanc-egress-'));
  const http = await freePort();
  const dimse = await freePort();
  const aeTitle = options.aeTitle ?? 'ORTHANC';
  fs.writeFileSync(
    path.join(dir, 'orthanc.json'),
    JSON.stringify({
      Name: options.name ?? 'egress-peer',
      StorageDirectory: path.join(dir, 'db'),
      IndexDirectory: path.join(dir, 'db'),
      Plugins: ['/usr/share/orthanc/plugins/libOrthancDicomWeb.so'],
      HttpPort: http,
      DicomPort: dimse,
      DicomAet: aeTitle,
      RemoteAccessAllowed: false,
      AuthenticationEnabled: false,
      DicomAlwaysAllowStore: true,
      DicomCheckCalledAet: false,
      // A resend of an instance it holds is a duplicate, not a second copy (Orthanc's default).
      OverwriteInstances: false,
      DicomWeb: { Enable: true, Root: '/dicom-web/', EnableWado: true },
      ...(options.acceptedTransferSyntaxes ? { AcceptedTransferSyntaxes: options.acceptedTransferSyntaxes } : {}),
    }),
  );
  const rest = `http://127.0.0.1:${http}`;
  let proc: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const start = async () => {
    if (proc) return;
    const log = fs.openSync(path.join(dir, 'log'), 'a');
    const p = spawn('/usr/sbin/Orthanc', [path.join(dir, 'orthanc.json')], { stdio: ['ignore', log, log], detached: true });
    fs.closeSync(log);
    proc = p;
    exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
    void exited.then(() => {
      if (proc === p) proc = undefined;
    });
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (!proc) throw new Error(`Orthanc exited during start-up:\n${fs.readFileSync(path.join(dir, 'log'), 'utf8').slice(-2000)}`);
      try {
        const r = await fetch(`${rest}/system`);
        if (r.ok) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error('Orthanc did not start in 20 s');
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  const stop = async () => {
    const p = proc;
    if (!p) return;
    p.kill('SIGTERM');
    const killer = setTimeout(() => p.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(killer);
    proc = undefined;
  };

  await start();
  return {
    rest,
    dicomweb: `${rest}/dicom-web`,
    dimsePort: dimse,
    aeTitle,
    dir,
    running: () => proc !== undefined,
    start,
    stop,
    get: async <T>(p: string) => {
      const r = await fetch(rest + p);
      if (!r.ok) throw new Error(`Orthanc GET ${p}: HTTP ${r.status}`);
      return (await r.json()) as T;
    },
    destroy: async () => {
      await stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
