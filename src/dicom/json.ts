/** The DICOM JSON Model (PS3.18 Annex F) of a data set. */
import { DataElement, Dataset, sortedElements, tagHex } from './dataset';
import { Tags } from './tags';
import { decodeText, encodingFor } from './charset';
import { isBinaryVr, isMultiValuedString, usesCharset } from './vr';
import { numberValues, rawString } from './values';

export interface JsonAttribute {
  vr: string;
  Value?: unknown[];
  BulkDataURI?: string;
  InlineBinary?: string;
}
export type DicomJson = Record<string, JsonAttribute>;

export interface JsonOptions {
  /**
   * Called for every binary value with its tag path (e.g. "7FE00010", "00540016.0.00181072");
   * returns the BulkDataURI to put in its place, or undefined to inline it as base64.
   */
  bulkDataUri: (path: string, el: DataElement) => string | undefined;
}

function personName(text: string): Record<string, string> | null {
  if (!text) return null;
  const [alphabetic, ideographic, phonetic] = text.split('=');
  const pn: Record<string, string> = {};
  if (alphabetic) pn.Alphabetic = alphabetic;
  if (ideographic) pn.Ideographic = ideographic;
  if (phonetic) pn.Phonetic = phonetic;
  return Object.keys(pn).length ? pn : null;
}

function numericString(s: string): number | string | null {
  const t = s.trim();
  if (!t) return null;
  const n = Number(t);
  // An unparseable value is kept as text rather than lost.
  return Number.isFinite(n) ? n : t;
}

function textValues(el: DataElement, encoding: string): unknown[] | undefined {
  if (!el.value?.length) return undefined;
  const text = usesCharset(el.vr) ? decodeText(el.value, encoding) : rawString(el) ?? '';
  if (el.vr === 'LT' || el.vr === 'ST' || el.vr === 'UT') {
    const t = text.replace(/[\0 ]+$/, '');
    return t ? [t] : undefined;
  }
  if (el.vr === 'UR') {
    const t = text.trim();
    return t ? [t] : undefined;
  }
  const parts = (isMultiValuedString(el.vr) ? text.split('\\') : [text]).map((p) => p.replace(/\0+$/, '').trim());
  if (parts.every((p) => p === '')) return undefined;
  switch (el.vr) {
    case 'PN':
      return parts.map(personName);
    case 'DS':
    case 'IS':
      return parts.map(numericString);
    default:
      return parts.map((p) => (p === '' ? null : p));
  }
}

function binaryValues(el: DataElement): unknown[] | undefined {
  const v = el.value;
  if (!v?.length) return undefined;
  const view = new DataView(v.buffer, v.byteOffset, v.byteLength);
  const out: unknown[] = [];
  switch (el.vr) {
    case 'AT':
      for (let o = 0; o + 4 <= v.length; o += 4) {
        const t = ((view.getUint16(o, true) << 16) | view.getUint16(o + 2, true)) >>> 0;
        out.push(tagHex(t));
      }
      return out;
    case 'SV':
      for (let o = 0; o + 8 <= v.length; o += 8) out.push(jsonBigInt(view.getBigInt64(o, true)));
      return out;
    case 'UV':
      for (let o = 0; o + 8 <= v.length; o += 8) out.push(jsonBigInt(view.getBigUint64(o, true)));
      return out;
    default: {
      const nums = numberValues(el).map((n) => (Number.isFinite(n) ? n : String(n)));
      return nums.length ? nums : undefined;
    }
  }
}

/** 64-bit integers beyond what a JSON number holds exactly are strings (PS3.18 F.2.3.1). */
function jsonBigInt(n: bigint): number | string {
  return n <= BigInt(Number.MAX_SAFE_INTEGER) && n >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(n) : n.toString();
}

function attribute(el: DataElement, path: string, encoding: string, options: JsonOptions): JsonAttribute {
  if (el.items) {
    const items = el.items.map((item, i) => datasetJson(item, `${path}.${i}.`, encoding, options));
    return items.length ? { vr: 'SQ', Value: items } : { vr: 'SQ' };
  }
  if (el.fragments || isBinaryVr(el.vr)) {
    const vr = el.fragments ? (el.vr === 'OW' ? 'OW' : 'OB') : el.vr;
    const uri = options.bulkDataUri(path, el);
    if (uri) return { vr, BulkDataURI: uri };
    if (!el.value?.length) return { vr };
    return { vr, InlineBinary: Buffer.from(el.value.buffer, el.value.byteOffset, el.value.byteLength).toString('base64') };
  }
  const Value = ['US', 'SS', 'UL', 'SL', 'FL', 'FD', 'AT', 'SV', 'UV'].includes(el.vr)
    ? binaryValues(el)
    : textValues(el, encoding);
  return Value ? { vr: el.vr, Value } : { vr: el.vr };
}

function datasetJson(ds: Dataset, prefix: string, inheritedEncoding: string, options: JsonOptions): DicomJson {
  const own = ds.get(Tags.SpecificCharacterSet);
  const encoding = own ? encodingFor(rawString(own)) : inheritedEncoding;
  const out: DicomJson = {};
  for (const el of sortedElements(ds)) {
    const key = tagHex(el.tag);
    out[key] = attribute(el, prefix + key, encoding, options);
  }
  return out;
}

export function toDicomJson(ds: Dataset, options: JsonOptions): DicomJson {
  return datasetJson(ds, '', 'latin1', options);
}
