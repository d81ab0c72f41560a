/**
 * Media types and Accept negotiation (RFC 9110 12.5.1, PS3.18 8.7). Tolerant of what
 * real clients send: quoted or unquoted parameters, q-values, several media ranges.
 */
export interface MediaRange {
  type: string; // e.g. "multipart/related", lower case
  params: Record<string, string>; // lower-case names; "type" and "transfer-syntax" values as given
  q: number;
}

/** Split on a separator that is not inside double quotes. */
function splitOutsideQuotes(s: string, sep: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (const ch of s) {
    if (ch === '"') quoted = !quoted;
    if (ch === sep && !quoted) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

export function parseMediaType(value: string): MediaRange {
  const [type, ...rest] = splitOutsideQuotes(value, ';').map((p) => p.trim());
  const params: Record<string, string> = {};
  for (const p of rest) {
    const eq = p.indexOf('=');
    if (eq < 0) continue;
    const name = p.slice(0, eq).trim().toLowerCase();
    let v = p.slice(eq + 1).trim();
    if (v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
    params[name] = v;
  }
  const q = params.q !== undefined ? Number(params.q) : 1;
  delete params.q;
  return { type: (type || '').toLowerCase(), params, q: Number.isFinite(q) ? q : 1 };
}

/** Media ranges of an Accept header, best first; a missing header accepts anything. */
export function parseAccept(header: string | undefined): MediaRange[] {
  if (!header || !header.trim()) return [{ type: '*/*', params: {}, q: 1 }];
  return splitOutsideQuotes(header, ',')
    .map((p) => p.trim())
    .filter(Boolean)
    .map(parseMediaType)
    .filter((r) => r.q > 0)
    .sort((a, b) => b.q - a.q);
}

export function matchesType(range: string, type: string): boolean {
  if (range === '*/*' || range === type) return true;
  return range.endsWith('/*') && type.startsWith(range.slice(0, -1));
}
