/**
 * The VR an element was sent with, held against the data dictionary (PS3.6). An explicit VR is
 * the sender's claim, and a wrong one is not harmless: every rule that decides what an element
 * is (a UID to remap, text to clean, a number to keep) goes by VR, so a UID sent as UL, or a
 * name sent as OB, would pass as what it claims to be. The dictionary decides instead: a value
 * whose bytes are valid for the dictionary VR is read as that VR; one that is not is known to
 * contradict the dictionary, and de-identification removes it.
 */
import { DataElement, Tag, elementOf, isPrivateTag } from './dataset';
import { implicitVr, lookup } from './dictionary';
import { isStringVr } from './vr';
import { isSafeUid } from './uid';

/** Bytes per number of the VRs that are arrays of fixed-width values (PS3.5 Table 6.2-1). */
const WIDTH: Record<string, number> = {
  OB: 1, UN: 1, US: 2, SS: 2, OW: 2, AT: 4, UL: 4, SL: 4, FL: 4, OF: 4, OL: 4, FD: 8, OD: 8, SV: 8, UV: 8, OV: 8,
};

/** Character repertoire of each string VR, padding aside (PS3.5 6.2 and 6.1.2.3). */
const SHAPE: Record<string, RegExp> = {
  // Code strings, AE titles and URLs: printable ASCII (lower case is common enough in CS to allow).
  AE: /^[\x20-\x7e]*$/,
  CS: /^[\x20-\x7e]*$/,
  UR: /^[\x20-\x7e]*$/,
  AS: /^(\d{3}[DWMY])?$/,
  DA: /^[\d.\- \\]*$/,
  TM: /^[\d:.\- \\]*$/,
  DT: /^[\d.+\- \\]*$/,
  IS: /^[\d+\- \\]*$/,
  DS: /^[\d+\-.eE \\]*$/,
  // Text in the data set's character set: no control characters but ESC (ISO 2022 code
  // extensions); the long texts may also hold line breaks, form feeds and tabs.
  SH: /^[^\x00-\x1a\x1c-\x1f\x7f]*$/,
  LO: /^[^\x00-\x1a\x1c-\x1f\x7f]*$/,
  PN: /^[^\x00-\x1a\x1c-\x1f\x7f]*$/,
  UC: /^[^\x00-\x1a\x1c-\x1f\x7f]*$/,
  ST: /^[^\x00-\x08\x0b\x0e-\x1a\x1c-\x1f\x7f]*$/,
  LT: /^[^\x00-\x08\x0b\x0e-\x1a\x1c-\x1f\x7f]*$/,
  UT: /^[^\x00-\x08\x0b\x0e-\x1a\x1c-\x1f\x7f]*$/,
};

/** The VRs the dictionary allows for a public attribute ("US|SS" is either), or undefined when it says nothing. */
export function dictionaryVrs(t: Tag): string[] | undefined {
  if (isPrivateTag(t) || elementOf(t) === 0x0000) return undefined;
  const entry = lookup(t);
  if (!entry || entry.vr === 'UN' || entry.vr === '') return undefined;
  return entry.vr.split('|');
}

/**
 * Whether value bytes, as they stand in the data (before any byte swapping: PS3.5 7.3 swaps
 * numbers, never text), are a valid value of `vr`.
 */
export function valueFitsVr(value: Uint8Array, vr: string): boolean {
  const width = WIDTH[vr];
  if (width !== undefined) return value.length % width === 0;
  const text = Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('latin1');
  if (vr === 'UI') {
    // NUL is UI's padding; a space is a common writer's slip that readUidValue also tolerates.
    return text
      .replace(/[\0 ]+$/, '')
      .split('\\')
      .every((v) => v === '' || isSafeUid(v));
  }
  const shape = SHAPE[vr];
  // Text pads with a space, some writers with NUL.
  return !!shape && shape.test(text.replace(/[\0 ]+$/, ''));
}

/**
 * The VR to read an explicitly encoded value as: the one it was sent with when the dictionary
 * allows it, else the dictionary's when the bytes are valid for it (a coercion), else undefined:
 * the element contradicts the dictionary and its value cannot be trusted as any VR. Text sent
 * under a number or binary VR can be re-read as text; the reverse is never a re-reading (any
 * text has a length that some number VR accepts), so it is left contradicting.
 */
export function dictionaryReading(t: Tag, sentVr: string, raw: Uint8Array, pixelRepresentation: number | undefined): { vr: string; coerced: boolean } | undefined {
  const allowed = dictionaryVrs(t);
  if (!allowed || allowed.includes(sentVr)) return { vr: sentVr, coerced: false };
  if (allowed.includes('SQ') || sentVr === 'SQ') return undefined;
  // The dictionary's choice for implicit VR first (US or SS by Pixel Representation, OW over OB).
  const preferred = implicitVr(t, pixelRepresentation);
  const candidates = allowed.includes(preferred) ? [preferred, ...allowed.filter((v) => v !== preferred)] : allowed;
  const vr = candidates.find((c) => (isStringVr(c) || !isStringVr(sentVr)) && valueFitsVr(raw, c));
  return vr ? { vr, coerced: true } : undefined;
}

/**
 * Whether an element in the model contradicts the dictionary: a VR it does not allow, a
 * sequence where it names a value or a value where it names a sequence.
 */
export function contradictsDictionary(el: DataElement): boolean {
  const allowed = dictionaryVrs(el.tag);
  if (!allowed) return false;
  if (el.items) return !allowed.includes('SQ');
  if (allowed.includes('SQ')) return true;
  // Encapsulated pixel data is OB by definition (PS3.5 A.4).
  return !allowed.includes(el.vr);
}

/** The VR to give a replacement value of an attribute (a dummy, an empty value): the dictionary's. */
export function dictionaryVrFor(t: Tag, pixelRepresentation?: number): string | undefined {
  return dictionaryVrs(t) ? implicitVr(t, pixelRepresentation) : undefined;
}
