/**
 * A C-FIND/C-MOVE/C-GET identifier as the handlers read it: keyword → value, in the shape
 * dcmjs's naturalizeDataset gives (strings, numbers, PN as { Alphabetic }, sequences as arrays
 * of items, one value unwrapped, private and unknown tags by their hex), which find.ts and
 * retrieve.ts were written against. The gate parses
 * identifiers with our own bounded parser; dcmjs never parses them (its reader takes seconds
 * on a 1 MiB identifier nested 32 deep, ours tens of milliseconds).
 */
import { DataElement, Dataset, sortedElements, tagHex } from '../dicom/dataset';
import { keywordOf } from '../dicom/dictionary';
import { Tags } from '../dicom/tags';
import { decodeText, encodingFor } from '../dicom/charset';
import { numberValues, rawString } from '../dicom/values';
import { isMultiValuedString, isStringVr, usesCharset } from '../dicom/vr';

export type Identifier = Record<string, unknown>;

const NUMBER_VRS = new Set(['US', 'SS', 'UL', 'SL', 'FL', 'FD']);

export function naturalIdentifier(ds: Dataset, encoding = encodingFor(rawString(ds.get(Tags.SpecificCharacterSet)))): Identifier {
  const out: Identifier = {};
  for (const el of sortedElements(ds)) out[keywordOf(el.tag) ?? tagHex(el.tag)] = naturalValue(el, encoding);
  return out;
}

const one = (values: unknown[]): unknown => (values.length === 1 ? values[0] : values);

function naturalValue(el: DataElement, encoding: string): unknown {
  // Sequence keys are return keys only (C-FIND sequence matching is not offered, and a retrieve
  // reads none): their items are given empty, so a legal identifier nested maxNestingDepth deep
  // costs no more here than its top level.
  if (el.vr === 'SQ') return (el.items ?? []).map(() => ({}));
  if (!el.value) return [];
  if (NUMBER_VRS.has(el.vr)) return one(numberValues(el));
  if (!isStringVr(el.vr)) return [Buffer.from(el.value)]; // binary: present, never a match key
  const text = (usesCharset(el.vr) ? decodeText(el.value, encoding) : decodeText(el.value, 'latin1')).replace(/[\0 ]+$/, '');
  if (el.vr === 'PN') {
    if (!text) return [];
    return text.split('\\').map((v) => {
      const [Alphabetic, Ideographic, Phonetic] = v.split('=');
      return { Alphabetic, ...(Ideographic ? { Ideographic } : {}), ...(Phonetic ? { Phonetic } : {}) };
    });
  }
  if (!isMultiValuedString(el.vr)) return text;
  const values = text.split('\\').map((v) => v.trim());
  if (el.vr === 'IS' || el.vr === 'DS') return one(values.map((v) => (v === '' ? null : Number.isFinite(Number(v)) ? Number(v) : v)));
  return one(values);
}
