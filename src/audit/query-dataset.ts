/**
 * The query a Query audit message records (PS3.15 A.5.3.10: ParticipantObjectQuery holds the
 * data set of the DICOM query, base64): here that data set carries the query's keys only, each
 * with an empty value, plus QueryRetrieveLevel. Values a user typed may be original PHI, so
 * none is ever taken: the builder is given attribute keywords (or hex tags, or dotted paths
 * into sequences), each checked against the data dictionary, so a value passed by mistake
 * where a keyword belongs is refused rather than recorded.
 */
import { Dataset, DataElement, Tag, tag, tagHex, groupOf } from '../dicom/dataset';
import { implicitVr, keywordOf, lookup, tagFor } from '../dicom/dictionary';
import { encodeText } from '../dicom/values';
import { writeDataset } from '../dicom/write';
import { AuditInputError } from './identifiers';

export type QueryLevel = 'PATIENT' | 'STUDY' | 'SERIES' | 'IMAGE';
export const QUERY_LEVELS: readonly QueryLevel[] = ['PATIENT', 'STUDY', 'SERIES', 'IMAGE'];

const QUERY_RETRIEVE_LEVEL = tag(0x0008, 0x0052);
const MAX_KEYS = 512;
const MAX_DEPTH = 8;

function segmentTag(segment: string): Tag | undefined {
  const t = tagFor(segment);
  if (t === undefined) return undefined;
  const g = groupOf(t);
  // Command, file meta and item/delimiter tags are never query keys.
  if (g === 0x0000 || g === 0x0002 || g === 0xfffe) return undefined;
  if (!/^[0-9A-Fa-f]{8}$/.test(segment)) return keywordOf(t) === segment ? t : undefined; // the dictionary's spelling
  // A hex tag: one the dictionary knows, or a private element or creator (odd group from 0009, element from 0010).
  // Eight digits that name nothing (a date, a number) are refused: a value passed as a key.
  if (lookup(t)) return t;
  if ((g & 1) === 1 && g > 0x0008 && (t & 0xffff) >= 0x0010) return t;
  return undefined;
}

/** The keys, checked and in canonical spelling (keyword, else hex tag; "." between levels). */
export function checkedQueryKeys(keys: readonly string[]): string[][] {
  if (!Array.isArray(keys)) throw new AuditInputError('query keys must be a list of attribute keywords');
  if (keys.length > MAX_KEYS) throw new AuditInputError(`a query audit records at most ${MAX_KEYS} keys`);
  const out: string[][] = [];
  keys.forEach((key, i) => {
    if (typeof key !== 'string' || key.length === 0 || key.length > 512) throw new AuditInputError(`query key ${i + 1} is not an attribute keyword`);
    const segments = key.split('.');
    if (segments.length > MAX_DEPTH) throw new AuditInputError(`query key ${i + 1} is nested too deep`);
    const path: string[] = [];
    segments.forEach((segment, depth) => {
      const t = segmentTag(segment);
      if (t === undefined) throw new AuditInputError(`query key ${i + 1} is not an attribute keyword or tag`);
      const isLast = depth === segments.length - 1;
      if (!isLast && lookup(t)?.vr !== 'SQ') throw new AuditInputError(`query key ${i + 1} nests into an attribute that is not a sequence`);
      path.push(keywordOf(t) ?? tagHex(t));
    });
    out.push(path);
  });
  return out;
}

function emptyElement(t: Tag): DataElement {
  const vr = implicitVr(t, undefined);
  return vr === 'SQ' ? { tag: t, vr, items: [] } : { tag: t, vr, value: new Uint8Array(0) };
}

/**
 * Explicit VR Little Endian bytes of the query's keys with empty values (sequence keys hold
 * one item with their nested keys), and QueryRetrieveLevel when a level is given.
 */
export function blankQueryDataset(level: QueryLevel | undefined, paths: readonly string[][]): Buffer {
  const root: Dataset = new Map();
  for (const path of paths) {
    let ds = root;
    path.forEach((segment, depth) => {
      const t = tagFor(segment) as Tag;
      let el = ds.get(t);
      if (!el) {
        el = emptyElement(t);
        ds.set(t, el);
      }
      if (depth < path.length - 1) {
        if (!el.items) el = Object.assign(el, { vr: 'SQ', value: undefined, items: [] as Dataset[] });
        if (el.items!.length === 0) el.items!.push(new Map());
        ds = el.items![0];
      }
    });
  }
  if (level) root.set(QUERY_RETRIEVE_LEVEL, { tag: QUERY_RETRIEVE_LEVEL, vr: 'CS', value: encodeText(level, 'CS') });
  const written = writeDataset(root, { explicit: true });
  return Buffer.concat(written.chunks);
}

