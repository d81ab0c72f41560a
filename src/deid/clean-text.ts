/**
 * Cleaning of free text (the C action on descriptors, structured content and graphics):
 * removes every identifier the instance itself carries (name parts, IDs, numbers, dates
 * in any common format, addresses, phone numbers, institution and physician names) and
 * anything shaped like a date, a phone number, an e-mail address, a long number or a titled
 * name. It errs on the side of removal.
 */

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

const GENERIC_PATTERNS: RegExp[] = [
  /\b\d{4}[-/.]\d{1,2}[-/.]\d{1,2}\b/g, // 2024-01-31, 2024/1/31
  /\b\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}\b/g, // 31.01.2024, 1/31/24
  /\b(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\b/g, // 20240131
  new RegExp(`\\b\\d{1,2}(?:st|nd|rd|th)?[ -](?:${MONTHS.join('|')})[a-z]*\\.?,?[ -]\\d{2,4}\\b`, 'gi'), // 31 Jan 2024
  new RegExp(`\\b(?:${MONTHS.join('|')})[a-z]*\\.? \\d{1,2}(?:st|nd|rd|th)?,? \\d{4}\\b`, 'gi'), // January 31, 2024
  /[\w.+-]+@[\w-]+(?:\.[\w-]+)+/g, // e-mail
  /(?:\+|\b)\d[\d ().-]{6,}\d\b/g, // phone numbers and other long digit groups
  /\b[A-Za-z]{0,4}\d{4,}[A-Za-z\d]*\b/g, // accession numbers, MRNs: a few letters and 4+ digits
  /\b(?:Dr|Mr|Mrs|Ms|Miss|Prof|Dott|Sr|Sra)\.?\s+[A-Z][\p{L}'-]+(?:\s+[A-Z][\p{L}'-]+)?/gu, // titled names
];

/** All spellings of a DICOM date (YYYYMMDD) that free text might use. */
export function dateSpellings(ymd: string): string[] {
  const m = /^(\d{4})(\d{2})(\d{2})/.exec(ymd);
  if (!m) return [];
  const [, y, mo, d] = m;
  const yy = y.slice(2);
  const nm = String(Number(mo));
  const nd = String(Number(d));
  return [
    `${y}${mo}${d}`, `${y}-${mo}-${d}`, `${y}/${mo}/${d}`, `${y}.${mo}.${d}`,
    `${d}/${mo}/${y}`, `${mo}/${d}/${y}`, `${d}.${mo}.${y}`, `${d}-${mo}-${y}`,
    `${nd}/${nm}/${y}`, `${nm}/${nd}/${y}`, `${nd}.${nm}.${y}`, `${d}/${mo}/${yy}`, `${mo}/${d}/${yy}`,
  ];
}

/**
 * The identifiers an instance carries, as a set of words: a word of free text that is (a
 * part of) an identifier is removed. Numbers shorter than three digits are not taken from
 * identifiers, so "15 mm" survives a birth date on the 15th; whole dates go by pattern.
 */
export class IdentifierMatcher {
  private readonly words = new Set<string>();

  constructor(identifiers: Iterable<string>) {
    for (const raw of identifiers) {
      for (const part of raw.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []) {
        if (/^\d+$/.test(part) ? part.length >= 3 : part.length >= 2) this.words.add(part);
      }
    }
  }

  clean(text: string): string {
    let out = text;
    for (const p of GENERIC_PATTERNS) out = out.replace(p, ' ');
    out = out.replace(/[\p{L}\p{N}]+/gu, (w) => (this.words.has(w.toLowerCase()) ? ' ' : w));
    // Collapse what removal left behind: runs of spaces and dangling separators.
    return out
      .replace(/[ \t]+/g, ' ')
      .replace(/\s*([-_/,;:.])\s*(?=[-_/,;:.]|$)/g, '')
      .replace(/^[\s\-_/,;:.]+|[\s\-_/,;:]+$/g, '')
      .trim();
  }
}
