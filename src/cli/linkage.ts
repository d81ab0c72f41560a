/**
 * `veilgate linkage export --csv [--out FILE]`: the old → new PatientID and UID mapping from the
 * linkage file (DEID_LINKAGE=true), as CSV for external scorers and authorised re-identification.
 * The export is written owner-readable only (0600), like the linkage file; nothing serves either
 * over HTTP.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Config } from '../config';
import { LINKAGE_FILE, csvField, linkageMappings } from '../deid/linkage';
import os from 'node:os';
import { pathToFileURL } from 'node:url';
import { openGatewayAudit } from '../audit/gateway-audit';
import { writeAllSync } from '../store/write-fully';

export interface LinkageExportArgs {
  out?: string;
}

export function parseLinkageArgs(args: string[]): LinkageExportArgs {
  const [verb, ...rest] = args;
  if (verb !== 'export') throw new Error('usage: veilgate linkage export --csv [--out FILE]');
  const out: LinkageExportArgs = {};
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === '--csv') continue;
    if (rest[i] === '--out' && rest[i + 1]) out.out = rest[++i];
    else throw new Error(`unknown option "${rest[i]}": usage: veilgate linkage export --csv [--out FILE]`);
  }
  return out;
}

/** Writes the CSV, audits it as a Data Export, and returns where it went and how many mappings it holds. */
export async function exportLinkage(args: LinkageExportArgs, config: Config): Promise<{ file: string; rows: number }> {
  const source = path.join(config.dataDir, LINKAGE_FILE);
  if (!fs.existsSync(source)) {
    throw new Error(`no linkage file at ${source}: linkage is off (set DEID_LINKAGE=true before ingest to keep one)`);
  }
  const target = args.out ?? path.join(config.dataDir, 'linkage', `linkage-export-${new Date().toISOString().replace(/[:.]/g, '-')}.csv`);
  // Created 0600 before any byte is written; an existing file is refused rather than widened.
  const fd = fs.openSync(target, 'wx', 0o600);
  let rows = 0;
  const patients = new Set<string>();
  try {
    writeAllSync(fd, Buffer.from('kind,original,pseudonym\n'));
    for (const row of linkageMappings(fs.readFileSync(source, 'utf8').split('\n'))) {
      writeAllSync(fd, Buffer.from(`${row.kind},${csvField(row.original)},${csvField(row.pseudonym)}\n`));
      if (row.kind === 'PatientID' && row.pseudonym) patients.add(row.pseudonym);
      rows++;
    }
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  // The export itself is audited: by whom (the local user), where to, and whose mappings (by pseudonym).
  const audit = openGatewayAudit(config.audit, config.dataDir, config.dimse.aeTitle);
  audit.linkageExported(os.userInfo().username, os.hostname(), pathToFileURL(path.resolve(target)).href, [...patients]);
  await audit.close();
  return { file: target, rows };
}
