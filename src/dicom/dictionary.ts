/**
 * The DICOM data dictionary (PS3.6), generated from the standard's tables by
 * scripts/generate-standard-data.js. Lookups by tag and by keyword.
 */
import { Tag, tagHex, isPrivateTag, elementOf, parseTagHex } from './dataset';
import dictionaryData from './standard/dictionary.json';

export interface DictionaryEntry {
  /** VR as the standard gives it; ambiguous ones are written "US|SS". */
  vr: string;
  keyword: string;
  vm: string;
  retired: boolean;
}

type RawEntry = [string, string, string, number];
const exact = dictionaryData.exact as unknown as Record<string, RawEntry>;
const masked = (dictionaryData.masked as unknown as [string, ...RawEntry][]).map(([mask, ...entry]) => ({
  mask,
  entry,
}));

const byKeyword = new Map<string, Tag>();
for (const [hex, e] of Object.entries(exact)) byKeyword.set(e[1], parseInt(hex, 16) >>> 0);

function toEntry(raw: RawEntry): DictionaryEntry {
  return { vr: raw[0], keyword: raw[1], vm: raw[2], retired: raw[3] === 1 };
}

function matchesMask(hex: string, mask: string): boolean {
  for (let i = 0; i < 8; i++) {
    if (mask[i] !== 'X' && mask[i] !== hex[i]) return false;
  }
  return true;
}

export function lookup(t: Tag): DictionaryEntry | undefined {
  const hex = tagHex(t);
  const e = exact[hex];
  if (e) return toEntry(e);
  if (isPrivateTag(t)) return undefined;
  for (const m of masked) if (matchesMask(hex, m.mask)) return toEntry(m.entry);
  return undefined;
}

/** Tag for a keyword ("PatientName") or an 8-digit hex tag ("00100010"). */
export function tagFor(keywordOrHex: string): Tag | undefined {
  return byKeyword.get(keywordOrHex) ?? parseTagHex(keywordOrHex);
}

export function keywordOf(t: Tag): string | undefined {
  return lookup(t)?.keyword;
}

/**
 * The VR to use for an element whose encoding did not say (implicit VR).
 * Private creators are LO; unknown and private elements are UN.
 */
export function implicitVr(t: Tag, pixelRepresentation: number | undefined): string {
  if (isPrivateTag(t)) {
    const el = elementOf(t);
    if (el >= 0x0010 && el <= 0x00ff) return 'LO';
    return 'UN';
  }
  if (elementOf(t) === 0x0000) return 'UL';
  const entry = lookup(t);
  if (!entry) return 'UN';
  switch (entry.vr) {
    case 'US|SS':
      return pixelRepresentation === 1 ? 'SS' : 'US';
    case 'OB|OW':
    case 'US|OW':
    case 'US|SS|OW':
      return 'OW';
    default:
      return entry.vr;
  }
}
