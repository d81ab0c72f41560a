/**
 * `veilgate export [--query 'Modality=CT'] [--level study|series] [--studies FILE] [--project NAME]
 * [--format zip|tar] [--dicom] --out bundle.zip`: an export bundle written straight to a file,
 * with a progress bar (one step per series). The same bundle as POST /api/exports makes; it
 * works with the server stopped or running (SQLite and the file store are safe for both), and
 * is written as <out>.part, renamed when whole.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { SingleBar, Presets } from 'cli-progress';
import type { Config } from '../config';
import { openCore } from '../core/core';
import { setLogSink } from '../log';
import { AccessView } from '../index/access-view';
import { LOCAL_PRINCIPAL } from '../auth/principal';
import { parseStudyCsv, selectionSummary } from '../egress/selection';
import { ExportSelection, exportSelectionOf, parseQueryString, planExport } from '../export/selection';
import { BundleFormat, BundleResult, writeBundle } from '../export/bundle';

export interface ExportArgs {
  selection: ExportSelection;
  format: BundleFormat;
  includeDicom: boolean;
  out: string;
}

const USAGE = "usage: veilgate export (--query 'Modality=CT' [--level series|study] | --studies FILE | --project NAME) [--format zip|tar] [--dicom] --out FILE";

export function parseExportArgs(args: string[]): ExportArgs {
  const opts: Record<string, string> = {};
  let includeDicom = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--dicom') {
      includeDicom = true;
      continue;
    }
    if (!a.startsWith('--') || args[i + 1] === undefined) throw new Error(`${USAGE}\n(unexpected "${a}")`);
    opts[a.slice(2)] = args[++i];
  }
  for (const k of Object.keys(opts)) if (!['query', 'level', 'studies', 'project', 'format', 'out'].includes(k)) throw new Error(`${USAGE}\n(unknown option --${k})`);
  if (!opts.out) throw new Error(USAGE);
  const format = (opts.format ?? (opts.out.endsWith('.tar') ? 'tar' : 'zip')) as BundleFormat;
  if (format !== 'zip' && format !== 'tar') throw new Error('--format must be zip or tar');
  const body: Record<string, unknown> = {};
  if (opts.query !== undefined) {
    body.query = parseQueryString(opts.query);
    if (opts.level) body.level = opts.level;
  }
  if (opts.studies !== undefined) body.studies = parseStudyCsv(fs.readFileSync(opts.studies, 'utf8'));
  if (opts.project !== undefined) body.project = opts.project;
  return { selection: exportSelectionOf(body), format, includeDicom, out: path.resolve(opts.out) };
}

export async function runExportCommand(a: ExportArgs, config: Config, options: { progress?: boolean } = {}): Promise<BundleResult & { series: number; out: string }> {
  const core = await openCore(config);
  setLogSink(() => undefined);
  const bar = options.progress ? new SingleBar({ format: 'export [{bar}] {value}/{total} series', hideCursor: true }, Presets.shades_classic) : undefined;
  const part = `${a.out}.${process.pid}.part`;
  try {
    // The local user, as with auth off: every project.
    const view = new AccessView(core.index, LOCAL_PRINCIPAL);
    const plan = await planExport(view, core.index, a.selection, { qidoMaxLimit: config.qidoMaxLimit });
    const s = a.selection;
    const request = s.kind === 'project' ? { project: s.project } : selectionSummary(s);
    bar?.start(plan.length, 0);
    const result = await writeBundle(
      { view, store: core.store, workers: core.workers, config },
      plan,
      { id: randomUUID(), format: a.format, includeDicom: a.includeDicom, created: new Date(), request, onProgress: (done) => bar?.update(done) },
      part,
    );
    fs.renameSync(part, a.out);
    return { ...result, series: plan.length, out: a.out };
  } finally {
    fs.rmSync(part, { force: true });
    bar?.stop();
    await core.close();
  }
}
