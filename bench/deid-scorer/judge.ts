/**
 * Judges every answer-key item against what the gateway stored. Items that depend on other
 * instances (one date offset per patient, one new UID per original, one pseudonym per
 * patient) are judged against the consensus over the whole output, so a tool is right when
 * it is consistent, whatever its mapping. An instance that was not stored gets every item
 * wrong: a refused instance is data lost.
 */
import { daysBetween } from '../../src/synthetic/deid-corpus/calendar';
import { AnswerItem, AttributePath, CorpusInstance, PixelLayout, Region } from '../../src/synthetic/deid-corpus';
import { comparable, locate, readings } from './dataset-text';
import { StoredInstance } from './stored';
import { containsToken } from './token-matcher';

export interface Verdict {
  instance: CorpusInstance;
  item: AnswerItem;
  correct: boolean;
  /** Why it failed, in a few words; never a whole stored value. */
  reason?: string;
}

const PIXEL_DATA = [{ tag: 0x7fe00010 }];
const UID = /^(0|[1-9]\d*)(\.(0|[1-9]\d*))+$/;

/** File meta attributes (group 0002) are looked up in the meta information, the rest in the data set. */
function locateStored(s: StoredInstance, path: AttributePath) {
  return locate(path[0]?.tag >>> 16 === 0x0002 ? s.meta : s.dataset, path);
}

function storedValue(s: StoredInstance, item: AnswerItem): string | undefined {
  if (!('path' in item)) return undefined;
  const at = locateStored(s, item.path);
  return at ? comparable(at.el, at.encoding) : undefined;
}

/** The most common value of a list (first seen wins a tie); undefined for an empty list. */
function modal<T>(values: T[]): T | undefined {
  const counts = new Map<T, number>();
  let best: T | undefined;
  let bestCount = 0;
  for (const v of values) {
    const n = (counts.get(v) ?? 0) + 1;
    counts.set(v, n);
    if (n > bestCount) [best, bestCount] = [v, n];
  }
  return best;
}

/** What the whole output agrees on: each patient's day offset and pseudonym, each original UID's replacement. */
class Consensus {
  readonly dayOffset = new Map<string, number | undefined>();
  readonly uid = new Map<string, string | undefined>();
  readonly patientId = new Map<string, string | undefined>();
  /** How many patients ended up with each pseudonym. */
  readonly patientsPerId = new Map<string, number>();

  constructor(stored: Map<CorpusInstance, StoredInstance>) {
    const offsets = new Map<string, number[]>();
    const uids = new Map<string, string[]>();
    const ids = new Map<string, string[]>();
    for (const [c, s] of stored) {
      for (const item of c.answers) {
        const v = storedValue(s, item);
        if (v === undefined || v === '') continue;
        if (item.action === 'date_shifted') {
          const d = daysBetween(item.original.slice(0, 8), v.slice(0, 8));
          if (d !== undefined) offsets.set(c.patientKey, [...(offsets.get(c.patientKey) ?? []), d]);
        } else if (item.action === 'uid_changed' || item.action === 'uid_consistent') {
          uids.set(item.original, [...(uids.get(item.original) ?? []), v]);
        } else if (item.action === 'patid_consistent') {
          ids.set(item.patientKey, [...(ids.get(item.patientKey) ?? []), v]);
        }
      }
    }
    for (const [k, v] of offsets) this.dayOffset.set(k, modal(v));
    for (const [k, v] of uids) this.uid.set(k, modal(v));
    for (const [k, v] of ids) {
      const m = modal(v);
      this.patientId.set(k, m);
      if (m !== undefined) this.patientsPerId.set(m, (this.patientsPerId.get(m) ?? 0) + 1);
    }
  }
}

function pixelData(s: StoredInstance): Uint8Array | undefined {
  return locate(s.dataset, PIXEL_DATA)?.el.value;
}

/** Byte ranges of a region, row by row, in every frame. */
function* regionRows(layout: PixelLayout, region: Region): Generator<[number, number]> {
  const bytesPerSample = layout.bitsAllocated / 8;
  const pixelBytes = layout.samplesPerPixel * bytesPerSample;
  const frameBytes = layout.rows * layout.columns * pixelBytes;
  for (let f = 0; f < layout.frames; f++) {
    for (let y = region.y; y < Math.min(layout.rows, region.y + region.height); y++) {
      const start = f * frameBytes + (y * layout.columns + region.x) * pixelBytes;
      yield [start, start + Math.min(region.width, layout.columns - region.x) * pixelBytes];
    }
  }
}

function judgePixels(c: CorpusInstance, s: StoredInstance, item: AnswerItem & { action: 'pixels_hidden' | 'pixels_retained' }): string | undefined {
  const original = c.pixels;
  const stored = pixelData(s);
  if (!original || !stored) return 'no pixel data';
  if (stored.length < original.data.length) return `pixel data shorter (${stored.length} of ${original.data.length} bytes)`;
  if (item.action === 'pixels_hidden') {
    for (const [a, b] of regionRows(original.layout, item.region)) {
      for (let i = a; i < b; i++) if (stored[i] !== 0) return `banner not blank (byte ${i} is ${stored[i]})`;
    }
    return undefined;
  }
  const inside = new Uint8Array(original.data.length);
  if (item.region) for (const [a, b] of regionRows(original.layout, item.region)) inside.fill(1, a, b);
  let changed = 0;
  for (let i = 0; i < original.data.length; i++) if (!inside[i] && stored[i] !== original.data[i]) changed++;
  return changed ? `${changed} bytes outside the banner changed` : undefined;
}

function judgeItem(c: CorpusInstance, s: StoredInstance, item: AnswerItem, consensus: Consensus): string | undefined {
  if (item.action === 'pixels_hidden' || item.action === 'pixels_retained') return judgePixels(c, s, item);
  const at = locateStored(s, item.path);
  const value = at ? comparable(at.el, at.encoding) : undefined;
  switch (item.action) {
    case 'text_removed': {
      if (!at) return undefined;
      return readings(at.el, at.encoding).some((t) => containsToken(t, item.token)) ? `"${item.token}" still there` : undefined;
    }
    case 'text_retained': {
      if (!at) return 'attribute removed';
      const text = readings(at.el, at.encoding).join(' ');
      const missing = item.words.filter((w) => !containsToken(text, w));
      return missing.length ? `lost ${missing.map((w) => `"${w}"`).join(', ')}` : undefined;
    }
    case 'tag_retained':
      if (!at) return 'attribute removed';
      return value === item.value ? undefined : `changed from "${item.value.slice(0, 40)}" to "${(value ?? '').slice(0, 40)}"`;
    case 'tag_removed':
      return at?.el.value?.length || at?.el.items?.length ? 'still present' : undefined;
    case 'text_notnull':
      return value && value.replace(/[\^= ]/g, '') ? undefined : at ? 'empty' : 'attribute removed';
    case 'date_shifted': {
      if (!value) return at ? 'emptied' : 'attribute removed';
      const days = daysBetween(item.original.slice(0, 8), value.slice(0, 8));
      if (days === undefined) return `not a date ("${value.slice(0, 26)}")`;
      if (days === 0) return 'not shifted';
      if (item.vr === 'DT' && value.slice(8) !== item.original.slice(8)) return `time part changed (${item.original.slice(8)} → ${value.slice(8)})`;
      const patientDays = consensus.dayOffset.get(c.patientKey);
      return days === patientDays ? undefined : `shifted ${days} days, the patient's other dates ${patientDays}`;
    }
    case 'uid_changed':
      if (!value) return at ? 'emptied' : 'attribute removed';
      if (value === item.original) return 'not replaced';
      return UID.test(value) && value.length <= 64 ? undefined : `not a valid UID ("${value.slice(0, 70)}")`;
    case 'uid_consistent': {
      if (!value) return at ? 'emptied' : 'attribute removed';
      const agreed = consensus.uid.get(item.original);
      if (value === item.original) return 'not replaced';
      return value === agreed ? undefined : 'mapped differently from other occurrences of the same UID';
    }
    case 'patid_consistent': {
      if (!value) return at ? 'emptied' : 'attribute removed';
      if (value === item.original) return 'not replaced';
      const agreed = consensus.patientId.get(item.patientKey);
      if (value !== agreed) return "differs from the patient's other instances";
      return (consensus.patientsPerId.get(value) ?? 0) > 1 ? 'shared with another patient' : undefined;
    }
  }
}

export function judgeAll(corpus: CorpusInstance[], stored: Map<CorpusInstance, StoredInstance>, notStored: (c: CorpusInstance) => string): Verdict[] {
  const consensus = new Consensus(stored);
  const verdicts: Verdict[] = [];
  for (const c of corpus) {
    const s = stored.get(c);
    for (const item of c.answers) {
      const reason = s ? judgeItem(c, s, item, consensus) : notStored(c);
      verdicts.push({ instance: c, item, correct: reason === undefined, reason });
    }
  }
  return verdicts;
}
