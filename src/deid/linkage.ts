/**
 * The optional linkage file: original patient and study identifiers next to their
 * pseudonyms, for authorised re-identification. Off by default, kept apart from the index,
 * owner-readable only, and never served over HTTP.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Linkage } from './deidentify';

export class LinkageFile {
  private readonly seen = new Set<string>();

  constructor(private readonly file: string) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
  }

  /** One line per study (the first instance of it seen by this process). */
  record(l: Linkage): void {
    if (this.seen.has(l.studyUID)) return;
    this.seen.add(l.studyUID);
    const line = JSON.stringify({ time: new Date().toISOString(), ...l }) + '\n';
    fs.appendFileSync(this.file, line, { mode: 0o600 });
  }
}
