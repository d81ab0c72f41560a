/**
 * Derived objects (job results, posted NIfTI volumes) are made from de-identified sources, so
 * their UIDs, dates and pseudonyms are not mapped again; but they carry text the gateway was
 * given: job descriptions, NIfTI header text, query-string descriptions, model names. Every
 * such value goes through the same cleaner as Clean Descriptors before it is stored.
 */
import { DataElement, Dataset, Tag, isPrivateTag, tagHex } from '../dicom/dataset';
import { Tags } from '../dicom/tags';
import { decodeText, encodingFor } from '../dicom/charset';
import { rawString } from '../dicom/values';
import { keywordOf } from '../dicom/dictionary';
import { reencodeAsUtf8, rewrittenText } from '../dicom/utf8';
import { cleanClientText } from './clean-text';
import { isRegisteredScheme } from './coding-schemes';
import { DEFAULT_DEID_OPTIONS } from './options';
import { actionFor, profileRow } from './profile';

const PROSE_VRS = new Set(['LO', 'SH', 'ST', 'LT', 'UT', 'UC']);
const CODE_VALUE = 0x00080100;
const CODING_SCHEME_DESIGNATOR = 0x00080102;
const CODE_MEANING = 0x00080104;
const DEIDENTIFICATION_METHOD = 0x00120063;

/** Values the gateway itself set in place of identity (pseudonyms, dummies): never re-cleaned. */
function isReplacedIdentity(t: Tag): boolean {
  if (t === DEIDENTIFICATION_METHOD) return true;
  const row = profileRow(t);
  if (!row) return false;
  const action = actionFor(row, DEFAULT_DEID_OPTIONS);
  return action !== 'C' && action !== 'K';
}

function nameOf(t: Tag): string {
  return keywordOf(t) ?? `(${tagHex(t).slice(0, 4)},${tagHex(t).slice(4)})`;
}

interface Pass {
  changed: string[];
  isKnownWord?: (word: string) => boolean;
  /** Values rewritten in UTF-8 inside a data set of another character set. */
  utf8: WeakSet<DataElement>;
}

function clean(ds: Dataset, inherited: string, prefix: string, pass: Pass): void {
  const own = ds.get(Tags.SpecificCharacterSet);
  const encoding = own ? encodingFor(rawString(own)) : inherited;
  const registeredCode = isRegisteredScheme(rawString(ds.get(CODING_SCHEME_DESIGNATOR))?.trim());
  for (const [t, el] of ds) {
    if (el.items) {
      el.items.forEach((item, i) => clean(item, encoding, `${prefix}${nameOf(t)}[${i}].`, pass));
      continue;
    }
    if (!el.value?.length || !PROSE_VRS.has(el.vr) || isPrivateTag(t) || isReplacedIdentity(t)) continue;
    if (registeredCode && (t === CODE_VALUE || t === CODE_MEANING)) continue;
    const text = decodeText(el.value, encoding).replace(/[\0 ]+$/, '');
    const cleaned = text.split('\\').map((v) => cleanClientText(v, pass.isKnownWord)).join('\\');
    if (cleaned === text) continue;
    ds.set(t, rewrittenText(t, el.vr, cleaned, encoding, pass.utf8).element);
    pass.changed.push(prefix + nameOf(t));
  }
}

/**
 * Clean every text value a derived data set carries, in place (entries replaced); returns the
 * paths changed. `isKnownWord` recognises the source study's identifiers by their fingerprints.
 */
export function cleanDerivedText(ds: Dataset, isKnownWord?: (word: string) => boolean): string[] {
  const pass: Pass = { changed: [], utf8: new WeakSet(), isKnownWord };
  const root = encodingFor(rawString(ds.get(Tags.SpecificCharacterSet)));
  clean(ds, root, '', pass);
  // Text rewritten in a character set the encoder cannot write: the whole data set goes to UTF-8.
  if (pass.changed.length && root !== 'latin1' && root !== 'utf-8') reencodeAsUtf8(ds, pass.utf8);
  return pass.changed;
}
