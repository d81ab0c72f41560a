/**
 * Re-encoding a data set's text as UTF-8 (ISO_IR 192, PS3.5 6.1.2.3): text the gateway rewrote
 * (cleaned, truncated) cannot be written back in ISO 2022 and other sets the encoder lacks, so the
 * whole data set moves to UTF-8 at once and stays consistent.
 */
import { DataElement, Dataset } from './dataset';
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
