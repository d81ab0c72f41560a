/**
 * The attributes of each query level: which can be matched (and how), and which are
 * returned by default (PS3.18 Table 10.6.1-5 and 10.6.3-3..5). QIDO-RS and C-FIND
 * both read this table.
 */
import { tagFor } from '../dicom/dictionary';
import { tagHex } from '../dicom/dataset';

export type Level = 'study' | 'series' | 'instance';

export type MatchType = 'uid' | 'string' | 'pn' | 'date' | 'time' | 'integer' | 'modalities';

export interface MatchKey {
  keyword: string;
  /** Hex tag of the attribute (for a sequence key, of the nested attribute). */
  tag: string;
  level: Level;
  type: MatchType;
}

export const MATCH_KEYS: MatchKey[] = [
  { keyword: 'StudyInstanceUID', tag: '0020000D', level: 'study', type: 'uid' },
  { keyword: 'StudyDate', tag: '00080020', level: 'study', type: 'date' },
  { keyword: 'StudyTime', tag: '00080030', level: 'study', type: 'time' },
  { keyword: 'AccessionNumber', tag: '00080050', level: 'study', type: 'string' },
  { keyword: 'ModalitiesInStudy', tag: '00080061', level: 'study', type: 'modalities' },
  { keyword: 'ReferringPhysicianName', tag: '00080090', level: 'study', type: 'pn' },
  { keyword: 'StudyDescription', tag: '00081030', level: 'study', type: 'string' },
  { keyword: 'PatientName', tag: '00100010', level: 'study', type: 'pn' },
  { keyword: 'PatientID', tag: '00100020', level: 'study', type: 'string' },
  { keyword: 'PatientBirthDate', tag: '00100030', level: 'study', type: 'date' },
  { keyword: 'PatientSex', tag: '00100040', level: 'study', type: 'string' },
  { keyword: 'StudyID', tag: '00200010', level: 'study', type: 'string' },
  { keyword: 'SeriesInstanceUID', tag: '0020000E', level: 'series', type: 'uid' },
  { keyword: 'Modality', tag: '00080060', level: 'series', type: 'string' },
  { keyword: 'SeriesNumber', tag: '00200011', level: 'series', type: 'integer' },
  { keyword: 'SeriesDescription', tag: '0008103E', level: 'series', type: 'string' },
  { keyword: 'PerformedProcedureStepStartDate', tag: '00400244', level: 'series', type: 'date' },
  { keyword: 'PerformedProcedureStepStartTime', tag: '00400245', level: 'series', type: 'time' },
  { keyword: 'RequestAttributesSequence.ScheduledProcedureStepID', tag: '00400009', level: 'series', type: 'string' },
  { keyword: 'RequestAttributesSequence.RequestedProcedureID', tag: '00401001', level: 'series', type: 'string' },
  { keyword: 'SOPInstanceUID', tag: '00080018', level: 'instance', type: 'uid' },
  { keyword: 'SOPClassUID', tag: '00080016', level: 'instance', type: 'uid' },
  { keyword: 'InstanceNumber', tag: '00200013', level: 'instance', type: 'integer' },
];

/** Attributes returned by default at each level, and stored per level at ingest. */
export const LEVEL_TAGS: Record<Level, string[]> = {
  study: [
    '00080020', '00080030', '00080050', '00080056', '00080090', '00081030', '00080201',
    '00100010', '00100020', '00100021', '00100030', '00100040', '00101010', '00101020', '00101030',
    '0020000D', '00200010', '00120062', '00120063', '00280303',
  ],
  series: [
    '0020000D', '00080021', '00080031', '00080060', '0008103E', '00081090', '00180015', '0020000E', '00200011',
    '00200052', '00400244', '00400245', '00400275', '00080070',
  ],
  instance: [
    '0020000D', '0020000E', '00080008', '00080016', '00080018', '00080022', '00080023', '00080032', '00080033', '00200013',
    '00280002', '00280004', '00280008', '00280010', '00280011', '00280100', '00280101', '00280103',
    '00200032', '00200037', '00280030', '00180050', '00281050', '00281051', '00281052', '00281053',
  ],
};

/** Match keys by keyword, by hex tag and by dotted tag path ("00400275.00400009"), case-insensitive. */
const keyByName = new Map<string, MatchKey>();
for (const k of MATCH_KEYS) {
  keyByName.set(k.keyword.toLowerCase(), k);
  const hexPath = k.keyword
    .split('.')
    .map((kw) => {
      const t = tagFor(kw);
      return t === undefined ? kw : tagHex(t);
    })
    .join('.');
  keyByName.set(hexPath.toLowerCase(), k);
}

export function matchKeyByName(name: string): MatchKey | undefined {
  return keyByName.get(name.trim().toLowerCase());
}

export const LEVEL_ORDER: Record<Level, number> = { study: 0, series: 1, instance: 2 };
