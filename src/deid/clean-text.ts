/**
 * Cleaning of free text (the C action on descriptors, structured content and graphics, and
 * every text a client types into a derived object). Two passes:
 *  - patterns: anything shaped like a date, a phone number, an e-mail address, a long
 *    number, an accession-like code or a titled name, whoever it belongs to;
 *  - identifiers: every identifier the instance itself carries (name parts, IDs, numbers,
 *    dates in any common spelling, addresses, institution and physician names, original UIDs).
 * It errs on the side of removal, but keeps what identifies nobody: years (Safe Harbor keeps
 * them), short numbers ("15 mm", "3000 HU"), and the common words of institution names.
 *
 * Every regular expression here runs in linear time: text can be megabytes long and comes
 * from anyone (a hostile sender must not stall ingest with a crafted description).
 */

const MONTHS = 'jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec';

const GENERIC_PATTERNS: RegExp[] = [
  /\b\d{4}[-/.]\d{1,2}[-/.]\d{1,2}\b/g, // 2024-01-31, 2024/1/31
  /\b\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}\b/g, // 31.01.2024, 1/31/24
  /\b(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\b/g, // 20240131
  new RegExp(`\\b\\d{1,2}(?:st|nd|rd|th)?[ -](?:${MONTHS})[a-z]{0,6}\\.?,?[ -]\\d{2,4}\\b`, 'gi'), // 31 Jan 2024
  new RegExp(`\\b(?:${MONTHS})[a-z]{0,6}\\.? \\d{1,2}(?:st|nd|rd|th)?,? \\d{4}\\b`, 'gi'), // January 31, 2024
  // e-mail: the local part starts where no local-part character precedes it, so each run is tried once
  /(?<![\w.+-])[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,10}/g,
  // phone numbers and other long digit groups: a run starts where no digit or separator precedes it
  /(?<![\d().+-])\+?\d[\d ().-]{6,}\d(?![\d])/g,
  /\b[A-Za-z]{1,4}\d{4,}[A-Za-z\d]*\b/g, // accession numbers, MRNs: a few letters and 4+ digits
  /\b\d{5,}[A-Za-z\d]*\b/g, // bare numbers of 5+ digits (years and HU values are shorter)
  /\b(?:Dr|Mr|Mrs|Ms|Miss|Mx|Prof|Dott|Sr|Sra|Herr|Frau|Mme|Mlle)\.?[ \t]+[A-Z][\p{L}'-]{0,40}(?:[ \t]+[A-Z][\p{L}'-]{0,40})?/gu, // titled names
];

/** Words too common to identify anyone on their own: never removed because an institution or address holds them. */
const COMMON_WORDS = new Set([
  'the', 'of', 'and', 'for', 'de', 'la', 'le', 'du', 'der', 'die', 'und', 'von', 'at', 'in', 'on',
  'hospital', 'hospitals', 'clinic', 'clinics', 'klinik', 'klinikum', 'medical', 'center', 'centre', 'health', 'healthcare',
  'university', 'universitaet', 'universität', 'general', 'regional', 'national', 'memorial', 'community', 'children',
  'institute', 'imaging', 'radiology', 'department', 'dept', 'service', 'services', 'unit', 'ward', 'room', 'floor',
  'street', 'road', 'avenue', 'lane', 'drive', 'suite', 'building', 'city', 'county', 'state',
  'ct', 'mr', 'mri', 'us', 'xa', 'dx', 'cr', 'pt', 'nm', 'ot', 'sc',
  'http', 'https', 'www', 'com', 'org', 'net', 'edu', 'gov', 'html',
]);

/** A word without its diacritics ("Müller" → "muller"), so a name matches however it is spelt. */
function fold(word: string): string {
  return /^[\x00-\x7f]*$/.test(word) ? word : word.normalize('NFD').replace(/\p{M}+/gu, '');
}

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

/** What an instance carries that identifies someone, gathered before any action (see identifiers.ts). */
export interface IdentifierSet {
  /** Person names, whole (components are split here). */
  names: Set<string>;
  /** IDs, accession and order numbers, addresses, phone numbers, dates in every spelling. */
  values: Set<string>;
  /** Institution, department, station and device names and numbers: cleaned from descriptions, but not swept. */
  institutional: Set<string>;
  /** The instance's original UIDs: they, and UIDs under their roots, never appear in text. */
  uids: Set<string>;
}

export function emptyIdentifierSet(): IdentifierSet {
  return { names: new Set(), values: new Set(), institutional: new Set(), uids: new Set() };
}

const WORD = /[\p{L}\p{N}]+/gu;
/** Scripts written without spaces between words: a name is found inside a longer run of letters. */
const UNSPACED_SCRIPT = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\p{Script=Thai}]/u;
const UID_SHAPED = /(?<![\d.])\d{1,20}(?:\.\d{1,20}){3,}(?![\d.])/g;

/** Tidy what removal left behind: runs of blanks and dangling separators (linear: no nested quantifiers). */
function tidy(text: string): string {
  const collapsed = text.replace(/[ \t]+/g, ' ').replace(/ ?([-_/,;:.])(?: ?[-_/,;:.])+/g, '$1');
  let start = 0;
  let end = collapsed.length;
  const edge = (c: string) => c === ' ' || c === '\t' || c === '\n' || c === '\r' || '-_/,;:.'.includes(c);
  while (start < end && edge(collapsed[start])) start++;
  while (end > start && edge(collapsed[end - 1]) && collapsed[end - 1] !== '.') end--;
  while (end > start && /\s/.test(collapsed[end - 1])) end--;
  return collapsed.slice(start, end);
}

/** Whether the text holds anything shaped like identifying information (a date, a phone number, …). */
export function hasPhiPattern(text: string): boolean {
  return GENERIC_PATTERNS.some((p) => {
    p.lastIndex = 0;
    const hit = p.test(text);
    p.lastIndex = 0;
    return hit;
  });
}

/** Remove what has the shape of identifying information, whoever it belongs to. */
function removePatterns(text: string): string {
  let out = text;
  for (const p of GENERIC_PATTERNS) out = out.replace(p, ' ');
  return out;
}

/**
 * The identifiers an instance carries, as words: a word of free text that is (a part of) an
 * identifier is removed. Numbers shorter than three digits are not taken from identifiers, so
 * "15 mm" survives a birth date on the 15th; whole dates go by pattern.
 */
export class IdentifierMatcher {
  private readonly wordSet = new Set<string>();
  /** Identifier words in scripts without spaces, matched inside longer runs of letters. */
  private readonly unspaced: string[] = [];
  private readonly uids: Set<string>;
  private readonly uidRoots = new Set<string>();
  private readonly wholeValues = new Set<string>();

  /** A matcher for a plain list of identifying values (tests, tools). */
  static of(values: Iterable<string>): IdentifierMatcher {
    return new IdentifierMatcher({ ...emptyIdentifierSet(), values: new Set(values) });
  }

  /** Words of institutional identifiers (institution, department, station, device names). */
  private readonly institutionalWords = new Set<string>();
  /** Whether institutional words count: yes for Clean Descriptors, no for the last sweep. */
  private includeInstitutional = true;

  constructor(
    ids: IdentifierSet,
    /** Identifiers known only by a test (keyed fingerprints of a study's words), for text typed into derived objects. */
    private readonly isKnownWord?: (word: string) => boolean,
  ) {
    for (const name of ids.names) this.addWords(name, true, this.wordSet);
    for (const value of ids.values) this.addWords(value, false, this.wordSet);
    for (const value of ids.institutional) this.addWords(value, false, this.institutionalWords);
    this.uids = ids.uids;
    for (const uid of ids.uids) {
      const parts = uid.split('.');
      // A UID's root is all but its last component: siblings (other instances of the study) share it.
      if (parts.length > 4) this.uidRoots.add(parts.slice(0, -1).join('.'));
    }
  }

  /**
   * The same identifiers for the last sweep over text the rules kept: what identifies a person
   * (names, IDs, numbers, addresses, UIDs), not an institution's or a device's name, which
   * retained equipment and software attributes legitimately share.
   */
  forSweep(): IdentifierMatcher {
    const view = Object.create(IdentifierMatcher.prototype) as IdentifierMatcher;
    Object.assign(view, this, { includeInstitutional: false });
    return view;
  }

  private addWords(raw: string, isName: boolean, into: Set<string>): void {
    const whole = raw.trim().toLowerCase();
    if (whole.length >= 2) this.wholeValues.add(whole);
    for (const part of whole.match(WORD) ?? []) {
      if (/^\d+$/.test(part) ? part.length < 3 : part.length < 2) continue;
      if (!isName && COMMON_WORDS.has(part)) continue;
      // The profile's own dummy value: a sender that already wrote it as a name identifies nobody by it.
      if (part === 'anonymized') continue;
      if (UNSPACED_SCRIPT.test(part)) this.unspaced.push(part);
      else {
        into.add(part);
        into.add(fold(part));
      }
    }
  }

  private isIdentifierWord(lower: string): boolean {
    const folded = fold(lower);
    if (this.wordSet.has(lower) || this.wordSet.has(folded)) return true;
    if (this.includeInstitutional && (this.institutionalWords.has(lower) || this.institutionalWords.has(folded))) return true;
    return this.isKnownWord?.(lower) ?? false;
  }

  /** The identifier words, for checking text read back from cleaned pixels (OCR). */
  words(): string[] {
    return [...this.wordSet, ...this.institutionalWords, ...this.unspaced];
  }

  get isEmpty(): boolean {
    const institutional = this.includeInstitutional ? this.institutionalWords.size : 0;
    return this.wordSet.size === 0 && institutional === 0 && this.unspaced.length === 0 && this.uids.size === 0 && !this.isKnownWord;
  }

  /**
   * The value, as a whole, is one of the identifiers and is shaped like an ID (4 characters or
   * more, a digit among them): for coded strings, which are not prose and mostly hold defined
   * terms ("CT", "TEXT") that may coincide with a word of a name.
   */
  isIdentifier(value: string): boolean {
    const v = value.trim().toLowerCase();
    return v.length >= 4 && /\d/.test(v) && this.wholeValues.has(v);
  }

  /** Only this instance's identifiers: what the last sweep removes from text the profile kept. */
  removeIdentifiers(text: string): string {
    let out = text.replace(UID_SHAPED, (u) => (this.isOriginalUid(u) ? ' ' : u));
    out = out.replace(WORD, (w) => (this.isIdentifierWord(w.toLowerCase()) ? ' ' : w));
    for (const w of this.unspaced) if (out.toLowerCase().includes(w)) out = out.split(new RegExp(escapeRegExp(w), 'giu')).join(' ');
    return out;
  }

  private isOriginalUid(u: string): boolean {
    if (this.uids.has(u)) return true;
    const parts = u.split('.');
    for (let n = parts.length - 1; n > 4; n--) if (this.uidRoots.has(parts.slice(0, n).join('.'))) return true;
    return false;
  }

  /** Clean Descriptors: identifiers of this instance and anything shaped like PHI. */
  clean(text: string): string {
    return tidy(this.removeIdentifiers(removePatterns(text)));
  }

  /** Whether cleaning would remove anything from the text (before tidying): for values that cannot be cleaned in part, like URLs. */
  findsIn(text: string): boolean {
    return this.removeIdentifiers(removePatterns(text)) !== text;
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

const NO_IDENTIFIERS = new IdentifierMatcher(emptyIdentifierSet());

/**
 * Text a client typed (a job's description, a NIfTI header's descrip, a query-string
 * description, a model's name): the same cleaner as Clean Descriptors, so STOW and the API
 * treat text alike. The study's identifiers are known only by their keyed fingerprints, when
 * the caller has them (`isKnownWord`); the patterns apply always.
 */
export function cleanClientText(text: string, isKnownWord?: (word: string) => boolean): string {
  return (isKnownWord ? new IdentifierMatcher(emptyIdentifierSet(), isKnownWord) : NO_IDENTIFIERS).clean(text);
}
