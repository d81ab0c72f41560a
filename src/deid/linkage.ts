/**
 * The optional linkage file: original identifiers next to their pseudonyms, for authorised
 * re-identification and for external scorers. Off by default, kept apart from the index,
 * owner-readable only, and never served over HTTP. One JSON line per stored instance.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Linkage } from './deidentify';
import { writeAllSync } from '../store/write-fully';

export const LINKAGE_FILE = path.join('linkage', 'linkage.jsonl');

export class LinkageFile {
  constructor(private readonly file: string) {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  }

  /**
   * Appends one whole line or nothing: a write cut short (a full disk) is taken back, so the
   * next line does not start inside a torn one and make the file unreadable from there on.
   */
  record(l: Linkage): void {
    const line = Buffer.from(JSON.stringify({ time: new Date().toISOString(), ...l }) + '\n', 'utf8');
    const fd = fs.openSync(this.file, 'a', 0o600);
    try {
      const before = fs.fstatSync(fd).size;
      try {
        writeAllSync(fd, line);
      } catch (e) {
        fs.ftruncateSync(fd, before);
        throw e;
      }
    } finally {
      fs.closeSync(fd);
    }
  }
}

export interface MappingRow {
  kind: 'PatientID' | 'StudyInstanceUID' | 'SeriesInstanceUID' | 'SOPInstanceUID';
  original: string;
  pseudonym: string;
}

/** The old → new mapping the linkage file holds, one row per identifier (each once). */
export function* linkageMappings(lines: Iterable<string>): Generator<MappingRow> {
  const seen = new Set<string>();
  const emit = function* (row: MappingRow) {
    const key = `${row.kind}|${row.original}|${row.pseudonym}`;
    if (!row.original || seen.has(key)) return;
    seen.add(key);
    yield row;
  };
  for (const line of lines) {
    if (!line.trim()) continue;
    const l = JSON.parse(line) as Partial<Linkage>;
    const patient = l.issuerOfPatientID ? `${l.issuerOfPatientID}/${l.patientID ?? ''}` : (l.patientID ?? '');
    yield* emit({ kind: 'PatientID', original: patient, pseudonym: l.pseudonym ?? '' });
    yield* emit({ kind: 'StudyInstanceUID', original: l.originalStudyUID ?? '', pseudonym: l.studyUID ?? '' });
    yield* emit({ kind: 'SeriesInstanceUID', original: l.originalSeriesUID ?? '', pseudonym: l.seriesUID ?? '' });
    yield* emit({ kind: 'SOPInstanceUID', original: l.originalSOPInstanceUID ?? '', pseudonym: l.sopInstanceUID ?? '' });
  }
}

/** RFC 4180 quoting. */
export function csvField(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}
