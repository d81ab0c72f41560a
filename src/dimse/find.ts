/**
 * C-FIND (PS3.4 C.4.1) over the same query code as QIDO-RS: the identifier's keys with a
 * value become match conditions, every key becomes a return key, and each match is answered
 * with exactly the keys asked for.
 */
import dcmjs from 'dcmjs';
import { Level, matchKeyByName } from '../query/attributes';
import { Query, Condition } from '../query/query';
import { DicomJson, JsonAttribute } from '../dicom/json';
import { lookup, tagFor } from '../dicom/dictionary';
import { tagHex } from '../dicom/dataset';
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
  const conditions: Condition[] = [];
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
    if (key && text) conditions.push({ key, value: text });
  }
  return {
    query: { level, scope: {}, conditions, includeFields: returnKeys, limit: limits.maxLimit, offset: 0, fuzzy: false },
    returnKeys,
    patientLevel: levelName === 'PATIENT',
    level: levelName,
  };
}

/** The naturalized elements (dcmjs form) of one C-FIND answer. */
export function findResponseElements(match: QueryMatch, request: FindRequest, retrieveAeTitle: string): Record<string, unknown> {
  const json: DicomJson = {};
  for (const tag of request.returnKeys) {
    const attr: JsonAttribute | undefined = match.json[tag];
    // Bulk data is not returned by a query; an absent attribute is returned empty.
    json[tag] = attr && attr.BulkDataURI === undefined && attr.InlineBinary === undefined ? attr : { vr: attr?.vr ?? vrOf(tag) };
  }
  const elements = dcmjs.data.DicomMetaDictionary.naturalizeDataset(json) as Record<string, unknown>;
  delete elements._vrMap;
  elements.QueryRetrieveLevel = request.level;
  elements.SpecificCharacterSet = 'ISO_IR 192';
  elements.RetrieveAETitle = retrieveAeTitle;
  return elements;
}

function vrOf(tag: string): string {
  return (lookup(parseInt(tag, 16) >>> 0)?.vr ?? 'UN').split('|')[0];
}
