/**
 * DICOM → NIfTI with dcm2niix itself (the @niivue/dcm2niix WebAssembly build, with its
 * OpenJPEG and CharLS decoders), run in a worker thread so HTTP never waits on it. Its
 * geometry is dcm2niix's: slice sorting, LPS → RAS, gantry-tilt correction and equalised
 * slice spacing (the _Tilt_Eq / _Eq outputs), enhanced multi-frame, 4D series.
 */
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

export interface Dcm2niixFile {
  name: string;
  data: Uint8Array;
}

export interface Dcm2niixResult {
  exitCode: number;
  log: string[];
  outputs: Dcm2niixFile[];
}

function modulePath(): string {
  // The package exports only an ES module entry; its dist/ files are loaded by path.
  let dir = __dirname;
  for (;;) {
    const candidate = path.join(dir, 'node_modules', '@niivue', 'dcm2niix', 'dist', 'dcm2niix.jpeg.js');
    if (fs.existsSync(candidate)) return candidate;
    const up = path.dirname(dir);
    if (up === dir) throw new Error('@niivue/dcm2niix is not installed');
    dir = up;
  }
}

/** The worker: loads the Emscripten module, writes the files to its memory file system, runs main. */
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
import(workerData.url).then(async ({ default: createModule }) => {
  const log = [];
  const mod = await createModule({ print: (s) => log.push(s), printErr: (s) => log.push(s) });
  mod.FS.mkdir('/in');
  mod.FS.mkdir('/out');
  workerData.files.forEach((f, i) => mod.FS.writeFile('/in/' + i + '.dcm', f.data));
  workerData.files = null;
  let exitCode;
  try {
    exitCode = mod.callMain(['-o', '/out', ...workerData.args, '/in']);
  } catch (e) {
    exitCode = typeof e?.status === 'number' ? e.status : 1;
  }
  // Outputs go to shared memory, filled here: the main thread receives them without a copy, and
  // can hand them on (to a job's thread) without one either.
  const outputs = mod.FS.readdir('/out').filter((n) => !n.startsWith('.')).map((name) => {
    const file = mod.FS.readFile('/out/' + name);
    const data = new Uint8Array(new SharedArrayBuffer(file.byteLength));
    data.set(file);
    return { name, data };
  });
  parentPort.postMessage({ exitCode, log, outputs });
}).catch((e) => parentPort.postMessage({ exitCode: -1, log: [String(e && e.stack || e)], outputs: [] }));
`;

/**
 * Convert the files of one series. Options: uncompressed .nii (gzip is done while streaming),
 * BIDS sidecar, file names from the series number and protocol.
 */
export function runDcm2niix(files: Dcm2niixFile[], args = ['-z', 'n', '-b', 'y', '-ba', 'y', '-f', '%s_%p']): Promise<Dcm2niixResult> {
  // The caller's buffers are transferred: it must not use them afterwards.
  // Hand the file buffers over to the worker rather than copy them (a buffer that shares
  // memory with others, as small pooled ones do, is copied first).
  const owned = files.map((f) => ({ name: f.name, data: f.data.byteLength === f.data.buffer.byteLength ? f.data : new Uint8Array(f.data) }));
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER, {
      eval: true,
      workerData: { url: pathToFileURL(modulePath()).href, files: owned, args },
      transferList: owned.map((f) => f.data.buffer as ArrayBuffer),
      resourceLimits: { maxOldGenerationSizeMb: 4096 },
    });
    worker.once('message', (m: Dcm2niixResult) => {
      resolve(m);
      worker.terminate();
    });
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (code !== 0) reject(new Error(`dcm2niix worker exited with ${code}`));
    });
  });
}

/**
 * The NIfTI files a conversion produced, best first: dcm2niix writes a tilt-corrected and
 * equalised volume (_Tilt_Eq) or an equalised one (_Eq) next to the raw one, and those are the
 * ones whose geometry is a regular grid.
 */
export function niftiOutputs(result: Dcm2niixResult): { nii: Dcm2niixFile; json?: Dcm2niixFile; bval?: Dcm2niixFile; bvec?: Dcm2niixFile }[] {
  const byName = new Map(result.outputs.map((o) => [o.name, o]));
  const rank = (n: string) => (/_Tilt_Eq_\d+\.nii$/.test(n) ? 0 : /_Eq_\d+\.nii$/.test(n) ? 1 : /_Tilt_\d+\.nii$/.test(n) ? 3 : 2);
  const niis = result.outputs.filter((o) => o.name.endsWith('.nii'));
  const corrected = new Set(niis.filter((n) => rank(n.name) < 2).map((n) => n.name.replace(/_(Tilt_Eq|Eq)_\d+\.nii$/, '.nii')));
  return niis
    .filter((n) => !corrected.has(n.name) && rank(n.name) !== 3) // a raw volume is superseded by its corrected one
    .sort((a, b) => rank(a.name) - rank(b.name) || a.name.localeCompare(b.name))
    .map((nii) => {
      const base = nii.name.replace(/(_(Tilt_Eq|Eq)_\d+)?\.nii$/, '');
      return { nii, json: byName.get(base + '.json'), bval: byName.get(base + '.bval'), bvec: byName.get(base + '.bvec') };
    });
}
