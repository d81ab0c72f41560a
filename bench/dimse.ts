/**
 * C-STORE benchmark: dcmtk's storescu sends a 500-instance synthetic CT series (512×512) to
 * the gateway's DIMSE listener, de-identification on; and, where Debian's orthanc is
 * installed, the same series to a throw-away Orthanc on loopback, as a ratio.
 */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadConfig } from '../src/config';
import { startGateway } from '../src/server';
import { setLogSink } from '../src/log';
import { randomUid, syntheticInstance } from '../src/synthetic/instances';
import { hasCommand, mb, runIfMain } from './util';

const INSTANCES = 500;
const execFileAsync = promisify(execFile);
const ORTHANC_PEER = path.resolve(__dirname, '../../../shared/tools/orthanc-peer.sh');

/** Asynchronous: the gateway runs in this process and must keep answering while storescu sends. */
async function storescu(port: number, calledAe: string, dir: string, bytes: number, label: string): Promise<number> {
  const t0 = performance.now();
  await execFileAsync('storescu', ['+sd', '-aec', calledAe, '-aet', 'BENCH', '127.0.0.1', String(port), dir]);
  const s = (performance.now() - t0) / 1000;
  const rate = INSTANCES / s;
  console.log(`c-store ${label}: ${INSTANCES} instances, ${mb(bytes)} MB in ${s.toFixed(2)} s -> ${rate.toFixed(1)} instances/s, ${(bytes / 2 ** 20 / s).toFixed(1)} MB/s`);
  return rate;
}

export async function main(): Promise<void> {
  if (!hasCommand('storescu')) {
    console.log('c-store: skipped (dcmtk storescu is not installed)');
    return;
  }
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'veilgate-bench-dimse-'));
  const series = path.join(work, 'series');
  fs.mkdirSync(series);
  const studyUID = randomUid();
  const seriesUID = randomUid();
  let bytes = 0;
  for (let i = 1; i <= INSTANCES; i++) {
    const inst = syntheticInstance({ studyUID, seriesUID, instanceNumber: i, rows: 512, columns: 512 });
    fs.writeFileSync(path.join(series, `${i}.dcm`), inst.bytes);
    bytes += inst.bytes.length;
  }
  setLogSink(() => undefined);
  const gateway = await startGateway(loadConfig({}, { host: '127.0.0.1', port: 0, dataDir: path.join(work, 'data'), dimse: { ...loadConfig({}).dimse, port: 0 } }));
  try {
    const ours = await storescu(gateway.dimse!.port, gateway.config.dimse.aeTitle, series, bytes, 'veilgate');
    if (hasCommand('Orthanc') && fs.existsSync(ORTHANC_PEER)) {
      const env = execFileSync('bash', [ORTHANC_PEER, 'start'], { encoding: 'utf8' });
      const vars = Object.fromEntries([...env.matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1], m[2]]));
      try {
        const theirs = await storescu(Number(vars.ORTHANC_DIMSE_PORT), 'ORTHANC', series, bytes, 'orthanc');
        console.log(`c-store rate veilgate / orthanc: ${(ours / theirs).toFixed(2)}`);
      } finally {
        execFileSync('bash', [ORTHANC_PEER, 'stop', vars.ORTHANC_PID, vars.ORTHANC_DIR]);
      }
    } else {
      console.log('c-store orthanc: skipped (Debian orthanc is not installed)');
    }
  } finally {
    await gateway.close();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

runIfMain(module, main);
