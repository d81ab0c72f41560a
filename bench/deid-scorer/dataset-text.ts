/**
 * Reading stored data sets the way a viewer would: attributes located by answer-key path,
 * text decoded by the Specific Character Set in force at that depth, binary values viewed
 * both as Latin-1 and as UTF-8 (a vendor header may hold either).
 */
import { DataElement, Dataset, isPrivateTag, Tag, tagHex } from '../../src/dicom/dataset';
import { decodeText, encodingFor } from '../../src/dicom/charset';
import { keywordOf } from '../../src/dicom/dictionary';
import { isStringVr, usesCharset } from '../../src/dicom/vr';
import { AttributePath } from '../../src/synthetic/deid-corpus';

const SPECIFIC_CHARACTER_SET = 0x00080005;

const latin1 = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');

/** The encoding a data set's text is in: its own Specific Character Set, else the one it inherits. */
export function encodingOf(ds: Dataset, inherited: string): string {
  const own = ds.get(SPECIFIC_CHARACTER_SET);
  return own?.value ? encodingFor(latin1(own.value).replace(/[\0 ]+$/, '')) : inherited;
}

export interface Located {
  el: DataElement;
  encoding: string;
}

/** The element at a path, and the encoding its text is in; undefined when any step is missing. */
export function locate(root: Dataset, path: AttributePath): Located | undefined {
  let ds = root;
  let encoding = encodingOf(root, 'latin1');
  for (let i = 0; i < path.length; i++) {
    const el = ds.get(path[i].tag);
    if (!el) return undefined;
    if (i === path.length - 1) return { el, encoding };
    const item = el.items?.[path[i].item ?? 0];
    if (!item) return undefined;
    ds = item;
    encoding = encodingOf(ds, encoding);
  }
  return undefined;
}

/**
 * The readings of an element's value: one decoded text for string VRs, Latin-1 and UTF-8
 * views for anything else (binary and UN), so a token is found whichever way it was written.
 */
export function readings(el: DataElement, encoding: string): string[] {
  if (!el.value?.length) return [];
  if (isStringVr(el.vr)) {
    const text = usesCharset(el.vr) ? decodeText(el.value, encoding) : latin1(el.value);
    return [text.replace(/[\0 ]+$/, '')];
  }
  return [latin1(el.value), Buffer.from(el.value.buffer, el.value.byteOffset, el.value.byteLength).toString('utf8')];
}

/** The value as the answer key writes it: trimmed text for string VRs, hex bytes otherwise. */
export function comparable(el: DataElement, encoding: string): string {
  if (!el.value) return '';
  if (isStringVr(el.vr)) return (usesCharset(el.vr) ? decodeText(el.value, encoding) : latin1(el.value)).replace(/^[\0 ]+|[\0 ]+$/g, '');
  return Buffer.from(el.value).toString('hex');
}

function tagName(t: Tag): string {
  const hex = tagHex(t);
  return (!isPrivateTag(t) && keywordOf(t)) || `(${hex.slice(0, 4)},${hex.slice(4)})`;
}

/** "RequestAttributesSequence[0] > ScheduledProtocolCodeSequence[0] > CodeMeaning" */
export function pathLabel(path: AttributePath, withItems = true): string {
  return path.map((s) => (s.item !== undefined && withItems ? `${tagName(s.tag)}[${s.item}]` : tagName(s.tag))).join(' > ');
}

/** Every element of a data set at any depth, with its path and the encoding in force. */
export function* walk(ds: Dataset, inherited = 'latin1', prefix: AttributePath = []): Generator<{ el: DataElement; path: AttributePath; encoding: string }> {
  const encoding = encodingOf(ds, inherited);
  for (const el of ds.values()) {
    if (el.items) {
      for (let i = 0; i < el.items.length; i++) yield* walk(el.items[i], encoding, [...prefix, { tag: el.tag, item: i }]);
    } else {
      yield { el, path: [...prefix, { tag: el.tag }], encoding };
    }
  }
}
