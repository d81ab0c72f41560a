/**
 * The normalised forms dates and times are indexed and compared in: ingest stores them so
 * (src/ingest/record.ts) and searches range over them (constraints.ts).
 */

/** YYYYMMDD, from YYYYMMDD or the old YYYY.MM.DD / YYYY-MM-DD forms; undefined when not a date. */
export function normaliseDate(value: string): string | undefined {
  const v = value.trim().replace(/[.-]/g, '');
  return /^\d{8}$/.test(v) ? v : undefined;
}

/** Times are compared as HHMMSSFFFFFF strings; missing parts are filled with `fill`. */
export function normaliseTime(value: string, fill: '0' | '9' = '0'): string | undefined {
  const m = /^(\d{2})(\d{2})?(\d{2})?(?:\.(\d{1,6}))?$/.exec(value.trim().replace(/:/g, ''));
  if (!m) return undefined;
  const edge = fill === '9' ? '59' : '00';
  return m[1] + (m[2] ?? edge) + (m[3] ?? edge) + (m[4] ?? '').padEnd(6, fill);
}
