/**
 * STOW-RS throughput against Orthanc, measured in the same run: 500 synthetic CT instances
 * (512×512), two clients each sending its half in requests of 25, de-identification on in
 * Veilgate (Orthanc stores as it is sent). Both servers run as their own processes on
 * loopback, started the way their users start them; each is measured twice, alternately, and
 * the better round of each counts. Prints instances/s and the ratio veilgate / orthanc.
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { randomUid, syntheticInstance } from '../src/synthetic/instances';
import { freePort, hasCommand, multipartBody, runIfMain } from './util';

const INSTANCES = 500;
const CLIENTS = 2;
const PER_REQUEST = 25;
const ROUNDS = 2;
const GOAL = 1.5;
const ORTHANC_PEER = path.resolve(__dirname, '../../../shared/tools/orthanc-peer.sh');
// The compiled gateway, whether this runs from dist/bench or (in a test) from bench/.
const MAIN = __filename.endsWith('.ts') ? path.resolve(__dirname, '../dist/src/main.js') : path.resolve(__dirname, '../src/main.js');


/** Request bodies per client, built before any clock starts. */
function bodies(): { body: Buffer; contentType: string }[][] {
  const studyUID = randomUid();
  const seriesUID = randomUid();
  const all = Array.from({ length: INSTANCES }, (_, i) => syntheticInstance({ studyUID, seriesUID, instanceNumber: i + 1, rows: 512, columns: 512, seed: i }).bytes);
  const perClient = Math.ceil(INSTANCES / CLIENTS);
  return Array.from({ length: CLIENTS }, (_, c) => {
    const mine = all.slice(c * perClient, (c + 1) * perClient);
    const out = [];
    for (let i = 0; i < mine.length; i += PER_REQUEST) out.push(multipartBody(mine.slice(i, i + PER_REQUEST)));
    return out;
  });
}

async function send(url: string, requests: { body: Buffer; contentType: string }[][]): Promise<number> {
  const t0 = performance.now();
  await Promise.all(
    requests.map(async (mine) => {
      for (const r of mine) {
        const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': r.contentType, Accept: 'application/dicom+json' }, body: r.body });
        await res.arrayBuffer();
        if (res.status !== 200) throw new Error(`STOW to ${url}: HTTP ${res.status}`);
      }
    }),
  );
  return INSTANCES / ((performance.now() - t0) / 1000);
}

async function startVeilgate(dataDir: string): Promise<{ url: string; proc: ChildProcess }> {
  const port = await freePort();
  const proc = spawn(process.execPath, [MAIN], {
    cwd: dataDir,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOST: '127.0.0.1', PORT: String(port), DIMSE_PORT: 'off', DATA_DIR: path.join(dataDir, 'data'), LOG_LEVEL: 'warn' },
    stdio: 'ignore',
  });
  const url = `http://127.0.0.1:${port}/dicom-web`;
  for (let i = 0; i < 200; i++) {
    if (await fetch(`${url}/studies`).then((r) => r.ok, () => false)) return { url: `${url}/studies`, proc };
    await new Promise((r) => setTimeout(r, 50));
  }
  proc.kill('SIGKILL');
  throw new Error('veilgate did not start');
}

async function stopVeilgate(proc: ChildProcess): Promise<void> {
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  await exited;
}

export async function main(): Promise<void> {
  const requests = bodies();
  const ours: number[] = [];
  const theirs: number[] = [];
  const orthanc = hasCommand('Orthanc') && fs.existsSync(ORTHANC_PEER);
  for (let round = 0; round < ROUNDS; round++) {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'veilgate-bench-stow-'));
    try {
      const v = await startVeilgate(work);
      try {
        ours.push(await send(v.url, requests));
      } finally {
        await stopVeilgate(v.proc);
      }
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
    if (!orthanc) continue;
    const env = execFileSync('bash', [ORTHANC_PEER, 'start'], { encoding: 'utf8' });
    const vars = Object.fromEntries([...env.matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1], m[2]]));
    try {
      theirs.push(await send(`${vars.ORTHANC_DICOMWEB}/studies`, requests));
    } finally {
      execFileSync('bash', [ORTHANC_PEER, 'stop', vars.ORTHANC_PID, vars.ORTHANC_DIR]);
    }
  }
  const best = (xs: number[]) => Math.max(...xs);
  console.log(`stow veilgate: ${INSTANCES} instances 512x512, ${CLIENTS} clients, de-identification on: ${ours.map((r) => r.toFixed(0)).join(' / ')} instances/s`);
  if (!orthanc) {
    console.log('stow orthanc: skipped (Debian orthanc and orthanc-dicomweb are not installed)');
    return;
  }
  console.log(`stow orthanc: ${theirs.map((r) => r.toFixed(0)).join(' / ')} instances/s`);
  console.log(`stow ratio veilgate / orthanc: ${(best(ours) / best(theirs)).toFixed(2)} (goal >= ${GOAL})`);
}

runIfMain(module, main);
