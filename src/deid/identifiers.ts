/**
 * Every identifier an instance carries, gathered at every depth before any action is applied:
 * the values the profile removes or replaces (names, IDs, accession and order numbers,
 * addresses, phone numbers, institution and device names, OtherPatientIDsSequence,
 * ReferencedPatientSequence, request attributes), every person name wherever it stands
 * (private ones included), the original UIDs, and the dates that go, in every spelling.
 * Descriptions are cleaned of them and the last sweep removes them from whatever text remains.
 */
import { isRegisteredUid } from '../dicom/registered-uids';
import { Dataset, isPrivateTag } from '../dicom/dataset';
import { Tags } from '../dicom/tags';
import { decodeText, encodingFor } from '../dicom/charset';
import { rawString } from '../dicom/values';
import { usesCharset } from '../dicom/vr';
import { keywordOf } from '../dicom/dictionary';
import { DeidOptions } from './options';
import { actionFor, profileRow } from './profile';
import { IdentifierSet, dateSpellings, emptyIdentifierSet } from './clean-text';

/** UID attributes that name a class, syntax or scheme, never an instance: never replaced. */
export const NEVER_MAPPED = new Set<number>([
  Tags.SOPClassUID, 0x00081150, 0x0008001a, 0x0008001b, 0x00080062, 0x0008010c, 0x0008010d, 0x00080118,
  0x00041510, 0x00041512, 0x00020002, 0x00020010, 0x00020012, 0x0040e031, 0x00081462,
]);

/** Attributes that name an institution, a place in it or a device (not a person): their words are common. */
const INSTITUTIONAL = /^(?!.*Address)(?:Institution|.*Station|.*Device|.*Manufacturer|.*Equipment|.*Detector|Gantry|.*Software|.*Location|.*EntityID|CodingScheme|Retrieve)/;

const institutionalByTag = new Map<number, boolean>();
function isInstitutional(t: number): boolean {
  let yes = institutionalByTag.get(t);
  if (yes === undefined) institutionalByTag.set(t, (yes = INSTITUTIONAL.test(keywordOf(t) ?? '')));
  return yes;
}

/** A UID the standard registers (a SOP class, a well-known instance or frame of reference): never an identifier. */
export function isStandardUid(uid: string): boolean {
  return isRegisteredUid(uid);
}

function encodingOf(ds: Dataset, inherited: string): string {
  const own = ds.get(Tags.SpecificCharacterSet);
  return own ? encodingFor(rawString(own)) : inherited;
}

function collect(ds: Dataset, options: DeidOptions, encoding: string, out: IdentifierSet): void {
  const enc = encodingOf(ds, encoding);
  for (const el of ds.values()) {
    if (el.items) {
      for (const item of el.items) collect(item, options, enc, out);
      continue;
    }
    if (!el.value?.length) continue;
    const row = isPrivateTag(el.tag) ? undefined : profileRow(el.tag);
    const action = row ? actionFor(row, options) : undefined;
    if (action === 'K') continue;
    const text = () => (usesCharset(el.vr) ? decodeText(el.value!, enc) : (rawString(el) ?? ''));
    if (el.vr === 'PN') {
      // A person's name is identifying wherever it stands: listed or not, private or not.
      for (const v of text().split('\\')) if (v.trim()) out.names.add(v.replace(/[\0 ]+$/, ''));
      continue;
    }
    if (el.vr === 'UI') {
      if (NEVER_MAPPED.has(el.tag)) continue;
      for (const v of text().split('\\')) {
        const uid = v.replace(/\0/g, '').trim();
        if (uid && !isStandardUid(uid)) out.uids.add(uid);
      }
      continue;
    }
    // Only what the profile takes away is an identifier: kept and cleaned values are not.
    if (!row || action === 'C' || el.vr === 'CS') continue;
    const target = isInstitutional(el.tag) ? out.institutional : out.values;
    for (const v of text().split('\\')) {
      const value = v.replace(/[\0 ]+$/, '').trim();
      if (!value) continue;
      target.add(value);
      if (el.vr === 'DA' || el.vr === 'DT') for (const d of dateSpellings(value)) out.values.add(d);
    }
  }
}

export function collectIdentifiers(ds: Dataset, options: DeidOptions): IdentifierSet {
  const out = emptyIdentifierSet();
  collect(ds, options, encodingFor(rawString(ds.get(Tags.SpecificCharacterSet))), out);
  return out;
}
