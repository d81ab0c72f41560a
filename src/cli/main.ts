#!/usr/bin/env node
/** The veilgate command line: `veilgate import <folder>` (also `npm run import -- <folder>`). */
import '../threadpool';
import { loadConfig } from '../config';
import { formatSummary, importFolder } from './import';
import { parseJobArgs, runJobCommand } from './job';
import { exportLinkage, parseLinkageArgs } from './linkage';
import { runKeysCommand } from './keys';
import { parseExportArgs, runExportCommand } from './export';

const USAGE = `usage: veilgate import <folder> [--project NAME]
       veilgate job <op> --study UID --series UID [--params JSON]
       veilgate linkage export --csv [--out FILE]
       veilgate export (--query 'Modality=CT' | --studies FILE | --project NAME) [--format zip|tar] [--dicom] --out FILE
       veilgate keys add NAME --roles ROLE[,ROLE] --projects PROJECT[,PROJECT]
       veilgate keys list | veilgate keys revoke NAME

import: every DICOM file under <folder> goes into the gateway's data directory (DATA_DIR,
default ./data) through the same ingest path as STOW-RS.
job: runs a processing operation (resample, normalize, denoise, segment, model) on a stored
series and publishes its result in the same study, as POST /api/jobs does.
Both work while the server is stopped or running: SQLite and the file store are safe for both.
linkage export: the original → pseudonymous PatientID and UID mapping from the linkage file
(DEID_LINKAGE=true) as CSV, written with mode 0600 (default DATA_DIR/linkage/linkage-export-*.csv).
export: an export bundle (per series image.nii.gz, image.json, labels of SEGs, optionally
dicom/*.dcm; manifest.csv, manifest.json, DEIDENTIFICATION.md), as POST /api/exports makes.
keys: API keys for AUTH=keys. Roles: ingest (STOW, C-STORE), read (QIDO, WADO, NIfTI, viewer,
C-FIND/MOVE/GET), process (jobs), admin. Projects: the studies the key may see and add to ("*":
all). The key is printed once; only its hash is kept.`;

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  if (command === 'import' && (args.length === 1 || (args.length === 3 && args[1] === '--project'))) {
    const summary = await importFolder(args[0], loadConfig(), { progress: process.stderr.isTTY, project: args[2] });
    console.log(formatSummary(summary));
    return summary.rejected.length ? 2 : 0;
  }
  if (command === 'job') {
    const job = await runJobCommand(parseJobArgs(args), loadConfig(), { progress: process.stderr.isTTY });
    console.log(JSON.stringify({ id: job.id, state: job.state, error: job.error, result: job.result }, null, 2));
    return job.state === 'done' ? 0 : 1;
  }
  if (command === 'export') {
    const made = await runExportCommand(parseExportArgs(args), loadConfig(), { progress: process.stderr.isTTY });
    console.log(JSON.stringify({ out: made.out, series: made.series, files: made.files, bytes: made.bytes, sha256: made.sha256, skipped: made.skipped }, null, 2));
    return 0;
  }
  if (command === 'keys') return runKeysCommand(args, loadConfig(), (line) => console.log(line));
  if (command === 'linkage') {
    const { file, rows } = await exportLinkage(parseLinkageArgs(args), loadConfig());
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
