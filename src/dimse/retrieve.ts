/**
 * What C-MOVE and C-GET send (PS3.4 C.4.2, C.4.3): the stored instances an identifier names
 * (their index records: the bytes are read as each is sent, store-pipeline.ts). Instances are
 * found only through a ReadIndex (the association's AccessView), so what another project holds
 * is never named.
 */
import { ReadIndex, StoredInstance } from '../index/index';
import { isSafeUid } from '../dicom/uid';
import { keyQuery } from '../query/query';
import { VeilgateError } from '../errors';

function uidList(value: unknown): string[] {
  // Several UIDs arrive as a list (one value is unwrapped, like dcmjs's naturalized form).
  const list = (Array.isArray(value) ? value.map(String).join('\\') : String(value ?? ''))
    .split('\\')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const uid of list) if (!isSafeUid(uid)) throw new VeilgateError('bad-request', 'identifier holds a malformed UID');
  return list;
}

/** The stored instances an identifier asks for, at its QueryRetrieveLevel. */
export async function instancesToRetrieve(identifier: Record<string, unknown>, index: ReadIndex): Promise<StoredInstance[]> {
  const level = String(identifier.QueryRetrieveLevel ?? '').trim().toUpperCase();
  const studies = uidList(identifier.StudyInstanceUID);
  const series = uidList(identifier.SeriesInstanceUID);
  const sops = uidList(identifier.SOPInstanceUID);
  const found: StoredInstance[] = [];
  if (level === 'PATIENT') {
    const patientID = String(identifier.PatientID ?? '').trim();
    if (!patientID) throw new VeilgateError('bad-request', 'a PATIENT level retrieve needs a PatientID');
    const matches = await index.search(keyQuery('study', 'PatientID', patientID, 100000));
    for (const m of matches.rows) found.push(...(await index.instances({ study: m.studyUID })));
  } else if (level === 'STUDY') {
    if (!studies.length) throw new VeilgateError('bad-request', 'a STUDY level retrieve needs StudyInstanceUID');
    for (const study of studies) found.push(...(await index.instances({ study })));
  } else if (level === 'SERIES') {
    if (!series.length) throw new VeilgateError('bad-request', 'a SERIES level retrieve needs SeriesInstanceUID');
    for (const s of series) {
      const inSeries = studies.length
        ? (await Promise.all(studies.map((study) => index.instances({ study, series: s })))).flat()
        : await seriesInstances(index, s);
      found.push(...inSeries);
    }
  } else if (level === 'IMAGE') {
    if (!sops.length) throw new VeilgateError('bad-request', 'an IMAGE level retrieve needs SOPInstanceUID');
    for (const sop of sops) found.push(...(await instanceByUid(index, sop)));
  } else {
    throw new VeilgateError('bad-request', `QueryRetrieveLevel "${level}" is not PATIENT, STUDY, SERIES or IMAGE`);
  }
  return found;
}

/** Instances of a series found without its study (relational retrieve). */
async function seriesInstances(index: ReadIndex, series: string): Promise<StoredInstance[]> {
  const hit = await index.search(keyQuery('series', 'SeriesInstanceUID', series));
  return hit.rows.length ? index.instances({ study: hit.rows[0].studyUID, series }) : [];
}

/** An instance by its SOP Instance UID alone: a search finds its study and series, within what the reader may see. */
async function instanceByUid(index: ReadIndex, sop: string): Promise<StoredInstance[]> {
  const hit = await index.search(keyQuery('instance', 'SOPInstanceUID', sop));
  const m = hit.rows[0];
  return m?.seriesUID ? index.instances({ study: m.studyUID, series: m.seriesUID, instance: sop }) : [];
}
