/** Numeric strings (PS3.5 6.2: DS at most 16 bytes, IS at most 12) written the same way everywhere. */

/** A decimal string of at most 16 characters: the most precision that fits. */
export function formatDS(n: number): string {
  if (!Number.isFinite(n)) throw new RangeError(`DS cannot hold ${n}`);
  for (let precision = 16; precision >= 1; precision--) {
    const s = String(Number(n.toPrecision(precision)));
    if (s.length <= 16) return s;
  }
  return n.toExponential(0); // unreachable: one significant digit always fits
}

/** An integer string within IS's range (−2^31 … 2^31−1), or undefined when the number is not one. */
export function formatIS(n: number): string | undefined {
  return Number.isInteger(n) && n >= -(2 ** 31) && n <= 2 ** 31 - 1 ? String(n) : undefined;
}
