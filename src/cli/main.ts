#!/usr/bin/env node
/** The veilgate command line: `veilgate import <folder>` (also `npm run import -- <folder>`). */
import { loadConfig } from '../config';
import { formatSummary, importFolder } from './import';

const USAGE = `usage: veilgate import <folder>

Imports every DICOM file under <folder> into the gateway's data directory (DATA_DIR,
default ./data) through the same ingest path as STOW-RS. Run it while the server is
stopped or running: SQLite and the file store are safe for both.`;

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  if (command === 'import' && args.length === 1) {
    const summary = await importFolder(args[0], loadConfig(), { progress: process.stderr.isTTY });
    console.log(formatSummary(summary));
    return summary.rejected.length ? 2 : 0;
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
