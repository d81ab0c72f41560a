/** Borders of the kernels: scipy.ndimage's default 'reflect' mode (d c b a | a b c d | d c b a). */

/** Index into [0, n) by half-sample symmetric reflection. */
export function reflect(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * n;
  let m = i % period;
  if (m < 0) m += period;
  return m < n ? m : period - 1 - m;
}
