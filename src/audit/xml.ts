/**
 * The XML writer for audit messages: escaping, a fixed attribute order (the order each
 * element's attributes are listed in, which follows the standard's schema), no pretty
 * printing, so one message is always one line.
 *
 * Characters, from any caller-supplied string:
 * - & < > " ' are written as entity references, in text and in attributes alike.
 * - TAB, LF and CR are written as character references (&#9; &#10; &#13;): the value
 *   survives unchanged (an attribute parser would otherwise normalise them to spaces), and
 *   a message never spans two lines.
 * - DEL, the C1 controls (U+007F–U+009F) and U+2028/U+2029 are legal XML 1.0 but invisible
 *   or line-breaking in many viewers: written as character references too, so they survive.
 * - Characters XML 1.0 forbids outright (U+0000–U+001F other than TAB, LF, CR; U+FFFE;
 *   U+FFFF; unpaired surrogates) cannot be written at all, not even as character
 *   references. Each one is replaced by U+FFFD REPLACEMENT CHARACTER, so the message stays
 *   well-formed and the reader still sees that something was there. A value where the
 *   exact bytes matter goes in a base64 ParticipantObjectDetail instead.
 */

/** Replace what XML 1.0 cannot carry by U+FFFD (see the module comment). */
export function xmlSafe(s: string): string {
  return s.replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

const REFS: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
  '\t': '&#9;',
  '\n': '&#10;',
  '\r': '&#13;',
  '\u2028': '&#x2028;',
  '\u2029': '&#x2029;',
};

/** Escape a string for element content or a double-quoted attribute value. */
export function escapeXml(s: string): string {
  return xmlSafe(s).replace(/[&<>"'\t\n\r\u007F-\u009F\u2028\u2029]/g, (c) => REFS[c] ?? `&#x${c.charCodeAt(0).toString(16).toUpperCase()};`);
}

/** Attributes in the order they are to be written; undefined ones are left out. */
export type Attributes = ReadonlyArray<readonly [name: string, value: string | number | boolean | undefined]>;

function attributes(attrs: Attributes): string {
  let out = '';
  for (const [name, value] of attrs) {
    if (value === undefined) continue;
    out += ` ${name}="${escapeXml(String(value))}"`;
  }
  return out;
}

/** An element with attributes and either child elements (already serialised) or text. */
export function element(name: string, attrs: Attributes, content?: readonly string[] | { text: string }): string {
  const open = `<${name}${attributes(attrs)}`;
  if (content === undefined) return `${open}/>`;
  const inner = Array.isArray(content) ? (content as readonly string[]).join('') : escapeXml((content as { text: string }).text);
  if (inner === '') return `${open}/>`;
  return `${open}>${inner}</${name}>`;
}
