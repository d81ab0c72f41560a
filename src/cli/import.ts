/**
 * `veilgate import <folder>`: walks a folder and sends every file through the same
 * ingest path as STOW-RS and C-STORE, with a progress bar and a closing summary.
 */
import fs from 'node:fs';
import path from 'node:path';
import { SingleBar, Presets } from 'cli-progress';
import { Config } from '../config';
import { openCore } from '../core/core';
import { ingest } from '../ingest/ingest';
import { setLogSink } from '../log';
import os from 'node:os';
import { ALL_PROJECTS, Principal, validProject } from '../auth/principal';
import { TransferTally } from '../audit/tally';

export interface ImportSummary {
  files: number;
  stored: number;
  duplicates: number;
  rejected: { file: string; reason: string }[];
}

function* walk(dir: string): Generator<string> {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(p);
    else if (entry.isFile()) yield p;
  }
}

export interface ImportOptions {
  progress?: boolean;
  auditLog?: string;
  /** The project the studies go into (and whose pseudonym space they get); default: the default project. */
  project?: string;
}

export async function importFolder(folder: string, config: Config, options: ImportOptions = {}): Promise<ImportSummary> {
  if (options.project !== undefined && (!validProject(options.project) || options.project === ALL_PROJECTS)) throw new Error(`not a project name: ${options.project}`);
  if (!fs.statSync(folder, { throwIfNoEntry: false })?.isDirectory()) throw new Error(`not a folder: ${folder}`);
  const files = [...walk(folder)];
  const core = await openCore(config);
  // The audit trail goes to a file, so it does not break the progress bar.
  const audit = fs.createWriteStream(options.auditLog ?? path.join(config.dataDir, 'import-audit.log'), { flags: 'a' });
  setLogSink((line) => audit.write(line + '\n'));
  const bar = options.progress ? new SingleBar({ format: 'importing [{bar}] {value}/{total} files | {stored} stored, {duplicates} duplicates, {rejected} rejected', hideCursor: true }, Presets.shades_classic) : undefined;
  const summary: ImportSummary = { files: files.length, stored: 0, duplicates: 0, rejected: [] };
  // Whoever can run this can read the data directory: the local user, in the project asked for.
  const principal: Principal = { id: 'import', via: 'local', roles: new Set(['ingest']), projects: new Set([options.project ?? ALL_PROJECTS]) };
  const caller = { user: os.userInfo().username, address: os.hostname() };
  const stored = new TransferTally();
  const duplicates = new TransferTally();
  bar?.start(files.length, 0, { stored: 0, duplicates: 0, rejected: 0 });
  try {
    for (const file of files) {
      const bytes = fs.readFileSync(file);
      const result = await ingest({ kind: 'part10', bytes }, { origin: { kind: 'import', address: caller.address }, principal }, core.ingestDeps);
      if (!result.ok) summary.rejected.push({ file: path.relative(folder, file), reason: result.error.message });
      else {
        if (result.outcome === 'stored') summary.stored++;
        else summary.duplicates++;
        (result.outcome === 'stored' ? stored : duplicates).add({ patient: result.patientID, study: result.studyUID, sopClassUid: result.sopClassUID });
      }
      bar?.increment(1, { stored: summary.stored, duplicates: summary.duplicates, rejected: summary.rejected.length });
    }
  } finally {
    bar?.stop();
    core.audit.transferred('ingest', caller, stored, { action: 'C' });
    core.audit.transferred('ingest', caller, duplicates, { action: 'R' });
    await core.close();
    await new Promise((resolve) => audit.end(resolve));
  }
  return summary;
}

export function formatSummary(s: ImportSummary): string {
  const lines = [`${s.files} files: ${s.stored} stored, ${s.duplicates} duplicates, ${s.rejected.length} rejected`];
  for (const r of s.rejected) lines.push(`  rejected ${r.file}: ${r.reason}`);
  return lines.join('\n');
}
