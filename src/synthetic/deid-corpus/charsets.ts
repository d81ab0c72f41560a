/**
 * Text encoders for the character sets the corpus uses (PS3.5 6.1): ISO_IR 100 (Latin-1),
 * ISO_IR 192 (UTF-8), ISO_IR 144 (ISO 8859-5, Cyrillic) and ISO 2022 IR 87 (JIS X 0208 with
 * code extensions, Japanese). The project only decodes these, so the two that Node cannot
 * encode are built by reverse-mapping its decoders over every code they have.
 */
import { TextDecoder } from 'node:util';

export type Charset = 'latin1' | 'utf8' | 'cyrillic' | 'japanese';

/** The Specific Character Set value that declares each one. */
export const SPECIFIC_CHARACTER_SET: Record<Charset, string> = {
  latin1: 'ISO_IR 100',
  utf8: 'ISO_IR 192',
  cyrillic: 'ISO_IR 144',
  // First value empty: ASCII is the default repertoire, JIS X 0208 is reached by escapes.
  japanese: '\\ISO 2022 IR 87',
};

const ESC_JIS_X_0208 = [0x1b, 0x24, 0x42]; // ESC $ B
const ESC_ASCII = [0x1b, 0x28, 0x42]; // ESC ( B

let iso8859_5: Map<string, number> | undefined;
let jisX0208: Map<string, [number, number]> | undefined;

function cyrillicTable(): Map<string, number> {
  if (!iso8859_5) {
    iso8859_5 = new Map();
    const decoder = new TextDecoder('iso-8859-5');
    for (let b = 0xa0; b <= 0xff; b++) iso8859_5.set(decoder.decode(Uint8Array.of(b)), b);
  }
  return iso8859_5;
}

/** Every two-byte JIS X 0208 code, as ISO-2022-JP decodes it, keyed by the character it gives. */
function jisTable(): Map<string, [number, number]> {
  if (!jisX0208) {
    jisX0208 = new Map();
    const decoder = new TextDecoder('iso-2022-jp');
    for (let hi = 0x21; hi <= 0x7e; hi++) {
      for (let lo = 0x21; lo <= 0x7e; lo++) {
        const ch = decoder.decode(Uint8Array.of(...ESC_JIS_X_0208, hi, lo, ...ESC_ASCII));
        if (ch.length === 1 && ch !== '\ufffd' && !jisX0208.has(ch)) jisX0208.set(ch, [hi, lo]);
      }
    }
  }
  return jisX0208;
}

function unencodable(ch: string, charset: Charset): Error {
  return new Error(`"${ch}" (U+${ch.codePointAt(0)!.toString(16)}) cannot be written in ${SPECIFIC_CHARACTER_SET[charset]}`);
}

/**
 * ISO 2022 IR 87: each run of Japanese characters is wrapped in ESC $ B … ESC ( B, so the
 * value returns to ASCII before every delimiter (^, =, \) and at its end (PS3.5 6.1.2.5.3).
 */
function encodeJapanese(text: string): Buffer {
  const table = jisTable();
  const out: number[] = [];
  let inJis = false;
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    if (code < 0x80) {
      if (inJis) out.push(...ESC_ASCII);
      inJis = false;
      out.push(code);
      continue;
    }
    const pair = table.get(ch);
    if (!pair) throw unencodable(ch, 'japanese');
    if (!inJis) out.push(...ESC_JIS_X_0208);
    inJis = true;
    out.push(...pair);
  }
  if (inJis) out.push(...ESC_ASCII);
  return Buffer.from(out);
}

export function encodeInCharset(text: string, charset: Charset): Buffer {
  switch (charset) {
    case 'utf8':
      return Buffer.from(text, 'utf8');
    case 'latin1':
      for (const ch of text) if (ch.codePointAt(0)! > 0xff) throw unencodable(ch, charset);
      return Buffer.from(text, 'latin1');
    case 'cyrillic': {
      const table = cyrillicTable();
      return Buffer.from(
        [...text].map((ch) => {
          const code = ch.codePointAt(0)!;
          if (code < 0x80) return code;
          const b = table.get(ch);
          if (b === undefined) throw unencodable(ch, charset);
          return b;
        }),
      );
    }
    case 'japanese':
      return encodeJapanese(text);
  }
}
