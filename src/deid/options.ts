/**
 * De-identification options of PS3.15 Annex E (E.3) and the codes that name them in
 * DeidentificationMethodCodeSequence (CID 7050).
 */
export interface DeidOptions {
  retainSafePrivate: boolean;
  retainUIDs: boolean;
  retainDeviceIdentity: boolean;
  retainInstitutionIdentity: boolean;
  retainPatientCharacteristics: boolean;
  /** Retain Longitudinal Temporal Information: off, Full Dates, or Modified Dates (shifted per patient). */
  retainLongitudinalTemporal: 'off' | 'full' | 'modified';
  cleanDescriptors: boolean;
  cleanStructuredContent: boolean;
  cleanGraphics: boolean;
}

/** Basic Profile + Modified Dates + Patient Characteristics + Clean Descriptors. */
export const DEFAULT_DEID_OPTIONS: DeidOptions = {
  retainSafePrivate: false,
  retainUIDs: false,
  retainDeviceIdentity: false,
  retainInstitutionIdentity: false,
  retainPatientCharacteristics: true,
  retainLongitudinalTemporal: 'modified',
  cleanDescriptors: true,
  cleanStructuredContent: false,
  cleanGraphics: false,
};

export interface MethodCode {
  value: string;
  meaning: string;
}

export const BASIC_PROFILE_CODE: MethodCode = { value: '113100', meaning: 'Basic Application Confidentiality Profile' };
/** Burned-in text blanked by a pixel recipe (PS3.15 E.3.1). */
export const CLEAN_PIXEL_DATA_CODE: MethodCode = { value: '113101', meaning: 'Clean Pixel Data Option' };

/** The codes of the options in force, in CID 7050 order. */
export function optionCodes(o: DeidOptions): MethodCode[] {
  const codes: MethodCode[] = [];
  if (o.cleanGraphics) codes.push({ value: '113103', meaning: 'Clean Graphics Option' });
  if (o.cleanStructuredContent) codes.push({ value: '113104', meaning: 'Clean Structured Content Option' });
  if (o.cleanDescriptors) codes.push({ value: '113105', meaning: 'Clean Descriptors Option' });
  if (o.retainLongitudinalTemporal === 'full') codes.push({ value: '113106', meaning: 'Retain Longitudinal Temporal Information Full Dates Option' });
  if (o.retainLongitudinalTemporal === 'modified') codes.push({ value: '113107', meaning: 'Retain Longitudinal Temporal Information Modified Dates Option' });
  if (o.retainPatientCharacteristics) codes.push({ value: '113108', meaning: 'Retain Patient Characteristics Option' });
  if (o.retainDeviceIdentity) codes.push({ value: '113109', meaning: 'Retain Device Identity Option' });
  if (o.retainUIDs) codes.push({ value: '113110', meaning: 'Retain UIDs Option' });
  if (o.retainSafePrivate) codes.push({ value: '113111', meaning: 'Retain Safe Private Option' });
  if (o.retainInstitutionIdentity) codes.push({ value: '113112', meaning: 'Retain Institution Identity Option' });
  return codes;
}

const NAMES: Record<string, keyof DeidOptions> = {
  retainsafeprivate: 'retainSafePrivate',
  retainuids: 'retainUIDs',
  retaindeviceidentity: 'retainDeviceIdentity',
  retaininstitutionidentity: 'retainInstitutionIdentity',
  retainpatientcharacteristics: 'retainPatientCharacteristics',
  cleandescriptors: 'cleanDescriptors',
  cleanstructuredcontent: 'cleanStructuredContent',
  cleangraphics: 'cleanGraphics',
};

/**
 * Options from a list such as "retainUIDs,-cleanDescriptors,dates=full" (DEID_OPTIONS):
 * a name turns an option on, a leading '-' turns it off, dates= sets the temporal option.
 */
export function parseOptionList(list: string, base: DeidOptions = DEFAULT_DEID_OPTIONS): DeidOptions {
  const o: DeidOptions = { ...base };
  for (const raw of list.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [name, value] = raw.split('=');
    if (name.toLowerCase() === 'dates') {
      if (value !== 'off' && value !== 'full' && value !== 'modified') throw new Error(`deid option dates must be off, full or modified`);
      o.retainLongitudinalTemporal = value;
      continue;
    }
    const off = name.startsWith('-');
    const key = NAMES[name.replace(/^[-+]/, '').toLowerCase()];
    if (!key) throw new Error(`unknown de-identification option "${name}"`);
    (o as unknown as Record<string, boolean>)[key] = !off;
  }
  return o;
}
