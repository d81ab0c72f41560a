/**
 * The matching forms every index backend compares (src/index/sqlite-search.ts and
 * src/index/postgres/search.ts): uppercased keys, LIKE patterns, prefix ranges and the word starts
 * of person names. Case is folded for ASCII letters only (as SQLite's LIKE and upper() do, the
 * reference), and order is code point order (SQLite's BINARY, PostgreSQL's COLLATE "C").
 */

/** ASCII letters uppercased, every other character kept (SQLite's upper() without ICU). */
export function asciiUpper(value: string): string {
  return value.replace(/[a-z]+/g, (m) => m.toUpperCase());
}

/** asciiUpper of a nullable column value. */
export function asciiKey(value: string | null): string | null {
  return value === null ? null : asciiUpper(value);
}

/** The LIKE pattern (ESCAPE '\') of a DICOM wildcard value: * any run, ? one character, all else literal. */
export function likePattern(value: string): string {
  return value.replace(/[\\%_]/g, (c) => '\\' + c).replace(/\*/g, '%').replace(/\?/g, '_');
}

/**
 * The least string greater than every string that starts with `prefix`, in code point order, or
 * undefined when there is none: `c >= prefix AND c < prefixEnd(prefix)` is "c starts with prefix".
 */
export function prefixEnd(prefix: string): string | undefined {
  const codePoints = [...prefix].map((c) => c.codePointAt(0)!);
  while (codePoints.length) {
    let last = codePoints.pop()! + 1;
    if (last >= 0xd800 && last <= 0xdfff) last = 0xe000; // surrogates are no characters
    if (last <= 0x10ffff) return String.fromCodePoint(...codePoints, last);
  }
  return undefined;
}

/**
 * The rows fuzzy matching looks up for a person name: the uppercased name with its component
 * and group separators (^ and =) as spaces, from its start and from after every space. A value
 * matches from the start of a word when one of these begins with it.
 */
export function personNameWords(name: string | null): string[] {
  if (name === null) return [];
  const spaced = asciiUpper(name).replace(/[\^=]/g, ' ');
  const words = new Set([spaced]);
  for (let i = spaced.indexOf(' '); i >= 0; i = spaced.indexOf(' ', i + 1)) words.add(spaced.slice(i + 1));
  return [...words];
}
