/**
 * PS3.15 Table E.1-1 as data (src/deid/standard, generated from the standard's table), and
 * the action it gives an attribute under a set of options.
 */
import { Tag } from '../dicom/dataset';
import { DeidOptions } from './options';
import profileData from './standard/confidentiality-profile.json';
import supplementary from './standard/supplementary-rules.json';

/** Actions of E.1.1: D dummy, Z zero-length, X remove, K keep, C clean, U replace UID. */
export type Action = 'D' | 'Z' | 'X' | 'K' | 'C' | 'U';

export interface ProfileRow {
  tag: string;
  name: string;
  basic: string;
  [option: string]: string;
}

/** The standard's rows, then Veilgate's additions for attributes it does not list (never overriding it). */
const rows = [...(profileData as unknown as { rows: ProfileRow[] }).rows, ...(supplementary as unknown as { rows: ProfileRow[] }).rows];
const exact = new Map<Tag, ProfileRow>();
/** Rows such as 50XXXXXX: a tag matches when its digits outside the X positions match. */
const masked: { mask: number; value: number; row: ProfileRow }[] = [];
for (const r of rows) {
  if (r.tag === 'PRIVATE') continue;
  if (r.tag.includes('X')) {
    const mask = parseInt(r.tag.replace(/[0-9A-F]/g, 'F').replace(/X/g, '0'), 16) >>> 0;
    masked.push({ mask, value: parseInt(r.tag.replace(/X/g, '0'), 16) >>> 0, row: r });
  } else if (!exact.has(parseInt(r.tag, 16) >>> 0)) exact.set(parseInt(r.tag, 16) >>> 0, r);
}

/** Looked up for every element of every ingested instance: numeric keys, no tag formatting. */
export function profileRow(t: Tag): ProfileRow | undefined {
  return exact.get(t) ?? masked.find((m) => ((t & m.mask) >>> 0) === m.value)?.row;
}

/** Which option column applies, for the options in force. */
function optionColumns(o: DeidOptions): string[] {
  const cols: string[] = [];
  if (o.retainSafePrivate) cols.push('rtnSafePrivOpt');
  if (o.retainUIDs) cols.push('rtnUIDsOpt');
  if (o.retainDeviceIdentity) cols.push('rtnDevIdOpt');
  if (o.retainInstitutionIdentity) cols.push('rtnInstIdOpt');
  if (o.retainPatientCharacteristics) cols.push('rtnPatCharsOpt');
  if (o.retainLongitudinalTemporal === 'full') cols.push('rtnLongFullDatesOpt');
  if (o.retainLongitudinalTemporal === 'modified') cols.push('rtnLongModifDatesOpt');
  if (o.cleanDescriptors) cols.push('cleanDescOpt');
  if (o.cleanStructuredContent) cols.push('cleanStructContOpt');
  if (o.cleanGraphics) cols.push('cleanGraphOpt');
  return cols;
}

/**
 * Resolve the Basic Profile's combined actions (E.1.1). Without the IOD's attribute types at
 * hand, each resolves to the choice that keeps any IOD conformant and carries no information:
 * whatever allows D (Z/D, X/D, X/Z/D) becomes a dummy value, Type 1 safe (Device Serial Number
 * is Type 1 in Enhanced General Equipment); X/Z becomes empty, Type 2 safe; X/Z/U* keeps the
 * sequence with its UIDs replaced, so references still resolve.
 */
function resolveBasic(basic: string): Action {
  if (basic === 'X/Z/U*') return 'U';
  if (basic.includes('/')) return basic.includes('D') ? 'D' : 'Z';
  return basic as Action;
}

/** What a cleaned value that comes out empty is replaced with: a dummy where the profile allows one. */
export function emptyCleanedValue(row: ProfileRow): 'D' | 'Z' {
  return row.basic.includes('D') ? 'D' : 'Z';
}

/** The action for an attribute listed in the table; an option's K wins over another option's C. */
export function actionFor(row: ProfileRow, options: DeidOptions): Action {
  const fromOptions = optionColumns(options)
    .map((c) => row[c])
    .filter(Boolean) as Action[];
  if (fromOptions.includes('K')) return 'K';
  if (fromOptions.includes('C')) return 'C';
  return resolveBasic(row.basic);
}
