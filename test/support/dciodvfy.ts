/**
 * dicom3tools' dciodvfy as a test oracle: IOD conformance of a stored copy against its
 * original, counting only errors the copy has that the original does not.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { promisify } from 'node:util';

export const DCIODVFY = '/usr/bin/dciodvfy'; // Debian dicom3tools
const DCMCONV = '/usr/bin/dcmconv';

export interface Verification {
  /** Normalised lines starting with "Error". */
  errors: string[];
  /** Killed by a signal or the timeout: dciodvfy did not finish. */
  aborted?: string;
  /** dciodvfy could not read the whole data set, so it did not check all of it. */
  incomplete: boolean;
}

/**
 * A dciodvfy line with its value-dependent parts taken out, so that one problem looks the
 * same before and after de-identification has replaced UIDs, dates and names: the displayed
 * value ("UI [1] = <1.2.3>"), quoted values ("Illegal root for UID - \"9.8.7.6\""), the
 * offending character ("= '.' (0x2e)") and a UID at the end of the line
 * ("ReferencedSOPInstanceUID 1.2.3", "FrameOfReferenceUID <1.2.3>"). Attribute and module
 * names in angle brackets, enumerated values and counts stay.
 */
export function normaliseDciodvfy(line: string): string {
  return line
    .replace(/ = <[^>]*>/g, ' = <…>')
    .replace(/"[^"]*"/g, '"…"')
    .replace(/ = '[^']*' \(0x[0-9a-f]+\)/gi, " = '…'")
    .replace(/(UID) (<[^>]*>|\S+)$/, '$1 …')
    .trimEnd();
}

export async function dciodvfy(file: string): Promise<Verification> {
  const run = promisify(execFile);
  let out = '';
  let aborted: string | undefined;
  try {
    const r = await run(DCIODVFY, [file], { timeout: 60_000, maxBuffer: 256 * 1024 * 1024 });
    out = r.stderr + '\n' + r.stdout;
  } catch (e) {
    // Exit status 1 is how dciodvfy says it found errors; a signal or the timeout is not.
    const err = e as { code?: number | string; signal?: string; killed?: boolean; stdout?: string; stderr?: string };
    if (err.signal || err.killed || typeof err.code !== 'number') aborted = `dciodvfy did not finish (${err.signal ?? err.code})`;
    out = (err.stderr ?? '') + '\n' + (err.stdout ?? '');
  }
  const errors = out.split('\n').filter((l) => l.startsWith('Error')).map(normaliseDciodvfy);
  return { errors, aborted, incomplete: !!aborted || /read failed/.test(out) };
}

/**
 * The original's errors, the baseline. dciodvfy cannot read some originals to the end
 * (deflated, odd lengths, ...) and then checks only part of them, while it reads the stored
 * copy whole: for those, dcmtk's own conversion of the original to Explicit VR Little Endian
 * (dcmconv +te, no de-identification) is verified too, and a line counts as the original's if
 * either run has it (as many times as the run that has it most).
 */
export async function baselineOf(original: string, scratch: string): Promise<Verification & { converted?: boolean }> {
  const direct = await dciodvfy(original);
  if (!direct.incomplete) return direct;
  try {
    await promisify(execFile)(DCMCONV, ['+te', original, scratch]);
  } catch {
    return direct; // dcmtk cannot read it either
  }
  try {
    const converted = await dciodvfy(scratch);
    const count = (list: string[]) => list.reduce((m, l) => m.set(l, (m.get(l) ?? 0) + 1), new Map<string, number>());
    const [a, b] = [count(direct.errors), count(converted.errors)];
    const errors = [...new Set([...a.keys(), ...b.keys()])].flatMap((l) => Array(Math.max(a.get(l) ?? 0, b.get(l) ?? 0)).fill(l));
    return { errors, aborted: direct.aborted && converted.aborted, incomplete: converted.incomplete, converted: true };
  } finally {
    fs.rmSync(scratch, { force: true });
  }
}

/** Lines of `after` that `before` does not have, as many times as they are extra. */
export function newLines(before: string[], after: string[]): string[] {
  const left = new Map<string, number>();
  for (const l of before) left.set(l, (left.get(l) ?? 0) + 1);
  const out: string[] = [];
  for (const l of after) {
    const n = left.get(l) ?? 0;
    if (n > 0) left.set(l, n - 1);
    else out.push(l);
  }
  return out;
}

