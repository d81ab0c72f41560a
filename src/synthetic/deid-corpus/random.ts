/**
 * A seeded random source, so one seed always gives the same corpus (answer keys are only
 * comparable between runs if the data is the same). mulberry32: small, fast, good enough
 * for test data; never for anything secret.
 */
export class Rng {
  private state: number;

  constructor(seed: number) {
    // splitmix32 once over the seed, so nearby seeds give unrelated streams.
    let z = (seed + 0x9e3779b9) >>> 0;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    this.state = (z ^ (z >>> 16)) >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max], both included. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }

  /** `n` distinct items (or all of them when there are fewer). */
  sample<T>(items: readonly T[], n: number): T[] {
    const pool = [...items];
    const out: T[] = [];
    while (out.length < n && pool.length) out.push(pool.splice(Math.floor(this.next() * pool.length), 1)[0]);
    return out;
  }

  /** A string of `n` decimal digits whose first digit is in [firstMin, 9] (no leading zero, no date shape). */
  digits(n: number, firstMin = 1): string {
    let s = String(this.int(firstMin, 9));
    while (s.length < n) s += String(this.int(0, 9));
    return s;
  }

  /** Upper-case letters, avoiding A-F so a token can never be mistaken for hexadecimal. */
  letters(n: number): string {
    const alphabet = 'GHJKLMNPQRSTUVWXYZ';
    let s = '';
    while (s.length < n) s += alphabet[this.int(0, alphabet.length - 1)];
    return s;
  }

  /** A child stream: generating one part of the corpus never shifts the values of another. */
  fork(label: number): Rng {
    return new Rng((Math.floor(this.next() * 4294967296) ^ Math.imul(label + 1, 0x27d4eb2d)) >>> 0);
  }
}
