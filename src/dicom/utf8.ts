/**
 * Re-encoding a data set's text as UTF-8 (ISO_IR 192, PS3.5 6.1.2.3): text the gateway rewrote
 * (cleaned, truncated) cannot be written back in ISO 2022 and other sets the encoder lacks, so the
 * whole data set moves to UTF-8 at once and stays consistent.
 */
import { DataElement, Dataset, Tag } from './dataset';
import { Tags } from './tags';
import { decodeText, encodingFor } from './charset';
import { encodeText, rawString, stringElement } from './values';
import { usesCharset } from './vr';

function reencode(ds: Dataset, inherited: string, done: WeakSet<DataElement>): void {
  const own = ds.get(Tags.SpecificCharacterSet);
  const encoding = own ? encodingFor(rawString(own)) : inherited;
  for (const [t, el] of ds) {
    if (el.items) el.items.forEach((item) => reencode(item, encoding, done));
    else if (el.value && usesCharset(el.vr) && !done.has(el)) {
      ds.set(t, { ...el, value: encodeText(decodeText(el.value, encoding).replace(/[\0 ]+$/, ''), el.vr, 'utf8') });
    }
  }
  if (own) ds.delete(Tags.SpecificCharacterSet);
}

/**
 * Re-encode every text value of `ds` as UTF-8, in place (entries are replaced, never mutated);
 * `done` holds elements already written in UTF-8, which are left as they are.
 */
export function reencodeAsUtf8(ds: Dataset, done: WeakSet<DataElement> = new WeakSet()): void {
  const root = encodingFor(rawString(ds.get(Tags.SpecificCharacterSet)));
  reencode(ds, root, done);
  ds.set(Tags.SpecificCharacterSet, stringElement(Tags.SpecificCharacterSet, 'CS', 'ISO_IR 192'));
}

/**
 * A text value the gateway rewrote, in its data set's encoding: Latin-1 stays Latin-1, UTF-8
 * stays UTF-8; in any other character set the value is written as UTF-8 and marked in `utf8`,
 * and `needsUtf8` tells the caller to move the whole data set to UTF-8 (reencodeAsUtf8).
 */
export function rewrittenText(tag: Tag, vr: string, text: string, encoding: string, utf8: WeakSet<DataElement>): { element: DataElement; needsUtf8: boolean } {
  if (encoding === 'latin1') return { element: { tag, vr, value: encodeText(text, vr, 'latin1') }, needsUtf8: false };
  const element: DataElement = { tag, vr, value: encodeText(text, vr, 'utf8') };
  if (encoding === 'utf-8') return { element, needsUtf8: false };
  utf8.add(element);
  return { element, needsUtf8: true };
}
