/**
 * Value lengths (PS3.5 Table 6.2-1): every stored value fits its VR. Free text (SH, LO, ST,
 * LT, PN) that runs over is truncated, a coercion the sender is told of; a number (DS, IS),
 * a time or a date in the retired dotted form is rewritten in the form the VR allows; anything
 * else that does not fit (UI, CS, AE, AS, DA, DT) cannot be stored as it is and is refused.
 */
import { DataElement, Dataset, Tag, tagHex } from './dataset';
import { Tags } from './tags';
import { decodeText, encodingFor } from './charset';
import { encodeText, rawString } from './values';
import { keywordOf } from './dictionary';
import { formatDS, formatIS } from './numbers';
import { reencodeAsUtf8, rewrittenText } from './utf8';
import { VeilgateError } from '../errors';

/** Most characters per value (per component group for PN); LT and ST are single-valued. */
const TEXT_LIMIT: Record<string, number> = { SH: 16, LO: 64, ST: 1024, LT: 10240, PN: 64 };
/** Most bytes per value of the coded VRs. */
const CODED_LIMIT: Record<string, number> = { AE: 16, AS: 4, CS: 16, DA: 8, DS: 16, DT: 26, IS: 12, TM: 14, UI: 64 };

function nameOf(t: Tag): string {
  return `${keywordOf(t) ?? 'attribute'} (${tagHex(t).slice(0, 4)},${tagHex(t).slice(4)})`;
}

/** Cut to `n` characters, never inside a surrogate pair. */
function cut(text: string, n: number): string {
  const chars = [...text];
  return chars.length <= n ? text : chars.slice(0, n).join('').trimEnd();
}

function fitText(value: string, vr: string): string {
  const limit = TEXT_LIMIT[vr];
  const fit = (v: string) => (vr === 'PN' ? v.split('=').map((group) => cut(group, limit)).join('=') : cut(v, limit));
  return vr === 'ST' || vr === 'LT' ? fit(value) : value.split('\\').map(fit).join('\\');
}

/** A coded value that is too long, rewritten in a form the VR allows, or undefined when it has none. */
function fitCoded(value: string, vr: string): string | undefined {
  const v = value.trim();
  switch (vr) {
    case 'DS':
      return v !== '' && Number.isFinite(Number(v)) ? formatDS(Number(v)) : undefined;
    case 'IS':
      return v !== '' ? formatIS(Number(v)) : undefined;
    case 'TM': {
      const m = /^(\d{2}(?:\d{2}(?:\d{2})?)?)(\.\d+)?$/.exec(v.replace(/:/g, ''));
      return m ? (m[1] + (m[2] ?? '')).slice(0, 13).replace(/\.$/, '') : undefined;
    }
    case 'DT': {
      const m = /^(\d{4,14})(\.\d{1,6})?\d*([+-]\d{4})?$/.exec(v);
      return m ? m[1] + (m[2] ?? '') + (m[3] ?? '') : undefined;
    }
    case 'DA':
      return /^\d{4}\.\d{2}\.\d{2}$/.test(v) ? v.replace(/\./g, '') : undefined;
    default:
      return undefined;
  }
}

interface Pass {
  warnings: Set<string>;
  /** Text of a character set the encoder cannot write was cut: the data set goes to UTF-8. */
  needsUtf8: boolean;
  utf8: WeakSet<DataElement>;
}

function fitElement(el: DataElement, encoding: string, pass: Pass): DataElement | undefined {
  if (!el.value?.length) return undefined;
  if (TEXT_LIMIT[el.vr] !== undefined) {
    const text = decodeText(el.value, encoding).replace(/[\0 ]+$/, '');
    const fitted = fitText(text, el.vr);
    if (fitted === text) return undefined;
    pass.warnings.add(`${nameOf(el.tag)} was longer than ${el.vr} allows and was truncated`);
    const { element, needsUtf8 } = rewrittenText(el.tag, el.vr, fitted, encoding, pass.utf8);
    if (needsUtf8) pass.needsUtf8 = true;
    return element;
  }
  const limit = CODED_LIMIT[el.vr];
  if (limit === undefined) return undefined;
  const values = (rawString(el) ?? '').split('\\');
  if (values.every((v) => v.length <= limit)) return undefined;
  const fitted = values.map((v) => (v.length <= limit ? v : fitCoded(v, el.vr)));
  if (fitted.some((v) => v === undefined || v.length > limit)) {
    throw new VeilgateError('cannot-understand', `${nameOf(el.tag)}: a value is longer than the ${limit} characters ${el.vr} allows`);
  }
  pass.warnings.add(`${nameOf(el.tag)} was longer than ${el.vr} allows and was rewritten`);
  return { tag: el.tag, vr: el.vr, value: encodeText(fitted.join('\\'), el.vr) };
}

function fitDataset(ds: Dataset, inherited: string, pass: Pass): void {
  const own = ds.get(Tags.SpecificCharacterSet);
  const encoding = own ? encodingFor(rawString(own)) : inherited;
  for (const [t, el] of ds) {
    if (el.items) {
      for (const item of el.items) fitDataset(item, encoding, pass);
      continue;
    }
    const fitted = fitElement(el, encoding, pass);
    if (fitted) ds.set(t, fitted);
  }
}

/**
 * Make every value of `ds` fit its VR, in place (entries replaced, never mutated: `ds` is the
 * gateway's own copy). Returns the coercions made; throws cannot-understand for a value that
 * has no shorter form.
 */
export function fitValueLengths(ds: Dataset): string[] {
  const pass: Pass = { warnings: new Set(), needsUtf8: false, utf8: new WeakSet() };
  fitDataset(ds, encodingFor(rawString(ds.get(Tags.SpecificCharacterSet))), pass);
  if (pass.needsUtf8) reencodeAsUtf8(ds, pass.utf8);
  return [...pass.warnings];
}
