/**
 * Text decoding by Specific Character Set (PS3.5 section 6.1, PS3.3 C.12.1.1.2).
 * ISO 2022 code extensions are decoded by the closest WHATWG decoder; values without
 * escape sequences (the common case) decode exactly.
 */
import { TextDecoder } from 'node:util';
const SINGLE: Record<string, string> = {
  '': 'latin1',
  'ISO_IR 6': 'latin1',
  'ISO 2022 IR 6': 'latin1',
  'ISO_IR 100': 'latin1',
  'ISO 2022 IR 100': 'latin1',
  'ISO_IR 101': 'iso-8859-2',
  'ISO 2022 IR 101': 'iso-8859-2',
  'ISO_IR 109': 'iso-8859-3',
  'ISO 2022 IR 109': 'iso-8859-3',
  'ISO_IR 110': 'iso-8859-4',
  'ISO 2022 IR 110': 'iso-8859-4',
  'ISO_IR 144': 'iso-8859-5',
  'ISO 2022 IR 144': 'iso-8859-5',
  'ISO_IR 127': 'iso-8859-6',
  'ISO 2022 IR 127': 'iso-8859-6',
  'ISO_IR 126': 'iso-8859-7',
  'ISO 2022 IR 126': 'iso-8859-7',
  'ISO_IR 138': 'iso-8859-8',
  'ISO 2022 IR 138': 'iso-8859-8',
  'ISO_IR 148': 'iso-8859-9',
  'ISO 2022 IR 148': 'iso-8859-9',
  'ISO_IR 203': 'iso-8859-15',
  'ISO 2022 IR 203': 'iso-8859-15',
  'ISO_IR 166': 'tis-620',
  'ISO 2022 IR 166': 'tis-620',
  'ISO_IR 13': 'shift_jis',
  'ISO 2022 IR 13': 'shift_jis',
  'ISO 2022 IR 87': 'iso-2022-jp',
  'ISO 2022 IR 159': 'iso-2022-jp',
  'ISO 2022 IR 149': 'euc-kr',
  'ISO 2022 IR 58': 'gb18030',
  'ISO_IR 192': 'utf-8',
  GB18030: 'gb18030',
  GBK: 'gbk',
};

const decoders = new Map<string, TextDecoder>();

function decoder(label: string): TextDecoder {
  let d = decoders.get(label);
  if (!d) {
    d = new TextDecoder(label === 'latin1' ? 'windows-1252' : label);
    decoders.set(label, d);
  }
  return d;
}

/** The decoder label for a Specific Character Set value (its backslash-separated terms). */
export function encodingFor(specificCharacterSet: string | undefined): string {
  const terms = (specificCharacterSet ?? '').split('\\').map((t) => t.trim());
  // With code extensions the first term is the default repertoire; a later one says which multi-byte set is used.
  for (let i = terms.length - 1; i >= 0; i--) {
    const label = SINGLE[terms[i]];
    if (label && label !== 'latin1') return label;
  }
  return 'latin1';
}

export function decodeText(bytes: Uint8Array, encoding: string): string {
  if (encoding === 'latin1') return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  return decoder(encoding).decode(bytes);
}
