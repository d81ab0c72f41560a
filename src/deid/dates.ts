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

/**
 * Shift each value of a DA element (ranges "A-B" too). A value that is not a date cannot be
 * shifted and so cannot be kept: undefined tells the caller to remove it.
 */
export function shiftDA(value: string, days: number): string | undefined {
  const out: string[] = [];
  for (const v of value.split('\\')) {
    const t = v.trim();
    if (!t) {
      out.push('');
      continue;
    }
    const parts = t.split('-').map((p) => p.replace(/\./g, ''));
    const shifted = parts.map((p) => (p === '' ? '' : shiftYmd(p, days)));
    if (shifted.some((s) => s === undefined)) return undefined;
    out.push(shifted.join('-'));
  }
  return out.join('\\');
}

/** Shift the date part of DT values (YYYYMMDDHHMMSS.FFFFFF&ZZXX); partial DTs keep their precision. */
export function shiftDT(value: string, days: number): string | undefined {
  const out: string[] = [];
  for (const v of value.split('\\')) {
    const t = v.trim();
    if (!t) {
      out.push('');
      continue;
    }
    const m = /^(\d{4})(\d{2})?(\d{2})?(.*)$/.exec(t);
    if (!m) return undefined;
    if (!m[2] || !m[3]) {
      // Year or year-month precision: shift the middle of the span, keep the precision.
      const mid = shiftYmd(`${m[1]}${m[2] ?? '07'}${m[3] ?? '01'}`, days);
      if (!mid) return undefined;
      out.push(mid.slice(0, m[2] ? 6 : 4) + m[4]);
      continue;
    }
    const d = shiftYmd(`${m[1]}${m[2]}${m[3]}`, days);
    if (!d) return undefined;
    out.push(d + m[4]);
  }
  return out.join('\\');
}
