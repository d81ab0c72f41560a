/**
 * The stored instances, matched to the corpus: each file under DATA_DIR/files is parsed and
 * known by its SOP Instance UID, and a corpus instance finds its file by the pseudonymous
 * UID the gateway should have given it (or by its original UID, when UIDs were retained).
 */
import { Dataset } from '../../src/dicom/dataset';
import { parsePart10, readUidValue } from '../../src/dicom/parse';
import { CorpusInstance, ObjectKind } from '../../src/synthetic/deid-corpus';
import { pseudonymousUid } from './uid-map';

export interface StoredInstance {
  file: string;
  dataset: Dataset;
  /** File meta information (group 0002). */
  meta: Dataset;
}

export function parseStoredFiles(files: { name: string; bytes: Buffer }[]): Map<string, StoredInstance> {
  const bySop = new Map<string, StoredInstance>();
  for (const f of files) {
    if (!f.name.startsWith('files') || !f.name.endsWith('.dcm')) continue;
    const { dataset, meta } = parsePart10(f.bytes);
    const sop = readUidValue(dataset.get(0x00080018));
    if (sop) bySop.set(sop, { file: f.name, dataset, meta });
  }
  return bySop;
}

export interface Matched {
  stored: Map<CorpusInstance, StoredInstance>;
  /** The stored SOP Instance UID of each matched corpus instance's file, to its object kind. */
  kindOfStoredSop: Map<string, ObjectKind>;
}

export function matchStored(corpus: CorpusInstance[], bySop: Map<string, StoredInstance>, secret: Buffer): Matched {
  const stored = new Map<CorpusInstance, StoredInstance>();
  const kindOfStoredSop = new Map<string, ObjectKind>();
  for (const c of corpus) {
    for (const sop of [pseudonymousUid(secret, c.sopInstanceUID), c.sopInstanceUID]) {
      const found = bySop.get(sop);
      if (!found) continue;
      stored.set(c, found);
      kindOfStoredSop.set(sop, c.kind);
      break;
    }
  }
  return { stored, kindOfStoredSop };
}
