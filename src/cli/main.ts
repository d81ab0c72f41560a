#!/usr/bin/env node
/** The veilgate command line: `veilgate import <folder>` (also `npm run import -- <folder>`). */
import { loadConfig } from '../config';
import { formatSummary, importFolder } from './import';
import { parseJobArgs, runJobCommand } from './job';
import { exportLinkage, parseLinkageArgs } from './linkage';

const USAGE = `usage: veilgate import <folder>
       veilgate job <op> --study UID --series UID [--params JSON]
       veilgate linkage export --csv [--out FILE]

import: every DICOM file under <folder> goes into the gateway's data directory (DATA_DIR,
default ./data) through the same ingest path as STOW-RS.
job: runs a processing operation (resample, normalize, denoise, segment, model) on a stored
series and publishes its result in the same study, as POST /api/jobs does.
Both work while the server is stopped or running: SQLite and the file store are safe for both.
linkage export: the original → pseudonymous PatientID and UID mapping from the linkage file
(DEID_LINKAGE=true) as CSV, written with mode 0600 (default DATA_DIR/linkage/linkage-export-*.csv).`;

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  if (command === 'import' && args.length === 1) {
    const summary = await importFolder(args[0], loadConfig(), { progress: process.stderr.isTTY });
    console.log(formatSummary(summary));
    return summary.rejected.length ? 2 : 0;
  }
  if (command === 'job') {
    const job = await runJobCommand(parseJobArgs(args), loadConfig(), { progress: process.stderr.isTTY });
    console.log(JSON.stringify({ id: job.id, state: job.state, error: job.error, result: job.result }, null, 2));
    return job.state === 'done' ? 0 : 1;
  }
  if (command === 'linkage') {
    const { file, rows } = exportLinkage(parseLinkageArgs(args), loadConfig());
    console.log(`${rows} mappings written to ${file} (mode 0600)`);
    return 0;
  }
  console.error(USAGE);
  return 64;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    console.error(`veilgate: ${(e as Error).message}`);
    process.exit(1);
  },
);
