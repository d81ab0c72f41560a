/** Reading and making element values (PS3.5 section 6.2) in the Dataset model. */
import { DataElement, Dataset, Tag } from './dataset';
import { padByte } from './vr';

const latin1 = (v: Uint8Array): string => Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('latin1');

/** The raw text of a string element (ASCII/latin1 view, trailing padding removed). */
export function rawString(el: DataElement | undefined): string | undefined {
  if (!el?.value) return undefined;
  return latin1(el.value).replace(/[\0 ]+$/, '');
}

export function stringValue(ds: Dataset, t: Tag): string | undefined {
  const s = rawString(ds.get(t))?.trim();
  return s ? s : undefined;
}

/** The values of a numeric (US, SS, UL, SL, FL, FD) or numeric-string (IS, DS) element. */
export function numberValues(el: DataElement | undefined): number[] {
  if (!el?.value) return [];
  const v = el.value;
  const view = new DataView(v.buffer, v.byteOffset, v.byteLength);
  const out: number[] = [];
  const read = (width: number, get: (o: number) => number): number[] => {
    for (let o = 0; o + width <= v.length; o += width) out.push(get(o));
    return out;
  };
  switch (el.vr) {
    case 'US': return read(2, (o) => view.getUint16(o, true));
    case 'SS': return read(2, (o) => view.getInt16(o, true));
    case 'UL': return read(4, (o) => view.getUint32(o, true));
    case 'SL': return read(4, (o) => view.getInt32(o, true));
    case 'FL': return read(4, (o) => view.getFloat32(o, true));
    case 'FD': return read(8, (o) => view.getFloat64(o, true));
    case 'IS':
    case 'DS':
      return latin1(v).split('\\').map((s) => Number(s.trim())).filter((n) => Number.isFinite(n));
    default:
      return [];
  }
}

export function numberValue(ds: Dataset, t: Tag): number | undefined {
  return numberValues(ds.get(t))[0];
}

/** Encode text as an element value padded to even length. */
export function encodeText(text: string, vr: string, encoding: BufferEncoding = 'latin1'): Uint8Array {
  const b = Buffer.from(text, encoding);
  if (b.length % 2 === 0) return new Uint8Array(b.buffer, b.byteOffset, b.length);
  const out = new Uint8Array(b.length + 1);
  out.set(b);
  out[b.length] = padByte(vr);
  return out;
}

export function stringElement(t: Tag, vr: string, text: string): DataElement {
  return { tag: t, vr, value: encodeText(text, vr) };
}

export function uint16Element(t: Tag, values: number[]): DataElement {
  const value = new Uint8Array(values.length * 2);
  const view = new DataView(value.buffer);
  values.forEach((n, i) => view.setUint16(i * 2, n, true));
  return { tag: t, vr: 'US', value };
}
