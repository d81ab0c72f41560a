/**
 * xmllint (Debian's libxml2-utils) against the shipped DICOM Audit Message schema. The tests
 * need it: when it is missing they fail with the package to install, never skip.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const AUDIT_XSD = path.resolve(__dirname, '../../src/audit/standard/audit-message.xsd');

export function requireXmllint(): void {
  const r = spawnSync('xmllint', ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) throw new Error('the audit tests need xmllint: apt-get install libxml2-utils');
}

export interface Validation {
  status: number | null;
  /** xmllint's report, one line per file ("… validates" or "… fails to validate") and errors. */
  output: string;
}

/** Validate files against the audit schema in one xmllint run. */
export function validateFiles(files: string[]): Validation {
  const r = spawnSync('xmllint', ['--noout', '--schema', AUDIT_XSD, ...files], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw r.error;
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/** Write each document to its own file in a fresh temporary directory, then validate them all. */
export function validateDocuments(docs: Record<string, string>): Validation & { files: Record<string, string> } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'veilgate-audit-xml-'));
  const files: Record<string, string> = {};
  for (const [name, xml] of Object.entries(docs)) {
    const file = path.join(dir, `${name.replace(/[^A-Za-z0-9_-]/g, '_')}.xml`);
    fs.writeFileSync(file, xml);
    files[name] = file;
  }
  return { ...validateFiles(Object.values(files)), files };
}

/** The string value of an XPath expression over one document. */
export function xpathString(xml: string, expr: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'veilgate-audit-xpath-'));
  const file = path.join(dir, 'doc.xml');
  fs.writeFileSync(file, xml);
  const r = spawnSync('xmllint', ['--xpath', `string(${expr})`, file], { encoding: 'utf8' });
  fs.rmSync(dir, { recursive: true, force: true });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`xmllint --xpath failed: ${r.stderr}`);
  return r.stdout.replace(/\n$/, ''); // xmllint ends its output with a newline
}
