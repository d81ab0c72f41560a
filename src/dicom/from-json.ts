/** A data set from its DICOM JSON Model (PS3.18 Annex F): the inverse of toDicomJson for inline values. */
import { Dataset, DataElement, parseTagHex } from './dataset';
import { JsonAttribute, DicomJson } from './json';
import { encodeText } from './values';

const NUMERIC: Record<string, { bytes: number; set: (v: DataView, o: number, n: number) => void }> = {
  US: { bytes: 2, set: (v, o, n) => v.setUint16(o, n, true) },
  SS: { bytes: 2, set: (v, o, n) => v.setInt16(o, n, true) },
  UL: { bytes: 4, set: (v, o, n) => v.setUint32(o, n, true) },
  SL: { bytes: 4, set: (v, o, n) => v.setInt32(o, n, true) },
  FL: { bytes: 4, set: (v, o, n) => v.setFloat32(o, n, true) },
  FD: { bytes: 8, set: (v, o, n) => v.setFloat64(o, n, true) },
};

function personName(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  const pn = v as { Alphabetic?: string; Ideographic?: string; Phonetic?: string };
  return [pn.Alphabetic ?? '', pn.Ideographic ?? '', pn.Phonetic ?? ''].join('=').replace(/=+$/, '');
}

function element(tag: number, attr: JsonAttribute): DataElement {
  const values = attr.Value ?? [];
  if (attr.vr === 'SQ') return { tag, vr: 'SQ', items: (values as DicomJson[]).map(fromDicomJson) };
  const numeric = NUMERIC[attr.vr];
  if (numeric) {
    const value = new Uint8Array(values.length * numeric.bytes);
    const view = new DataView(value.buffer);
    values.forEach((n, i) => numeric.set(view, i * numeric.bytes, Number(n)));
    return { tag, vr: attr.vr, value };
  }
  if (attr.vr === 'AT') {
    const value = new Uint8Array(values.length * 4);
    const view = new DataView(value.buffer);
    values.forEach((t, i) => {
      const n = parseInt(String(t), 16);
      view.setUint16(i * 4, n >>> 16, true);
      view.setUint16(i * 4 + 2, n & 0xffff, true);
    });
    return { tag, vr: 'AT', value };
  }
  if (attr.InlineBinary !== undefined) return { tag, vr: attr.vr, value: Buffer.from(attr.InlineBinary, 'base64') };
  const text = values.map((v) => (attr.vr === 'PN' ? personName(v) : v === null || v === undefined ? '' : String(v))).join('\\');
  // JSON text is Unicode: encode as UTF-8 (the data set says ISO_IR 192 where that matters).
  return { tag, vr: attr.vr, value: encodeText(text, attr.vr, 'utf8') };
}

export function fromDicomJson(json: DicomJson): Dataset {
  const ds: Dataset = new Map();
  for (const [hex, attr] of Object.entries(json)) {
    const tag = parseTagHex(hex);
    if (tag === undefined || attr.BulkDataURI !== undefined) continue;
    ds.set(tag, element(tag, attr));
  }
  return ds;
}
