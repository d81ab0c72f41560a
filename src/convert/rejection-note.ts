/**
 * An IOCM rejection note (PS3.3 A.35.4 Key Object Selection Document, TID 2010), as dcm4chee
 * writes one: a KO series of its own in the rejected instances' study, whose document title
 * (ConceptNameCodeSequence) is the rejection code of PS3.16 CID 7011 and whose content and
 * evidence reference every rejected instance.
 *
 * A builder that refuses bad input (the highdicom idea): a code outside the table, no
 * instances, an instance of another series or a UID that is not one, and no note is made. It
 * holds nothing but the pseudonymous patient and study attributes already stored (copied from
 * the series' stored metadata, a fixed list), the UIDs of what it references, the gateway as
 * equipment and the moment of the rejection.
 */
import type { Dataset } from '../dicom/dataset';
import type { DicomJson, JsonAttribute } from '../dicom/json';
import { fromDicomJson } from '../dicom/from-json';
import { isSafeUid, randomUid } from '../dicom/uid';
import { VeilgateError } from '../errors';
import sopClasses from '../dicom/standard/sop-classes.json';

export const KEY_OBJECT_SELECTION_STORAGE = '1.2.840.10008.5.1.4.1.1.88.59';

export interface RejectionCode {
  code: string;
  scheme: 'DCM';
  meaning: string;
}

/** The rejection reasons the gateway takes (PS3.16 CID 7011 Rejected for Quality Reasons and its siblings), by code. */
export const REJECTION_CODES: Readonly<Record<string, RejectionCode>> = Object.freeze({
  '113001': { code: '113001', scheme: 'DCM', meaning: 'Rejected for Quality Reasons' },
  '113037': { code: '113037', scheme: 'DCM', meaning: 'Rejected for Patient Safety Reasons' },
  '113039': { code: '113039', scheme: 'DCM', meaning: 'Data Retention Policy Expired' },
});

/** "113001^DCM" (the path segment OHIF sends, %5E decoded) as a rejection code; throws bad-request otherwise. */
export function parseRejectionCode(segment: string): RejectionCode {
  const m = /^([0-9A-Za-z.\-]{1,16})\^([0-9A-Za-z_.\-]{1,16})$/.exec(segment);
  const known = m && m[2] === 'DCM' ? REJECTION_CODES[m[1]] : undefined;
  if (!known) {
    const list = Object.values(REJECTION_CODES).map((c) => `${c.code}^${c.scheme}`).join(', ');
    throw new VeilgateError('bad-request', `the rejection code must be one of ${list} (code^scheme, the ^ sent as %5E)`);
  }
  return known;
}

/** Patient and study attributes the note carries over, from the stored (de-identified) metadata. */
const FROM_SOURCE = [
  '00080005', // SpecificCharacterSet (replaced by ISO_IR 192 below: values are Unicode here)
  '00080020', '00080030', '00080050', '00080090', '00081030', // StudyDate, StudyTime, Accession, Referring, StudyDescription
  '00100010', '00100020', '00100030', '00100040', // PatientName, PatientID, PatientBirthDate, PatientSex
  '00120062', '00120063', '00120064', // PatientIdentityRemoved, DeidentificationMethod (and its code sequence)
  '0020000D', '00200010', // StudyInstanceUID, StudyID
];

/** Type 2 attributes of the Patient and General Study modules: present, empty when the source lacks them. */
const TYPE2: [string, string][] = [
  ['00100010', 'PN'], ['00100020', 'LO'], ['00100030', 'DA'], ['00100040', 'CS'],
  ['00080020', 'DA'], ['00080030', 'TM'], ['00080050', 'SH'], ['00080090', 'PN'], ['00200010', 'SH'],
];

const sopClassNames = sopClasses as Record<string, string>;

export interface RejectionNoteInput {
  reason: RejectionCode;
  study: string;
  series: string;
  /** Every instance rejected, of that series. */
  instances: readonly { seriesUID: string; sopClassUID: string; sopInstanceUID: string }[];
  /** The stored metadata (PS3.18 JSON) of one of them: patient and study are copied from it. */
  sourceMetadata: DicomJson;
  /** When (default now): the note's content date and time. */
  at?: Date;
}

const ui = (v: string): JsonAttribute => ({ vr: 'UI', Value: [v] });
const code = (c: RejectionCode): DicomJson => ({ '00080100': { vr: 'SH', Value: [c.code] }, '00080102': { vr: 'SH', Value: [c.scheme] }, '00080104': { vr: 'LO', Value: [c.meaning] } });
const two = (n: number) => String(n).padStart(2, '0');

function checkUid(uid: unknown, what: string): string {
  if (typeof uid !== 'string' || !isSafeUid(uid)) throw new VeilgateError('cannot-understand', `${what} is not a UID`);
  return uid;
}

/** The rejection note as a data set, or a refusal. */
export function rejectionNote(input: RejectionNoteInput): Dataset {
  const reason = REJECTION_CODES[input.reason?.code];
  if (!reason || reason.scheme !== input.reason.scheme || reason.meaning !== input.reason.meaning) throw new VeilgateError('bad-request', 'the rejection code is not one of CID 7011 the gateway takes');
  const study = checkUid(input.study, 'the study');
  const series = checkUid(input.series, 'the series');
  if (!input.instances.length) throw new VeilgateError('not-found', 'a rejection note references at least one instance');
  const seen = new Set<string>();
  const refs = input.instances.map((i, n) => {
    if (i.seriesUID !== series) throw new VeilgateError('cannot-understand', `instance ${n + 1} is not of the rejected series`);
    const sopClass = checkUid(i.sopClassUID, `the SOP class of instance ${n + 1}`);
    const sopInstance = checkUid(i.sopInstanceUID, `instance ${n + 1}`);
    if (seen.has(sopInstance)) throw new VeilgateError('cannot-understand', `instance ${n + 1} is listed twice`);
    seen.add(sopInstance);
    return { '00081150': ui(sopClass), '00081155': ui(sopInstance) };
  });
  const src = input.sourceMetadata;
  if (src?.['0020000D']?.Value?.[0] !== study) throw new VeilgateError('cannot-understand', 'the source metadata is not of the rejected study');

  const json: DicomJson = {};
  for (const t of FROM_SOURCE) if (src[t]) json[t] = src[t];
  for (const [t, vr] of TYPE2) if (!json[t]) json[t] = { vr };
  const at = input.at ?? new Date();
  const date = `${at.getFullYear()}${two(at.getMonth() + 1)}${two(at.getDate())}`;
  const time = `${two(at.getHours())}${two(at.getMinutes())}${two(at.getSeconds())}`;
  const valueType = (sopClass: string) => (/Image Storage/.test(sopClassNames[sopClass] ?? '') ? 'IMAGE' : 'COMPOSITE');
  Object.assign(json, {
    '00080005': { vr: 'CS', Value: ['ISO_IR 192'] },
    // SOP Common
    '00080016': ui(KEY_OBJECT_SELECTION_STORAGE),
    '00080018': ui(randomUid()),
    // Key Object Document Series
    '00080060': { vr: 'CS', Value: ['KO'] },
    '0008103E': { vr: 'LO', Value: [`Rejection note: ${reason.meaning}`.slice(0, 64)] },
    '0020000E': ui(randomUid()),
    '00200011': { vr: 'IS', Value: [9999] },
    '00081111': { vr: 'SQ', Value: [] }, // ReferencedPerformedProcedureStepSequence (Type 2)
    // General Equipment
    '00080070': { vr: 'LO', Value: ['Veilgate'] },
    '00081090': { vr: 'LO', Value: ['Veilgate gateway'] },
    // Key Object Document
    '00200013': { vr: 'IS', Value: [1] },
    '00080023': { vr: 'DA', Value: [date] },
    '00080033': { vr: 'TM', Value: [time] },
    '0040A375': {
      vr: 'SQ',
      Value: [{ '0020000D': ui(study), '00081115': { vr: 'SQ', Value: [{ '0020000E': ui(series), '00081199': { vr: 'SQ', Value: refs } }] } }],
    },
    // SR Document Content: the root container, titled by the rejection code (TID 2010).
    '0040A040': { vr: 'CS', Value: ['CONTAINER'] },
    '0040A043': { vr: 'SQ', Value: [code(reason)] },
    '0040A050': { vr: 'CS', Value: ['SEPARATE'] },
    '0040A504': { vr: 'SQ', Value: [{ '00080105': { vr: 'CS', Value: ['DCMR'] }, '0040DB00': { vr: 'CS', Value: ['2010'] } }] },
    '0040A730': {
      vr: 'SQ',
      Value: input.instances.map((i, n) => ({
        '0040A010': { vr: 'CS', Value: ['CONTAINS'] },
        '0040A040': { vr: 'CS', Value: [valueType(i.sopClassUID)] },
        '00081199': { vr: 'SQ', Value: [refs[n]] },
      })),
    },
  });
  return fromDicomJson(json);
}
