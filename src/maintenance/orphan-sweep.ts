/**
 * Ingest writes the file, then the index rows: a crash between the two leaves a file that no
 * row refers to. At start-up those files (older than the start, so never an ingest in flight)
 * are moved out of the store into DATA_DIR/orphans for an administrator, not deleted: the
 * sender was never told they were stored and will send them again.
 */
import { Index } from '../index/index';
import { BlobStore } from '../store/blob-store';

export interface SweepResult {
  checked: number;
  quarantined: number;
}

export async function sweepOrphans(index: Index, store: BlobStore, startedBefore: number, stopped: () => boolean = () => false): Promise<SweepResult> {
  const result: SweepResult = { checked: 0, quarantined: 0 };
  for await (const blob of store.list()) {
    if (stopped()) break;
    result.checked++;
    if (blob.modified >= startedBefore || (await index.hasBlob(blob.key))) continue;
    await store.quarantine(blob.key);
    result.quarantined++;
  }
  return result;
}
