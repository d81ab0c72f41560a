/**
 * Counting what one request or association moved, for the transfer messages: a Transferred or
 * Begin Transferring message names a single patient (PS3.15 A.5.3.3, A.5.3.7), so the
 * instances are grouped by patient, then study, then SOP class, in the order first seen.
 */
import type { StudyInput } from './messages';

export interface TalliedInstance {
  /** The pseudonymous Patient ID the instance was stored under. */
  patient: string;
  study: string;
  sopClassUid: string;
}

export class TransferTally {
  private readonly byPatient = new Map<string, Map<string, Map<string, number>>>();

  add(i: TalliedInstance): void {
    let studies = this.byPatient.get(i.patient);
    if (!studies) this.byPatient.set(i.patient, (studies = new Map()));
    let classes = studies.get(i.study);
    if (!classes) studies.set(i.study, (classes = new Map()));
    classes.set(i.sopClassUid, (classes.get(i.sopClassUid) ?? 0) + 1);
  }

  get size(): number {
    let n = 0;
    for (const studies of this.byPatient.values()) for (const classes of studies.values()) for (const c of classes.values()) n += c;
    return n;
  }

  /** One entry per patient: the patient and its studies, ready for the transfer builders. */
  groups(): Array<{ patient: string; studies: StudyInput[] }> {
    return [...this.byPatient].map(([patient, studies]) => ({
      patient,
      studies: [...studies].map(([study, classes]) => ({
        study,
        sopClasses: [...classes].map(([sopClassUid, count]) => ({ sopClassUid, count })),
      })),
    }));
  }
}
