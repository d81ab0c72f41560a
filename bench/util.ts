/** Small helpers shared by the benchmarks. */
import { execFileSync } from 'node:child_process';
import net from 'node:net';
import { randomUid } from '../src/synthetic/instances';

export const MB = 1024 * 1024; // "MB" below means 2^20 bytes
export const mb = (bytes: number) => (bytes / MB).toFixed(1);
export const ms = (n: number) => n.toFixed(2);

/** Nearest-rank percentile of a list of durations. */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)];
}

/** A multipart/related body of application/dicom parts (as a STOW-RS client sends). */
export function multipartBody(parts: Uint8Array[]): { body: Buffer; contentType: string } {
  const boundary = `bench-${randomUid()}`;
  const chunks: Uint8Array[] = [];
  for (const p of parts) chunks.push(Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`), p, Buffer.from('\r\n'));
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/related; type="application/dicom"; boundary=${boundary}` };
}

/** Run a benchmark's main when its file is run directly (node dist/bench/x.js). */
export function runIfMain(mod: NodeModule, main: () => Promise<void>): void {
  if (require.main !== mod) return;
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}

/** Whether a command is on the PATH (benchmarks against optional peers skip when it is not). */
export function hasCommand(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A free loopback port (closed again before it is returned). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}
