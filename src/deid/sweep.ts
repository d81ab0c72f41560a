/**
 * The last line of defence: after the profile's actions, one sweep over every text value that
 * is left, at every depth (descriptions, local code meanings, content items, graphic text,
 * private values kept under Retain Safe Private, attributes the table does not list), removing
 * every identifier of a person the instance carried. Registered code meanings (standard
 * vocabulary) and the names of equipment and software are left as they are. Whatever it removes is a rule the table missed: the caller
 * logs the path (never the value) as a de-identification warning.
 */
import { DataElement, Dataset, Tag, tagHex } from '../dicom/dataset';
import { Tags } from '../dicom/tags';
import { decodeText, encodingFor } from '../dicom/charset';
import { encodeText, rawString } from '../dicom/values';
import { keywordOf } from '../dicom/dictionary';
import { usesCharset } from '../dicom/vr';
import { rewrittenText } from '../dicom/utf8';
import { IdentifierMatcher } from './clean-text';
import { isRegisteredScheme } from './coding-schemes';

/**
 * Attributes that name equipment and software (Manufacturer, model, versions, algorithms): a
 * word they share with a person's name is a coincidence ("Test^Patient" and algorithm "test"),
 * and blanking them breaks Type 1 attributes of the equipment and algorithm modules.
 */
const EQUIPMENT = new Set<Tag>([
  0x00080070, // Manufacturer
  0x00081090, // ManufacturerModelName
  0x00181020, // SoftwareVersions
  0x00181016, // SecondaryCaptureDeviceManufacturer
  0x00181017, // HardcopyDeviceManufacturer
  0x00181018, // SecondaryCaptureDeviceManufacturerModelName
  0x00181019, // SecondaryCaptureDeviceSoftwareVersions
  0x00660031, // AlgorithmVersion
  0x00660036, // AlgorithmName
  0x00620009, // SegmentAlgorithmName
]);
const CODE_VALUE = 0x00080100;
const CODING_SCHEME_DESIGNATOR = 0x00080102;
const CODE_MEANING = 0x00080104;
const DUMMY_TEXT = 'ANONYMIZED';

/** Prose: identifiers are removed word by word. */
const PROSE_VRS = new Set(['LO', 'SH', 'ST', 'LT', 'UT', 'UC', 'PN']);
/** Coded strings: a value that is an identifier as a whole goes; words are not split out of them. */
const CODED_VRS = new Set(['CS', 'AE', 'UR']);

export interface SweepResult {
  /** Tag paths of the values the sweep changed, such as RequestAttributesSequence[0].CodeMeaning. */
  paths: string[];
  /** A value in a character set the encoder cannot write was rewritten: the data set must go to UTF-8. */
  rewroteNonLatinText: boolean;
}

function nameOf(t: Tag): string {
  return keywordOf(t) ?? `(${tagHex(t).slice(0, 4)},${tagHex(t).slice(4)})`;
}

function tidyAfterSweep(text: string): string {
  return text.replace(/[ \t]+/g, ' ').replace(/\^ +| +\^/g, '^').trim();
}

function sweepElement(el: DataElement, encoding: string, matcher: IdentifierMatcher, result: SweepResult, utf8: WeakSet<DataElement>): DataElement | undefined {
  if (!el.value?.length) return undefined;
  if (CODED_VRS.has(el.vr)) {
    const values = (rawString(el) ?? '').split('\\');
    if (!values.some((v) => matcher.isIdentifier(v))) return undefined;
    const kept = values.map((v) => (matcher.isIdentifier(v) ? '' : v));
    return { tag: el.tag, vr: el.vr, value: encodeText(kept.join('\\').replace(/^\\+$/, ''), el.vr) };
  }
  if (!PROSE_VRS.has(el.vr)) return undefined;
  const text = (usesCharset(el.vr) ? decodeText(el.value, encoding) : (rawString(el) ?? '')).replace(/[\0 ]+$/, '');
  const swept = text
    .split('\\')
    .map((v) => tidyAfterSweep(matcher.removeIdentifiers(v)))
    .join('\\');
  if (swept === text || tidyAfterSweep(swept) === tidyAfterSweep(text)) return undefined;
  // A value that was nothing but an identifier is replaced, as the profile's D action does: it may be Type 1.
  if (!swept.replace(/\\/g, '').trim() && el.vr !== 'PN') return { tag: el.tag, vr: el.vr, value: encodeText(DUMMY_TEXT, el.vr) };
  const { element, needsUtf8 } = rewrittenText(el.tag, el.vr, swept, encoding, utf8);
  if (needsUtf8) result.rewroteNonLatinText = true;
  return element;
}

function sweepDataset(ds: Dataset, inherited: string, matcher: IdentifierMatcher, prefix: string, result: SweepResult, utf8: WeakSet<DataElement>): void {
  const own = ds.get(Tags.SpecificCharacterSet);
  const encoding = own ? encodingFor(rawString(own)) : inherited;
  // A registered code means what its scheme says: standard vocabulary, not someone's text.
  const registeredCode = isRegisteredScheme(rawString(ds.get(CODING_SCHEME_DESIGNATOR))?.trim());
  for (const [t, el] of ds) {
    if (el.items) {
      el.items.forEach((item, i) => sweepDataset(item, encoding, matcher, `${prefix}${nameOf(t)}[${i}].`, result, utf8));
      continue;
    }
    if (t === Tags.SpecificCharacterSet || EQUIPMENT.has(t)) continue;
    if (registeredCode && (t === CODE_VALUE || t === CODE_MEANING)) continue;
    const swept = sweepElement(el, encoding, matcher, result, utf8);
    if (swept) {
      ds.set(t, swept);
      result.paths.push(prefix + nameOf(t));
    }
  }
}

/**
 * Sweep a de-identified data set in place. Only maps made by the profile's pass reach here
 * (element objects may be shared with the input, so entries are replaced, never mutated).
 * Values rewritten as UTF-8 in a data set of another character set are added to `utf8`.
 */
export function sweepRetainedText(ds: Dataset, rootEncoding: string, matcher: IdentifierMatcher, utf8: WeakSet<DataElement>): SweepResult {
  const result: SweepResult = { paths: [], rewroteNonLatinText: false };
  if (!matcher.isEmpty) sweepDataset(ds, rootEncoding, matcher, '', result, utf8);
  return result;
}
