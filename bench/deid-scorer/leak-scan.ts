/**
 * The leak scan: every PHI token of every instance, searched everywhere the gateway keeps or
 * says anything: each stored file (parsed and decoded attribute by attribute, and as raw
 * Latin-1 and UTF-8 bytes with the pixel data left out, since pixels are not text), every
 * other file of the data directory (the SQLite index and its journal), the STOW-RS, QIDO-RS
 * and metadata answers and the log lines. A token found anywhere is a leak.
 */
import { keywordOf, tagFor } from '../../src/dicom/dictionary';
import { CorpusInstance, encodeInCharset, ObjectKind } from '../../src/synthetic/deid-corpus';
import { pathLabel, readings, walk } from './dataset-text';
import { Answer, GatewayOutput } from './gateway-run';
import { StoredInstance } from './stored';
import { Pattern, TokenMatcher } from './token-matcher';

export type LeakSource = 'stored file' | 'index database' | 'other file' | 'QIDO-RS' | 'metadata' | 'STOW-RS response' | 'log';

export interface Leak {
  token: string;
  source: LeakSource;
  /** File, response or log line, and the attribute (or byte offset) inside it. */
  where: string;
  /** The attribute path without item numbers, for grouping leaks into classes. */
  attribute: string;
  kind?: ObjectKind;
}

const PIXEL_DATA = 0x7fe00010;

/** The tokens, and the byte spellings they would have in the character sets the corpus wrote them in. */
function patterns(corpus: CorpusInstance[]): Pattern[] {
  const tokens = new Set(corpus.flatMap((c) => c.tokens));
  const out: Pattern[] = [];
  for (const token of tokens) {
    out.push({ text: token, token });
    if (/\p{Script=Cyrillic}/u.test(token)) {
      try {
        out.push({ text: encodeInCharset(token, 'cyrillic').toString('latin1'), token });
      } catch {
        /* not all Cyrillic is in ISO 8859-5 */
      }
    }
    if (/^[^\x00-\x7f]+$/.test(token) && /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}]/u.test(token)) {
      try {
        out.push({ text: encodeInCharset(token, 'japanese').toString('latin1'), token });
      } catch {
        /* not in JIS X 0208 */
      }
    }
  }
  return out;
}

/** A file's bytes with its pixel data zeroed: pixel values are not text and would match by chance. */
function withoutPixels(bytes: Buffer, stored: StoredInstance | undefined): Buffer {
  const px = stored?.dataset.get(PIXEL_DATA)?.value;
  if (!px || px.buffer !== bytes.buffer) return bytes;
  const copy = Buffer.from(bytes);
  copy.fill(0, px.byteOffset - bytes.byteOffset, px.byteOffset - bytes.byteOffset + px.byteLength);
  return copy;
}

function jsonKeyLabel(key: string): string {
  return /^[0-9A-Fa-f]{8}$/.test(key) ? (keywordOf(parseInt(key, 16) >>> 0) ?? key) : key;
}

/**
 * Every string of a JSON document with the path to it, in the DICOM JSON model's terms:
 * "[3] > RequestAttributesSequence[0] > CodeMeaning[0]" (Value arrays fold into their attribute).
 */
function* jsonStrings(value: unknown, path: string[] = []): Generator<{ path: string[]; text: string }> {
  if (typeof value === 'string' || typeof value === 'number') {
    yield { path, text: String(value) };
  } else if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const at = path.length ? [...path.slice(0, -1), `${path[path.length - 1]}[${i}]`] : [`[${i}]`];
      yield* jsonStrings(value[i], at);
    }
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      yield { path, text: k };
      yield* jsonStrings(v, k === 'Value' || k === 'vr' ? path : [...path, jsonKeyLabel(k)]);
    }
  }
}

/** Which kind of place a text came from, for the summary. */
function sourceOf(label: string): LeakSource {
  if (label.startsWith('QIDO')) return 'QIDO-RS';
  if (label.startsWith('metadata')) return 'metadata';
  if (label.startsWith('STOW')) return 'STOW-RS response';
  return 'log';
}

export function scanForLeaks(corpus: CorpusInstance[], output: GatewayOutput, bySop: Map<string, StoredInstance>, kindOfSop: Map<string, ObjectKind>): Leak[] {
  const matcher = new TokenMatcher(patterns(corpus));
  const leaks = new Map<string, Leak>();
  const add = (source: LeakSource, token: string, where: string, attribute: string, kind?: ObjectKind) => {
    const key = `${token}\0${where}`;
    if (!leaks.has(key)) leaks.set(key, { token, source, where, attribute, kind });
  };
  const storedByFile = new Map([...bySop].map(([sop, s]) => [s.file, { s, kind: kindOfSop.get(sop) }]));

  for (const f of output.files) {
    const dicom = storedByFile.get(f.name);
    const seen = new Set<string>();
    if (dicom) {
      const elements = [...walk(dicom.s.meta), ...walk(dicom.s.dataset)];
      for (const { el, path, encoding } of elements) {
        if (el.tag === PIXEL_DATA) continue;
        for (const text of readings(el, encoding)) {
          for (const m of matcher.find(text)) {
            seen.add(m.token);
            add('stored file', m.token, `${f.name}: ${pathLabel(path)}`, pathLabel(path, false), dicom.kind);
          }
        }
      }
    }
    const raw = withoutPixels(f.bytes, dicom?.s);
    // A database and its journal are one place: which of them holds a row depends on when
    // SQLite last checkpointed, so a token counts once for the pair.
    const place = dicom ? f.name : f.name.replace(/-(wal|shm|journal)$/, '') + (/\.sqlite|\.db/.test(f.name) ? ' (+ -wal, -shm)' : '');
    for (const view of [raw.toString('latin1'), raw.toString('utf8')]) {
      for (const m of matcher.find(view)) {
        if (seen.has(m.token)) continue;
        // Three letters turn up by chance in tens of megabytes of SQLite's binary pages (WAL frames,
        // b-tree headers): in a database a token that short is noise. Rows are text, and every row
        // is also read back through QIDO and metadata, which are scanned whole.
        if (!dicom && /sqlite|\.db/.test(place) && m.token.length < 4) continue;
        if (dicom) add('stored file', m.token, `${place} @byte ${m.index}`, '(bytes outside any attribute: preamble)', dicom.kind);
        else add(/sqlite|\.db/.test(place) ? 'index database' : 'other file', m.token, place, place.replace(/[0-9a-f]{8,}/g, '…'));
      }
    }
  }

  const texts: Answer[] = [...output.answers, ...output.logLines.map((text, i) => ({ label: `log line ${i + 1}`, text }))];
  const sopTag = tagFor('SOPInstanceUID')!.toString(16).toUpperCase().padStart(8, '0');
  for (const a of texts) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(a.text);
    } catch {
      for (const m of matcher.find(a.text)) add(sourceOf(a.label), m.token, `${a.label} @char ${m.index}`, a.label.replace(/\d+/g, 'N'));
      continue;
    }
    for (const { path, text } of jsonStrings(parsed)) {
      for (const m of matcher.find(text)) {
        // Which instance a QIDO or metadata entry describes, for the object kind.
        const top = Array.isArray(parsed) && /^\[\d+\]$/.test(path[0] ?? '') ? (parsed as Record<string, { Value?: string[] }>[])[Number(path[0].slice(1, -1))] : undefined;
        const kind = top?.[sopTag]?.Value?.[0] ? kindOfSop.get(top[sopTag].Value![0]) : undefined;
        const where = `${a.label}: ${path.join(' > ')}`;
        const attribute = path.slice(/^\[\d+\]$/.test(path[0] ?? '') ? 1 : 0).map((p) => p.replace(/\[\d+\]$/, '')).join(' > ');
        add(sourceOf(a.label), m.token, where, `${a.label.replace(/ (offset|response|line) \d+$| [0-9.]+$/, '')}: ${attribute}`, kind);
      }
    }
  }
  return [...leaks.values()];
}
