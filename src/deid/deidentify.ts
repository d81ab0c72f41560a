/**
 * De-identification (PS3.15 Annex E): a pure function from data set to data set, driven by
 * Table E.1-1 (src/deid/standard) and the options in force, applied at every depth of every
 * sequence. UIDs, patient identity and dates are replaced by keyed mappings of the site
 * secret, so the same input always gives the same output and references still resolve.
 */
import { DataElement, Dataset, Tag, elementOf, groupOf, isPrivateTag } from '../dicom/dataset';
import { Tags } from '../dicom/tags';
import { lookup } from '../dicom/dictionary';
import { decodeText, encodingFor } from '../dicom/charset';
import { rawString, encodeText, stringElement } from '../dicom/values';
import { readUidValue, wasCoerced } from '../dicom/parse';
import { contradictsDictionary, dictionaryVrFor, valueFitsVr } from '../dicom/vr-check';
import { usesCharset } from '../dicom/vr';
import { TS } from '../dicom/transfer-syntax';
import { reencodeAsUtf8, rewrittenText } from '../dicom/utf8';
import { Action, ProfileRow, actionFor, emptyCleanedValue, profileRow } from './profile';
import { DeidOptions, BASIC_PROFILE_CODE, CLEAN_PIXEL_DATA_CODE, optionCodes } from './options';
import { mapUid, patientPseudonym, dateOffsetDays } from './keyed';
import { shiftDA, shiftDT } from './dates';
import { IdentifierMatcher } from './clean-text';
import { safePrivate } from './safe-private';
import { BURNED_IN_ANNOTATION, pixelAction } from './burned-in';
import { collectIdentifiers, isStandardUid, NEVER_MAPPED } from './identifiers';
import { isRegisteredScheme } from './coding-schemes';
import { sweepRetainedText } from './sweep';
import { PixelRecipe, SHIPPED_RECIPES } from './pixel-recipes';
import { cleanBurnedInPixels } from './pixels';

export interface DeidParams {
  secret: Buffer;
  options: DeidOptions;
  /** Accept pixel data that may carry burned-in identity (ultrasound, screen captures) when no recipe cleans it. */
  acceptBurnedIn: boolean;
  /** Pixel-cleaning recipes, tried in order; the shipped set when not given. */
  pixelRecipes?: readonly PixelRecipe[];
}

/** Original identifiers and their pseudonyms, for the optional linkage file. Never logged or served. */
export interface Linkage {
  issuerOfPatientID: string;
  patientID: string;
  pseudonym: string;
  originalStudyUID: string;
  studyUID: string;
  originalSeriesUID: string;
  seriesUID: string;
  originalSOPInstanceUID: string;
  sopInstanceUID: string;
}

export interface DeidResult {
  dataset: Dataset;
  /** The transfer syntax the output's pixel data is in: Explicit VR Little Endian once burned-in pixels were decoded and cleaned. */
  transferSyntaxUID: string;
  /** Notes on changes beyond the profile (coercions), for the STOW warning. */
  warnings: string[];
  /** Tag paths where the last sweep found an identifier the profile's rules left: each is a rule the table missed. */
  sweptPaths: string[];
  /** The pixel recipe that cleaned burned-in text, if one did. */
  pixelRecipe?: string;
  /** Pixels that may still show text: cleaned by a recipe, or burned-in text the site accepts. The OCR check reads these. */
  pixelsToCheck: boolean;
  /** Identifier words the instance carried, for the optional OCR check of cleaned pixels. Never logged or stored. */
  identifierWords: string[];
  linkage: Linkage;
}

const T = {
  IssuerOfPatientID: 0x00100021,
  PatientIdentityRemoved: 0x00120062,
  DeidentificationMethod: 0x00120063,
  DeidentificationMethodCodeSequence: 0x00120064,
  LongitudinalTemporalInformationModified: 0x00280303,
  CodeValue: 0x00080100,
  CodingSchemeDesignator: 0x00080102,
  CodeMeaning: 0x00080104,
} as const;

const CODING_SCHEME_URL = 0x0008010e;
const CODING_SCHEME_RESPONSIBLE_ORGANIZATION = 0x00080116;
const CODING_SCHEME_UID = 0x0008010c;

/** Attributes of a coded entry (PS3.3 8.8): text when its scheme is not registered. */
const CODE_TEXT = new Set<Tag>([T.CodeValue, T.CodeMeaning, 0x00080119, 0x00080120]);
const CODE_ATTRIBUTES = new Set<Tag>([
  ...CODE_TEXT, T.CodingSchemeDesignator, 0x00080103, 0x00080105, 0x00080106, 0x0008010b, 0x0008010f, 0x00080117, 0x00080121, 0x00080122,
]);

const TIMEZONE_OFFSET = 0x00080201;

const FREE_TEXT_VRS = new Set(['LO', 'LT', 'SH', 'ST', 'UT', 'UC', 'PN']);

/** How free text not listed in the table is treated inside a sequence: as is, cleaned, or replaced. */
type TextMode = 'keep' | 'clean' | 'dummy';

interface Context {
  params: DeidParams;
  matcher: IdentifierMatcher;
  offsetDays: number;
  /** Text was rewritten in a character set the encoder cannot write: the data set goes to UTF-8. */
  rewroteNonLatinText: boolean;
  /** Elements already written in UTF-8 (rewritten values of a non-Latin data set): toUtf8 leaves them. */
  utf8Elements: WeakSet<DataElement>;
  warnings: Set<string>;
}

const DUMMY_TEXT = 'ANONYMIZED';

function dummyValue(el: DataElement): Uint8Array {
  switch (el.vr) {
    case 'DA':
      return encodeText('19000101', 'DA');
    case 'DT':
      return encodeText('19000101000000', 'DT');
    case 'TM':
      return encodeText('000000', 'TM');
    case 'DS':
    case 'IS':
      return encodeText('0', el.vr);
    case 'AS':
      return encodeText('000D', 'AS');
    case 'AE':
    case 'CS':
    case 'SH':
    case 'LO':
    case 'LT':
    case 'ST':
    case 'UT':
    case 'UC':
    case 'PN':
      return encodeText(DUMMY_TEXT, el.vr);
    case 'UR':
      return encodeText('urn:anonymized', 'UR');
    default:
      // Numbers and binary values: zeros of the same length.
      return new Uint8Array(el.value?.length ?? 0);
  }
}

/** The instance's own identity: always mapped, whatever value a sender put there. */
const IDENTITY_UIDS = new Set<Tag>([Tags.StudyInstanceUID, Tags.SeriesInstanceUID, Tags.SOPInstanceUID]);

function mapUidElement(el: DataElement, ctx: Context): DataElement {
  if (ctx.params.options.retainUIDs || NEVER_MAPPED.has(el.tag)) return el;
  const values = (rawString(el) ?? '').split('\\').map((v) => v.replace(/\0/g, '').trim());
  // Registered UIDs (a well-known frame of reference) keep their meaning; anything else under the
  // DICOM root is an instance UID like any other, so it can neither leak nor be probed for.
  const keep = (v: string) => v === '' || (!IDENTITY_UIDS.has(el.tag) && isStandardUid(v));
  const mapped = values.map((v) => (keep(v) ? v : mapUid(ctx.params.secret, v)));
  return { tag: el.tag, vr: 'UI', value: encodeText(mapped.join('\\'), 'UI') };
}

/** Dates that remain are shifted (Modified Dates), kept (Full Dates) or emptied (no temporal option). */
function handleDate(el: DataElement, ctx: Context): DataElement | undefined {
  const mode = ctx.params.options.retainLongitudinalTemporal;
  if (mode === 'full' || !el.value?.length) return el;
  if (mode === 'off') return { tag: el.tag, vr: el.vr, value: new Uint8Array(0) };
  const text = rawString(el) ?? '';
  const shifted = el.vr === 'DA' ? shiftDA(text, ctx.offsetDays) : shiftDT(text, ctx.offsetDays);
  // A date that cannot be read cannot be shifted, and so cannot be kept.
  return { tag: el.tag, vr: el.vr, value: shifted === undefined ? new Uint8Array(0) : encodeText(shifted, el.vr) };
}

function cleanTextElement(el: DataElement, encoding: string, ctx: Context, whenEmpty: 'D' | 'Z' = 'Z'): DataElement | undefined {
  if (!el.value?.length) return el;
  const text = usesCharset(el.vr) ? decodeText(el.value, encoding) : (rawString(el) ?? '');
  const cleaned = el.vr === 'PN' ? '' : ctx.matcher.clean(text.replace(/[\0 ]+$/, ''));
  if (cleaned === text.replace(/[\0 ]+$/, '')) return el;
  // Nothing left: a dummy where the profile allows one (the attribute may be Type 1), else empty.
  if (!cleaned) return { tag: el.tag, vr: el.vr, value: whenEmpty === 'D' ? dummyValue(el) : new Uint8Array(0) };
  const { element, needsUtf8 } = rewrittenText(el.tag, el.vr, cleaned, encoding, ctx.utf8Elements);
  if (needsUtf8) ctx.rewroteNonLatinText = true;
  return element;
}

const COERCED_VR_WARNING = 'data elements sent with a VR their attribute does not have were read as the data dictionary VR (coerced)';
const CONTRADICTING_VR_WARNING = 'data elements sent with a VR their attribute does not have, and not valid as the data dictionary VR, were removed or replaced';

/** What stands in for an element that contradicts the dictionary: Z and D replace it with a value of the dictionary VR; every other action removes it. */
function replacementByDictionary(el: DataElement, row: ProfileRow | undefined, ctx: Context): DataElement | undefined {
  const action = row ? actionFor(row, ctx.params.options) : undefined;
  if (action !== 'Z' && action !== 'D') return undefined;
  const vr = dictionaryVrFor(el.tag);
  if (!vr) return undefined;
  if (vr === 'SQ') return { tag: el.tag, vr, items: [] };
  const empty: DataElement = { tag: el.tag, vr, value: new Uint8Array(0) };
  return action === 'Z' ? empty : { ...empty, value: dummyValue(empty) };
}

function processSequence(el: DataElement, encoding: string, ctx: Context, textMode: TextMode): DataElement {
  return { tag: el.tag, vr: 'SQ', items: (el.items ?? []).map((item) => processDataset(item, encoding, ctx, textMode)) };
}

function applyAction(action: Action, el: DataElement, encoding: string, ctx: Context, textMode: TextMode, whenEmpty: 'D' | 'Z' = 'Z'): DataElement | undefined {
  const isDate = el.vr === 'DA' || el.vr === 'DT';
  switch (action) {
    case 'X':
      return undefined;
    case 'Z':
      return el.items ? { tag: el.tag, vr: 'SQ', items: [] } : { tag: el.tag, vr: el.vr, value: new Uint8Array(0) };
    case 'D':
      if (el.items) return processSequence(el, encoding, ctx, textMode === 'clean' ? 'clean' : 'dummy');
      if (el.vr === 'UI') return mapUidElement(el, ctx);
      if (isDate && ctx.params.options.retainLongitudinalTemporal === 'modified' && el.value?.length) return handleDate(el, ctx);
      return { tag: el.tag, vr: el.vr, value: dummyValue(el) };
    case 'U':
      if (el.items) return processSequence(el, encoding, ctx, textMode);
      return el.vr === 'UI' ? mapUidElement(el, ctx) : el;
    case 'C':
      if (el.items) return processSequence(el, encoding, ctx, 'clean');
      if (isDate) return handleDate(el, ctx);
      // Times and timezone offsets under Modified Dates: whole-day shifts leave them as they are,
      // but only a value shaped like a time or an offset is kept.
      if (el.vr === 'TM' || el.tag === TIMEZONE_OFFSET) return /^[+-]?[\d.:\\ ]*$/.test(rawString(el) ?? '') ? el : { tag: el.tag, vr: el.vr, value: new Uint8Array(0) };
      if (FREE_TEXT_VRS.has(el.vr)) return cleanTextElement(el, encoding, ctx, whenEmpty);
      if (el.vr === 'UR') return ctx.matcher.findsIn(rawString(el) ?? '') ? undefined : el;
      return el;
    case 'K':
      if (el.items) return processSequence(el, encoding, ctx, textMode);
      if (isDate) return handleDate(el, ctx);
      return el;
  }
}

/**
 * The action for an attribute Table E.1-1 does not list. `localCode`: the data set is a coded
 * entry of an unregistered scheme, whose value and meaning are free text someone typed; they
 * are cleaned even where other unlisted text is kept, and replaced where it is replaced.
 */
function unlistedAction(el: DataElement, textMode: TextMode, localCode: boolean): Action {
  if (el.items) return 'K';
  if (el.vr === 'UI') return 'U';
  if (!lookup(el.tag)) return 'X'; // an attribute nobody can vouch for
  // A local scheme's URL and responsible organisation name the site that made it: they go.
  if (localCode && (el.tag === CODING_SCHEME_URL || el.tag === CODING_SCHEME_RESPONSIBLE_ORGANIZATION)) return 'X';
  // A URL may name anything (the original PACS, the hospital's own scheme): kept only if the cleaner finds nothing in it.
  if (el.vr === 'UR') return 'C';
  if (CODE_ATTRIBUTES.has(el.tag) && !CODE_TEXT.has(el.tag)) return 'K';
  if (localCode && (CODE_TEXT.has(el.tag) || FREE_TEXT_VRS.has(el.vr))) return textMode === 'dummy' ? 'D' : 'C';
  if (CODE_ATTRIBUTES.has(el.tag)) return 'K';
  if (FREE_TEXT_VRS.has(el.vr)) {
    if (textMode === 'clean') return 'C';
    if (textMode === 'dummy') return 'D';
  }
  return 'K';
}

/**
 * A coded entry, or a coding scheme's identification (CodingSchemeIdentificationSequence), of a
 * scheme PS3.16 does not register: its text is someone's, not a standard's.
 */
function isLocalCode(ds: Dataset): boolean {
  return ds.has(T.CodingSchemeDesignator) && !isRegisteredScheme(rawString(ds.get(T.CodingSchemeDesignator))?.trim());
}

function privateCreators(ds: Dataset): Map<string, string> {
  const creators = new Map<string, string>();
  for (const el of ds.values()) {
    const e = elementOf(el.tag);
    if (isPrivateTag(el.tag) && e >= 0x10 && e <= 0xff) creators.set(`${groupOf(el.tag)}:${e}`, (rawString(el) ?? '').trim());
  }
  return creators;
}

/** Private elements survive only under Retain Safe Private, only if listed safe, and then cleaned. */
function processPrivate(el: DataElement, creators: Map<string, string>, encoding: string, ctx: Context): DataElement | undefined {
  if (!ctx.params.options.retainSafePrivate) return undefined;
  const e = elementOf(el.tag);
  if (e < 0x1000) return undefined; // creators are added back for the blocks that keep elements
  const creator = creators.get(`${groupOf(el.tag)}:${e >> 8}`);
  const listed = creator ? safePrivate(creator, groupOf(el.tag), e & 0xff) : undefined;
  if (!listed) {
    // A private sequence may hold safe private attributes (Philips keeps its scale factors in
    // per-frame private items): its items go through every rule, and it stays only if a
    // private attribute of the safe list survives in them.
    if (!el.items) return undefined;
    const items = el.items.map((item) => processDataset(item, encoding, ctx, 'clean'));
    return items.some(hasPrivateElement) ? { tag: el.tag, vr: 'SQ', items } : undefined;
  }
  if (listed.vr) {
    // Sent in implicit VR, a private value is UN: the table says what it is, if its bytes can be
    // that (a sequence of defined length in implicit VR is not read as one here: it goes).
    if (el.vr === 'UN' && !el.items) {
      if (listed.vr === 'SQ' || !valueFitsVr(el.value ?? new Uint8Array(0), listed.vr)) return undefined;
      el = { ...el, vr: listed.vr };
    }
    // Sent as another VR than the table's: what it holds is unknown, and every rule below goes by VR.
    if (el.items ? listed.vr !== 'SQ' : el.vr !== listed.vr) return undefined;
  }
  // Binary private values may hide whole headers (PS3.15 E.3.10 Note 2): not kept.
  if (['OB', 'OW', 'UN', 'OF', 'OD', 'OL', 'OV'].includes(el.vr)) return undefined;
  if (el.items) return processSequence(el, encoding, ctx, 'clean');
  if (el.vr === 'UI') return mapUidElement(el, ctx);
  if (el.vr === 'DA' || el.vr === 'DT') return handleDate(el, ctx);
  if (FREE_TEXT_VRS.has(el.vr)) return cleanTextElement(el, encoding, ctx);
  return el;
}

function hasPrivateElement(ds: Dataset): boolean {
  for (const el of ds.values()) {
    if (isPrivateTag(el.tag) && elementOf(el.tag) >= 0x1000) return true;
    if (el.items?.some(hasPrivateElement)) return true;
  }
  return false;
}

function isOverlayOrCurve(t: Tag): boolean {
  const g = groupOf(t);
  return (g >= 0x5000 && g <= 0x50ff && g % 2 === 0) || (g >= 0x6000 && g <= 0x60ff && g % 2 === 0);
}

/** The text encoding of a data set: its own Specific Character Set, or the one it inherits. */
function encodingOf(ds: Dataset, inherited: string): string {
  const own = ds.get(Tags.SpecificCharacterSet);
  return own ? encodingFor(rawString(own)) : inherited;
}

function processDataset(ds: Dataset, inherited: string, ctx: Context, textMode: TextMode): Dataset {
  const encoding = encodingOf(ds, inherited);
  const creators = privateCreators(ds);
  const localCode = isLocalCode(ds);
  const out: Dataset = new Map();
  for (const el of ds.values()) {
    if (groupOf(el.tag) === 0x0002) continue;
    // Curves and overlays go whole: overlay bitmaps cannot be cleaned, and the rest of the
    // Overlay Plane module is not conformant without them.
    if (isOverlayOrCurve(el.tag)) continue;
    if (isPrivateTag(el.tag)) {
      const kept = processPrivate(el, creators, encoding, ctx);
      if (kept) out.set(el.tag, kept);
      continue;
    }
    if (contradictsDictionary(el)) {
      // Its VR says one thing, the dictionary another, and the bytes fit neither reading safely
      // (the parser read every value that fits as its dictionary VR): a UID under UL is not
      // remapped, text under OB is not cleaned. So it is never kept: removed, or replaced by an
      // empty or dummy value of the dictionary's VR where the profile replaces the attribute.
      const replaced = replacementByDictionary(el, profileRow(el.tag), ctx);
      if (replaced) out.set(el.tag, replaced);
      ctx.warnings.add(CONTRADICTING_VR_WARNING);
      continue;
    }
    if (wasCoerced(el)) ctx.warnings.add(COERCED_VR_WARNING);
    // A local scheme's UID is an OID under the site's own root: replaced like an instance UID.
    if (localCode && el.tag === CODING_SCHEME_UID && !ctx.params.options.retainUIDs) {
      out.set(el.tag, { tag: el.tag, vr: 'UI', value: encodeText(mapUid(ctx.params.secret, rawString(el)?.replace(/\0/g, '').trim() ?? ''), 'UI') });
      continue;
    }
    const row = profileRow(el.tag);
    const action = row ? actionFor(row, ctx.params.options) : unlistedAction(el, textMode, localCode);
    // A coded entry's meaning is Type 1: cleaned to nothing, it becomes a dummy.
    const whenEmpty = row ? emptyCleanedValue(row) : CODE_TEXT.has(el.tag) ? 'D' : 'Z';
    // Dates the table does not list still follow the temporal option.
    const result = !row && (el.vr === 'DA' || el.vr === 'DT') ? handleDate(el, ctx) : applyAction(action, el, encoding, ctx, textMode, whenEmpty);
    if (result) out.set(el.tag, result);
  }
  // Keep the private creator of every block that still has elements.
  for (const t of out.keys()) {
    if (!isPrivateTag(t) || elementOf(t) < 0x1000) continue;
    const creatorTag = ((groupOf(t) << 16) | (elementOf(t) >> 8)) >>> 0;
    const creator = ds.get(creatorTag);
    if (creator) out.set(creatorTag, creator);
  }
  return out;
}

function codeItem(value: string, meaning: string): Dataset {
  const item: Dataset = new Map();
  setText(item, T.CodeValue, 'SH', value);
  setText(item, T.CodingSchemeDesignator, 'SH', 'DCM');
  setText(item, T.CodeMeaning, 'LO', meaning);
  return item;
}

function setText(ds: Dataset, t: Tag, vr: string, text: string): void {
  ds.set(t, stringElement(t, vr, text));
}

export function deidentify(input: Dataset, params: DeidParams, transferSyntaxUID: string = TS.ExplicitVRLittleEndian): DeidResult {
  const pixels = pixelAction(input, params.pixelRecipes ?? SHIPPED_RECIPES, params.acceptBurnedIn);
  const { options, secret } = params;
  const rootEncoding = encodingFor(rawString(input.get(Tags.SpecificCharacterSet)));
  const text = (t: Tag) => {
    const el = input.get(t);
    return el?.value ? decodeText(el.value, rootEncoding).replace(/[\0 ]+$/, '').trim() : '';
  };
  const issuer = text(T.IssuerOfPatientID);
  const original = {
    study: readUidValue(input.get(Tags.StudyInstanceUID)) ?? '',
    series: readUidValue(input.get(Tags.SeriesInstanceUID)) ?? '',
    instance: readUidValue(input.get(Tags.SOPInstanceUID)) ?? '',
  };
  // A patient without an ID is known by name and birth date; with neither, each study is its own patient.
  const patientKey = text(Tags.PatientID) || (text(Tags.PatientName) ? `name:${text(Tags.PatientName)}|${text(Tags.PatientBirthDate)}` : `study:${original.study}`);
  const pseudonym = patientPseudonym(secret, issuer, patientKey);

  // Every identifier, at any depth, before any action: descriptions are cleaned of them and
  // the last sweep removes them from whatever text the rules kept.
  const identifiers = collectIdentifiers(input, options);
  const ctx: Context = {
    params,
    matcher: new IdentifierMatcher(identifiers),
    offsetDays: dateOffsetDays(secret, issuer, patientKey),
    rewroteNonLatinText: false,
    utf8Elements: new WeakSet(),
    warnings: new Set(),
  };
  const out = processDataset(input, 'latin1', ctx, 'keep');
  const swept = sweepRetainedText(out, rootEncoding, ctx.matcher.forSweep(), ctx.utf8Elements);
  if (ctx.rewroteNonLatinText || swept.rewroteNonLatinText) {
    reencodeAsUtf8(out, ctx.utf8Elements);
    ctx.warnings.add('text was re-encoded as UTF-8 (ISO_IR 192) after cleaning');
  }

  let outputSyntax = transferSyntaxUID;
  if (pixels.kind === 'clean') {
    outputSyntax = cleanBurnedInPixels(out, transferSyntaxUID, pixels.recipe.regions);
    setText(out, BURNED_IN_ANNOTATION, 'CS', 'NO');
    if (outputSyntax !== transferSyntaxUID) ctx.warnings.add('burned-in text was blanked in decoded pixels, stored uncompressed');
  }

  setText(out, Tags.PatientID, 'LO', pseudonym);
  setText(out, Tags.PatientName, 'PN', pseudonym);
  setText(out, T.PatientIdentityRemoved, 'CS', 'YES');
  const codes = [BASIC_PROFILE_CODE, ...(pixels.kind === 'clean' ? [CLEAN_PIXEL_DATA_CODE] : []), ...optionCodes(options)];
  setText(out, T.DeidentificationMethod, 'LO', ['Veilgate PS3.15 Annex E', ...codes.map((c) => c.meaning.slice(0, 64))].join('\\'));
  out.set(T.DeidentificationMethodCodeSequence, {
    tag: T.DeidentificationMethodCodeSequence,
    vr: 'SQ',
    items: codes.map((c) => codeItem(c.value, c.meaning)),
  });
  const temporal = { full: 'UNMODIFIED', modified: 'MODIFIED', off: 'REMOVED' }[options.retainLongitudinalTemporal];
  setText(out, T.LongitudinalTemporalInformationModified, 'CS', temporal);

  return {
    dataset: out,
    transferSyntaxUID: outputSyntax,
    warnings: [...ctx.warnings],
    sweptPaths: swept.paths,
    pixelRecipe: pixels.kind === 'clean' ? pixels.recipe.name : undefined,
    pixelsToCheck: pixels.kind !== 'none',
    identifierWords: ctx.matcher.words(),
    linkage: {
      issuerOfPatientID: issuer,
      patientID: text(Tags.PatientID),
      pseudonym,
      originalStudyUID: original.study,
      studyUID: readUidValue(out.get(Tags.StudyInstanceUID)) ?? '',
      originalSeriesUID: original.series,
      seriesUID: readUidValue(out.get(Tags.SeriesInstanceUID)) ?? '',
      originalSOPInstanceUID: original.instance,
      sopInstanceUID: readUidValue(out.get(Tags.SOPInstanceUID)) ?? '',
    },
  };
}
