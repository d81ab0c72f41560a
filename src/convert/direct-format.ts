/**
 * C printf number formatting (%.Nf, %.Ng, %g) as dcm2niix's text fields use it: the exact
 * binary value rounded half to even, as glibc and musl do. JavaScript's toFixed and
 * toPrecision round exact ties away from zero, which differs for values such as 0.0625.
 */

/** The exact decimal expansion of a finite double: digits and the power of ten of the last one. */
function exactDecimal(x: number): { neg: boolean; digits: string; exp10: number } {
  const neg = x < 0 || Object.is(x, -0);
  const a = Math.abs(x);
  if (a === 0) return { neg, digits: '0', exp10: 0 };
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, a);
  const hi = view.getUint32(0);
  const lo = view.getUint32(4);
  const biased = (hi >>> 20) & 0x7ff;
  let mantissa = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  let exp2: number;
  if (biased === 0) exp2 = -1074;
  else {
    mantissa |= 1n << 52n;
    exp2 = biased - 1075;
  }
  if (exp2 >= 0) return { neg, digits: (mantissa << BigInt(exp2)).toString(), exp10: 0 };
  // m · 2^e = m · 5^-e / 10^-e
  return { neg, digits: (mantissa * 5n ** BigInt(-exp2)).toString(), exp10: exp2 };
}

/** Round a digit string (value = digits · 10^exp10) to keep digits down to 10^target, half to even. */
function roundTo(digits: string, exp10: number, target: number): { digits: string; exp10: number } {
  if (exp10 >= target) return { digits: digits === '0' ? '0' : digits + '0'.repeat(exp10 - target), exp10: target };
  const drop = target - exp10;
  if (drop > digits.length) return { digits: '0', exp10: target };
  const keep = digits.slice(0, digits.length - drop) || '0';
  const rest = digits.slice(digits.length - drop);
  let up = false;
  if (rest[0] > '5') up = true;
  else if (rest[0] === '5') {
    const beyond = /[1-9]/.test(rest.slice(1));
    up = beyond || (Number(keep[keep.length - 1]) % 2 === 1);
  }
  const value = BigInt(keep) + (up ? 1n : 0n);
  return { digits: value.toString(), exp10: target };
}

function place(digits: string, exp10: number): string {
  // digits · 10^exp10 with exp10 ≤ 0 written as a decimal
  if (exp10 >= 0) return digits + '0'.repeat(exp10);
  const frac = -exp10;
  const padded = digits.padStart(frac + 1, '0');
  return `${padded.slice(0, padded.length - frac)}.${padded.slice(padded.length - frac)}`;
}

/** printf("%.<decimals>f", x) */
export function formatFixed(x: number, decimals: number): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? 'nan' : x > 0 ? 'inf' : '-inf';
  const { neg, digits, exp10 } = exactDecimal(x);
  const r = roundTo(digits, exp10, -decimals);
  const text = decimals === 0 ? r.digits : place(r.digits, r.exp10);
  return (neg ? '-' : '') + text;
}

/** printf("%.<precision>g", x) */
export function formatG(x: number, precision = 6): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? 'nan' : x > 0 ? 'inf' : '-inf';
  const p = precision === 0 ? 1 : precision;
  const { neg, digits, exp10 } = exactDecimal(x);
  const sign = neg ? '-' : '';
  if (digits === '0') return `${sign}0`;
  // Exponent of the leading digit after rounding to p significant digits.
  const lead = digits.length - 1 + exp10;
  let r = roundTo(digits, exp10, lead - p + 1);
  let e = r.digits.length - 1 + r.exp10;
  if (r.digits.length > p) {
    // Rounding carried into a new leading digit (9.99 → 10.0).
    r = roundTo(r.digits, r.exp10, e - p + 1);
    e = r.digits.length - 1 + r.exp10;
  }
  const strip = (s: string) => (s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s);
  if (e < p && e >= -4) {
    return sign + strip(place(r.digits, r.exp10));
  }
  const mant = r.digits.length > 1 ? `${r.digits[0]}.${r.digits.slice(1)}` : r.digits;
  const ee = Math.abs(e).toString().padStart(2, '0');
  return `${sign}${strip(mant)}e${e < 0 ? '-' : '+'}${ee}`;
}
