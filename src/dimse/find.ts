/**
 * C-FIND (PS3.4 C.4.1) over the same query code as QIDO-RS: the identifier's keys with a
 * value become match conditions, every key becomes a return key, and each match is answered
 * with exactly the keys asked for.
 */
import { Level, matchKeyByName } from '../query/attributes';
import { Query } from '../query/query';
import { Constraint, parseConstraint } from '../query/constraints';
import { DicomJson, JsonAttribute } from '../dicom/json';
import { lookup, tagFor } from '../dicom/dictionary';
import { Dataset, tagHex } from '../dicom/dataset';
import { fromDicomJson } from '../dicom/from-json';
import { QueryMatch } from '../index/index';
import { VeilgateError } from '../errors';

const LEVELS: Record<string, Level> = { PATIENT: 'study', STUDY: 'study', SERIES: 'series', IMAGE: 'instance' };

/** Identifier keys that steer the query rather than match attributes. */
const CONTROL_KEYS = new Set(['QueryRetrieveLevel', 'SpecificCharacterSet', 'QueryRetrieveView', 'TimezoneOffsetFromUTC']);

function textOf(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (Array.isArray(value)) return value.map(textOf).join('\\');
  if (typeof value === 'object') return String((value as { Alphabetic?: string }).Alphabetic ?? '');
  return String(value);
}

export interface FindRequest {
  query: Query;
  /** Return keys, as hex tags in the identifier's order. */
  returnKeys: string[];
  /** Patient level (Patient Root): one answer per patient. */
  patientLevel: boolean;
  level: string;
}

export function findRequestFrom(identifier: Record<string, unknown>, limits: { maxLimit: number }): FindRequest {
  const levelName = String(identifier.QueryRetrieveLevel ?? '').trim().toUpperCase();
  const level = LEVELS[levelName];
  if (!level) throw new VeilgateError('bad-request', `QueryRetrieveLevel "${levelName}" is not PATIENT, STUDY, SERIES or IMAGE`);
  const constraints: Constraint[] = [];
  const returnKeys: string[] = [];
  for (const [keyword, value] of Object.entries(identifier)) {
    // Sequence keys (arrays of items) are not matched here.
    const isSequence = Array.isArray(value) && value.some((v) => typeof v === 'object' && v !== null && !('Alphabetic' in v));
    if (CONTROL_KEYS.has(keyword) || isSequence) continue;
    const t = tagFor(keyword);
    if (t === undefined) continue;
    returnKeys.push(tagHex(t));
    const text = textOf(value).trim();
    const key = matchKeyByName(keyword);
    // Keys the index cannot match on are still returned; DIMSE has no way to warn about them.
    const c = key && text ? parseConstraint(key, text, false) : undefined;
    if (c) constraints.push(c);
  }
  return {
    query: { level, scope: {}, constraints, includeFields: returnKeys, limit: limits.maxLimit, offset: 0 },
    returnKeys,
    patientLevel: levelName === 'PATIENT',
    level: levelName,
  };
}

/** One C-FIND answer as a data set: exactly the keys asked for, in UTF-8. */
export function findResponseDataset(match: QueryMatch, request: FindRequest, retrieveAeTitle: string): Dataset {
  const json: DicomJson = {};
  for (const tag of request.returnKeys) {
    const attr: JsonAttribute | undefined = match.json[tag];
    // Bulk data is not returned by a query; an absent attribute is returned empty.
    json[tag] = attr && attr.BulkDataURI === undefined && attr.InlineBinary === undefined ? attr : { vr: attr?.vr ?? vrOf(tag) };
  }
  json['00080052'] = { vr: 'CS', Value: [request.level] };
  json['00080005'] = { vr: 'CS', Value: ['ISO_IR 192'] };
  json['00080054'] = { vr: 'AE', Value: [retrieveAeTitle] };
  return fromDicomJson(json);
}

function vrOf(tag: string): string {
  return (lookup(parseInt(tag, 16) >>> 0)?.vr ?? 'UN').split('|')[0];
}
