/**
 * The QIDO-RS searches the scale benchmarks time (core.ts, scale-out.ts), built from studies the
 * fill stored, so every backend and every run is asked the same kinds of question.
 */
import { percentile } from './util';
import { JSON_GZIP, p50p95, timeGets } from './http-timing';

/** A study the fill stored, as ingest returned it (de-identified UIDs and Patient ID). */
export interface StoredStudy {
  studyUID: string;
  seriesUID: string;
  patientID: string;
}

/** "vg-x": the first characters of a pseudonym, about 1/32 of them. */
export const pseudonymPrefix = (stored: StoredStudy[]) => stored[7].patientID.slice(0, 4).toLowerCase();

/** Study-level searches over an index of `studies` studies. */
export function studyQueries(stored: StoredStudy[], studies: number): string[] {
  const someone = stored[7];
  const prefix = pseudonymPrefix(stored);
  return [
    '/studies?limit=25',
    `/studies?PatientID=${someone.patientID}`,
    '/studies?PatientName=name5*&limit=25',
    `/studies?PatientName=${prefix}*&limit=25`,
    `/studies?PatientName=${someone.patientID.slice(0, 6).toLowerCase()}*&limit=25`,
    '/studies?StudyDate=20220101-20220131&limit=100',
    `/studies?PatientName=${someone.patientID.slice(0, 5).toLowerCase()}&fuzzymatching=true&limit=25`,
    '/studies?ModalitiesInStudy=CT&limit=25',
    `/studies?limit=25&offset=${Math.floor(studies / 2)}`,
  ];
}

/** The study searches and the series- and instance-level ones, for an index of many instances per study. */
export function instanceQueries(stored: StoredStudy[], studies: number): string[] {
  const someone = stored[7];
  const prefix = pseudonymPrefix(stored);
  const s = stored[3];
  return [
    ...studyQueries(stored, studies),
    `/series?PatientName=${prefix}*&limit=25`,
    '/series?StudyDate=20220101-20220131&limit=100',
    '/series?Modality=CT&limit=25',
    '/instances?limit=25',
    `/instances?PatientID=${someone.patientID}`,
    `/instances?PatientName=${prefix}*&limit=25`,
    '/instances?StudyDate=20220101-20220131&limit=100',
    `/studies/${s.studyUID}/series`,
    `/studies/${s.studyUID}/series/${s.seriesUID}/instances`,
  ];
}

/** Each search `requests` times in turn over HTTP, printed; whether every p95 met the goal, the worst p95 and each. */
export async function timeQueries(url: string, paths: string[], goalMs: number, requests: number): Promise<{ met: boolean; worstP95: number; p95s: number[] }> {
  let met = true;
  let worstP95 = 0;
  const p95s: number[] = [];
  for (const p of paths) {
    const { times, body } = await timeGets(url + p, JSON_GZIP, requests);
    const p95 = percentile(times, 0.95);
    met &&= p95 < goalMs;
    worstP95 = Math.max(worstP95, p95);
    p95s.push(p95);
    console.log(`  qido ${p}: ${requests} requests, ${p50p95(times)}, ${JSON.parse(body).length} results${p95 < goalMs ? '' : `  [over the ${goalMs} ms goal]`}`);
  }
  return { met, worstP95, p95s };
}
