/** Starts a real gateway on a fresh data directory and a free port, for integration tests. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, Config } from '../../src/config';
import { startGateway, Gateway } from '../../src/server';
import { setLogSink } from '../../src/log';
import type { StoredInstance } from '../../src/index/index';

export interface TestGateway {
  gateway: Gateway;
  /** DICOMweb root, e.g. http://127.0.0.1:40123/dicom-web */
  url: string;
  dataDir: string;
  logLines: string[];
  /** Stop the gateway; its own data directory is removed unless `keepData` (the test removes it then). */
  close(options?: { keepData?: boolean }): Promise<void>;
}

export const SHARED_DATA = path.resolve(__dirname, '../../../shared/data');

export async function startTestGateway(overrides: Partial<Config> = {}): Promise<TestGateway> {
  // A data directory the test passes in is the test's to remove; a fresh one is ours.
  const ownDir = !overrides.dataDir;
  const dataDir = overrides.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'veilgate-test-'));
  const logLines: string[] = [];
  setLogSink((line) => logLines.push(line));
  // A free port for DIMSE too, unless the test says otherwise.
  const dimse = { ...loadConfig({}).dimse, port: 0 };
  const config = loadConfig({}, { host: '127.0.0.1', port: 0, dataDir, dimse, ...overrides });
  const gateway = await startGateway(config);
  return {
    gateway,
    url: `${gateway.config.publicUrl}/dicom-web`,
    dataDir,
    logLines,
    close: async (options = {}) => {
      await gateway.close();
      if (ownDir && !options.keepData) fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Build a multipart/related body of application/dicom parts. */
export function multipartBody(parts: Uint8Array[], boundary = 'testboundary1234'): { body: Buffer; contentType: string } {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`));
    chunks.push(Buffer.from(p));
    chunks.push(Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/related; type="application/dicom"; boundary=${boundary}` };
}

/** STOW the files to the gateway (the answer must be 200); the stored instances, in the order given, as its index has them. */
export async function stowStored(gw: TestGateway, parts: Uint8Array[]): Promise<StoredInstance[]> {
  const { body, contentType } = multipartBody(parts);
  const res = await fetch(`${gw.url}/studies`, { method: 'POST', headers: { 'Content-Type': contentType }, body });
  expect(res.status).toBe(200);
  const refs = ((await res.json()) as { '00081199': { Value: Record<string, { Value?: unknown[] }>[] } })['00081199'].Value;
  const out: StoredInstance[] = [];
  for (const r of refs) out.push((await gw.gateway.index.findInstance(String(r['00081155'].Value![0])))!);
  return out;
}

/** Split a multipart/related response body into its parts (headers and bytes). */
export function parseMultipart(body: Buffer, contentType: string): { headers: Record<string, string>; body: Buffer }[] {
  const m = /boundary="?([^";]+)"?/.exec(contentType);
  if (!m) throw new Error('no boundary in ' + contentType);
  const delimiter = Buffer.from(`--${m[1]}`);
  const parts: { headers: Record<string, string>; body: Buffer }[] = [];
  let pos = body.indexOf(delimiter);
  while (pos >= 0) {
    const start = pos + delimiter.length;
    if (body.subarray(start, start + 2).toString() === '--') break;
    const headerEnd = body.indexOf('\r\n\r\n', start);
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), delimiter]), headerEnd);
    const headers: Record<string, string> = {};
    for (const line of body.subarray(start + 2, headerEnd).toString('latin1').split('\r\n')) {
      const i = line.indexOf(':');
      if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    parts.push({ headers, body: body.subarray(headerEnd + 4, next) });
    pos = next + 2;
  }
  return parts;
}

/**
 * What the gateway's de-identification makes of original values, computed with its site
 * secret: tests send identifiable data and look for its de-identified form.
 */
export function deidentified(dataDir: string) {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { mapUid, patientPseudonym, dateOffsetDays } = require('../../src/deid/keyed');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { shiftDA } = require('../../src/deid/dates');
  const secret = Buffer.from(fs.readFileSync(path.join(dataDir, 'secret.key'), 'utf8').trim(), 'hex');
  return {
    secret,
    uid: (original: string): string => mapUid(secret, original),
    patient: (patientID: string, issuer = ''): string => patientPseudonym(secret, issuer, patientID),
    date: (patientID: string, date: string, issuer = ''): string => shiftDA(date, dateOffsetDays(secret, issuer, patientID)),
  };
}
