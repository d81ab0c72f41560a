/**
 * De-identification step of the ingest path. Placeholder: passes the data set through
 * unchanged until the PS3.15 Annex E profile lands; the ingest path already calls it
 * for every external source, before anything is written.
 */
import { Dataset } from '../dicom/dataset';

export interface DeidContext {
  /** Where the instance came from, for the audit trail (never PHI). */
  source: string;
}

export interface DeidResult {
  dataset: Dataset;
  /** Human-readable notes on what was changed beyond the profile (coercions). */
  warnings: string[];
}

export function deidentify(dataset: Dataset, _context: DeidContext): DeidResult {
  return { dataset, warnings: [] };
}
