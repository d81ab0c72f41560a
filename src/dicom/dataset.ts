/**
 * The in-memory data set model. Values are kept as raw little-endian bytes (the
 * encoding Explicit VR Little Endian uses), so an element the gateway does not
 * touch is written back bit for bit, whatever its VR.
 */
export type Tag = number;

export interface DataElement {
  tag: Tag;
  vr: string;
  /** Value bytes in little-endian order, for every VR but SQ and encapsulated pixel data. */
  value?: Uint8Array;
  /** Items of a sequence (VR SQ). */
  items?: Dataset[];
  /** Encapsulated pixel data: fragments[0] is the Basic Offset Table, the rest are data fragments. */
  fragments?: Uint8Array[];
}

export type Dataset = Map<Tag, DataElement>;

export function tag(group: number, element: number): Tag {
  return ((group << 16) | element) >>> 0;
}

export function groupOf(t: Tag): number {
  return t >>> 16;
}

export function elementOf(t: Tag): number {
  return t & 0xffff;
}

export function tagHex(t: Tag): string {
  return t.toString(16).toUpperCase().padStart(8, '0');
}

export function parseTagHex(hex: string): Tag | undefined {
  if (!/^[0-9A-Fa-f]{8}$/.test(hex)) return undefined;
  return parseInt(hex, 16) >>> 0;
}

export function isPrivateTag(t: Tag): boolean {
  return (groupOf(t) & 1) === 1;
}

/** Elements sorted by tag, as they must be encoded. */
export function sortedElements(ds: Dataset): DataElement[] {
  return [...ds.values()].sort((a, b) => a.tag - b.tag);
}
