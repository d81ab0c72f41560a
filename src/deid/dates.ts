/** Date shifting for the Modified Dates option: whole days, so times and intervals survive. */

const DAY_MS = 86_400_000;

function shiftYmd(ymd: string, days: number): string | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(ymd);
  if (!m) return undefined;
  const t = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  if (Number.isNaN(t)) return undefined;
  const d = new Date(t + days * DAY_MS);
  if (d.getUTCFullYear() < 1) return undefined;
  return `${String(d.getUTCFullYear()).padStart(4, '0')}${String(d.getUTCMonth() + 1).padStart(2, '0')}${String(d.getUTCDate()).padStart(2, '0')}`;
}

/** Apply a shift to each value of a multi-valued element; one value that cannot be shifted fails them all. */
function eachValue(value: string, shift: (v: string) => string | undefined): string | undefined {
  const out: string[] = [];
  for (const v of value.split('\\')) {
    const t = v.trim();
    const shifted = t ? shift(t) : '';
    if (shifted === undefined) return undefined;
    out.push(shifted);
  }
  return out.join('\\');
}

/**
 * Shift each value of a DA element (ranges "A-B" too). A value that is not a date cannot be
 * shifted and so cannot be kept: undefined tells the caller to remove it.
 */
export function shiftDA(value: string, days: number): string | undefined {
  return eachValue(value, (v) => {
    const parts = v.split('-').map((p) => (p === '' ? '' : shiftYmd(p.replace(/\./g, ''), days)));
    return parts.some((p) => p === undefined) ? undefined : parts.join('-');
  });
}

/** Shift the date part of DT values (YYYYMMDDHHMMSS.FFFFFF&ZZXX); partial DTs keep their precision. */
export function shiftDT(value: string, days: number): string | undefined {
  return eachValue(value, (v) => {
    const m = /^(\d{4})(\d{2})?(\d{2})?(.*)$/.exec(v);
    if (!m) return undefined;
    if (m[2] && m[3]) {
      const d = shiftYmd(`${m[1]}${m[2]}${m[3]}`, days);
      return d && d + m[4];
    }
    // Year or year-month precision: shift the middle of the span, keep the precision.
    const mid = shiftYmd(`${m[1]}${m[2] ?? '07'}${m[3] ?? '01'}`, days);
    return mid && mid.slice(0, m[2] ? 6 : 4) + m[4];
  });
}
