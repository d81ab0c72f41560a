/**
 * Builds a data set and its answer key together: every value is planted with what a correct
 * de-identification must do to it, so the key can never drift from the data. One Level is
 * one data set (the instance, or an item of a sequence) at a known path.
 */
import { Dataset, DataElement, Tag } from '../../dicom/dataset';
import { lookup, tagFor } from '../../dicom/dictionary';
import { padByte, usesCharset } from '../../dicom/vr';
import { AnswerItem, AttributePath } from './answer-key';
import { Charset, encodeInCharset } from './charsets';

/** What one instance accumulates while it is built. */
export class InstanceRecord {
  readonly tokens = new Set<string>();
  readonly answers: AnswerItem[] = [];
  constructor(readonly charset: Charset) {}
}

/** Free text with what must survive cleaning (clinical words) and what must not (PHI). */
export interface FreeText {
  text: string;
  retained: string[];
  tokens: string[];
}

type Name = string | Tag;

function resolve(name: Name, vr?: string): { tag: Tag; vr: string } {
  const tag = typeof name === 'number' ? name : tagFor(name);
  if (tag === undefined) throw new Error(`unknown attribute ${name}`);
  const resolved = vr ?? lookup(tag)?.vr.split('|')[0];
  if (!resolved) throw new Error(`attribute ${typeof name === 'number' ? tag.toString(16) : name} needs an explicit VR`);
  return { tag, vr: resolved };
}

function padded(bytes: Uint8Array, vr: string): Uint8Array {
  if (bytes.length % 2 === 0) return bytes;
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  out[bytes.length] = padByte(vr);
  return out;
}

function includesToken(text: string, token: string): boolean {
  return text.toLowerCase().includes(token.toLowerCase());
}

export class Level {
  constructor(
    readonly ds: Dataset,
    readonly path: AttributePath,
    readonly record: InstanceRecord,
  ) {}

  get charset(): Charset {
    return this.record.charset;
  }

  private at(tag: Tag): AttributePath {
    return [...this.path, { tag }];
  }

  private put(name: Name, value: string | Uint8Array, vr?: string): { tag: Tag; vr: string } {
    const r = resolve(name, vr);
    let bytes: Uint8Array;
    if (typeof value !== 'string') bytes = value;
    else if (usesCharset(r.vr)) bytes = encodeInCharset(value, this.charset);
    else bytes = Buffer.from(value, 'latin1'); // DA, CS, UI, DS, … are ASCII by definition
    this.ds.set(r.tag, { tag: r.tag, vr: r.vr, value: padded(bytes, r.vr) });
    return r;
  }

  /** A value nothing is asked of (structural attributes the answer key need not score). */
  set(name: Name, value: string | Uint8Array, vr?: string): void {
    this.put(name, value, vr);
  }

  /** Must come through with the same value. */
  keep(name: Name, value: string, vr?: string): void {
    const { tag } = this.put(name, value, vr);
    this.record.answers.push({ action: 'tag_retained', path: this.at(tag), value: value.replace(/[\0 ]+$/, '') });
  }

  /** A binary value (US, FD, …) that must come through unchanged, compared as hex bytes. */
  keepBinary(name: Name, bytes: Uint8Array, vr?: string): void {
    const { tag } = this.put(name, bytes, vr);
    this.record.answers.push({ action: 'tag_retained', path: this.at(tag), value: Buffer.from(bytes).toString('hex') });
  }

  /** Identifying: every token must be gone from this attribute and from everything stored. */
  phi(name: Name, value: string | Uint8Array, tokens: string[], vr?: string): void {
    const { tag } = this.put(name, value, vr);
    const text = typeof value === 'string' ? value : Buffer.from(value).toString('utf8');
    for (const token of tokens) {
      if (!includesToken(text, token)) throw new Error(`generator: token "${token}" is not in the value planted at ${tag.toString(16)}`);
      this.record.tokens.add(token);
      this.record.answers.push({ action: 'text_removed', path: this.at(tag), token });
    }
  }

  /** Free text under Clean Descriptors: its clinical words stay, its identity goes. */
  clean(name: Name, t: FreeText, vr?: string): void {
    this.phi(name, t.text, t.tokens, vr);
    const { tag } = resolve(name, vr);
    if (t.retained.length) this.record.answers.push({ action: 'text_retained', path: this.at(tag), words: t.retained });
  }

  /** A registered code meaning or other kept text that is scored word by word. */
  keepWords(name: Name, value: string, words: string[], vr?: string): void {
    const { tag } = this.put(name, value, vr);
    this.record.answers.push({ action: 'text_retained', path: this.at(tag), words });
  }

  /** Replaced by a pseudonym, never emptied. */
  notNull(name: Name): void {
    const { tag } = resolve(name);
    this.record.answers.push({ action: 'text_notnull', path: this.at(tag) });
  }

  /** A date or date-time that must move by the patient's offset. */
  date(name: Name, value: string): void {
    const { tag, vr } = this.put(name, value);
    if (vr !== 'DA' && vr !== 'DT') throw new Error(`generator: ${String(name)} is not a date`);
    this.record.answers.push({ action: 'date_shifted', path: this.at(tag), original: value, vr });
  }

  /**
   * An instance UID: replaced, and (when it occurs elsewhere too) replaced the same way
   * everywhere. Original UIDs are tokens: they must not survive anywhere.
   */
  uid(name: Name, value: string, opts: { consistent?: boolean } = {}): void {
    const { tag } = this.put(name, value, 'UI');
    this.record.tokens.add(value);
    this.record.answers.push({ action: 'uid_changed', path: this.at(tag), original: value });
    if (opts.consistent) this.record.answers.push({ action: 'uid_consistent', path: this.at(tag), original: value });
  }

  /** Patient ID: a pseudonym, one per patient. */
  patientId(value: string, patientKey: string): void {
    const tag = 0x00100020;
    this.phi(tag, value, [value]);
    this.record.answers.push({ action: 'text_notnull', path: this.at(tag) });
    this.record.answers.push({ action: 'patid_consistent', path: this.at(tag), patientKey, original: value });
  }

  /** Must be gone (or empty): binary content with identity drawn into it. */
  removedBinary(name: Name, bytes: Uint8Array, vr?: string): void {
    const { tag } = this.put(name, bytes, vr);
    this.record.answers.push({ action: 'tag_removed', path: this.at(tag) });
  }

  /** A sequence: each builder fills one item, in order. */
  seq(name: Name, items: ((item: Level) => void)[], vr = 'SQ'): void {
    const { tag } = resolve(name, vr);
    const el: DataElement = { tag, vr: 'SQ', items: [] };
    items.forEach((fill, i) => {
      const item: Dataset = new Map();
      fill(new Level(item, [...this.path, { tag, item: i }], this.record));
      el.items!.push(item);
    });
    this.ds.set(tag, el);
  }

  /** A raw element (pixel data and other binary values the key scores elsewhere). */
  raw(el: DataElement): void {
    this.ds.set(el.tag, el);
  }
}

/** Little-endian US values. */
export function uint16(...values: number[]): Uint8Array {
  const b = Buffer.alloc(values.length * 2);
  values.forEach((v, i) => b.writeUInt16LE(v, i * 2));
  return b;
}

export function uint32(...values: number[]): Uint8Array {
  const b = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => b.writeUInt32LE(v, i * 4));
  return b;
}

export function float64(...values: number[]): Uint8Array {
  const b = Buffer.alloc(values.length * 8);
  values.forEach((v, i) => b.writeDoubleLE(v, i * 8));
  return b;
}
