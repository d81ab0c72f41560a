/** Value representation facts from PS3.5 section 6.2 and 7.1.2. */

const KNOWN = new Set([
  'AE', 'AS', 'AT', 'CS', 'DA', 'DS', 'DT', 'FD', 'FL', 'IS', 'LO', 'LT', 'OB', 'OD', 'OF', 'OL', 'OV', 'OW',
  'PN', 'SH', 'SL', 'SQ', 'SS', 'ST', 'SV', 'TM', 'UC', 'UI', 'UL', 'UN', 'UR', 'US', 'UT', 'UV',
]);

/** VRs whose explicit encoding has a 4-byte length (PS3.5 Table 7.1-1). */
const LONG_LENGTH = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);

/** VRs sent as bulk data rather than inline values. */
const BINARY = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'UN']);

/** Byte width of each number in VRs that need swapping between big and little endian. */
const SWAP_WIDTH: Record<string, number> = {
  US: 2, SS: 2, OW: 2, AT: 2, UL: 4, SL: 4, FL: 4, OF: 4, OL: 4, FD: 8, OD: 8, SV: 8, UV: 8, OV: 8,
};

/** String VRs whose value may hold several values separated by a backslash. */
const MULTI_VALUED_STRING = new Set(['AE', 'AS', 'CS', 'DA', 'DS', 'DT', 'IS', 'LO', 'PN', 'SH', 'TM', 'UC', 'UI']);

/** String VRs whose bytes are text in the data set's character set (others are plain ASCII). */
const CHARSET_TEXT = new Set(['LO', 'LT', 'PN', 'SH', 'ST', 'UC', 'UT']);

export const isKnownVr = (vr: string): boolean => KNOWN.has(vr);
export const hasLongLength = (vr: string): boolean => LONG_LENGTH.has(vr);
export const isBinaryVr = (vr: string): boolean => BINARY.has(vr);
export const swapWidth = (vr: string): number => SWAP_WIDTH[vr] ?? 1;
export const isMultiValuedString = (vr: string): boolean => MULTI_VALUED_STRING.has(vr);
export const usesCharset = (vr: string): boolean => CHARSET_TEXT.has(vr);
export const isStringVr = (vr: string): boolean =>
  MULTI_VALUED_STRING.has(vr) || vr === 'LT' || vr === 'ST' || vr === 'UT' || vr === 'UR';

/** Pad byte for odd-length values: UI and binary VRs pad with NUL, text with a space. */
export function padByte(vr: string): number {
  return vr === 'UI' || BINARY.has(vr) ? 0x00 : 0x20;
}
