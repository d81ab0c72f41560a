/**
 * Finds planted tokens in any text, whatever their shape and wherever they stand (inside
 * longer words too): at each position whose next three characters start some token, every
 * token length is looked up in a set. Linear in the text for tens of thousands of tokens.
 */
export class TokenScanner {
  private readonly tokens = new Set<string>();
  private readonly prefixes = new Set<string>();
  private readonly lengths: number[];

  constructor(tokens: Iterable<string>) {
    const lengths = new Set<number>();
    for (const raw of tokens) {
      const t = raw.trim().toLowerCase();
      if (t.length < 4) continue; // too short to be a token rather than a coincidence
      this.tokens.add(t);
      this.prefixes.add(t.slice(0, 3));
      lengths.add(t.length);
    }
    this.lengths = [...lengths].sort((a, b) => a - b);
  }

  /** The tokens found in `text` (each once). */
  find(text: string): string[] {
    const lower = text.toLowerCase();
    const found = new Set<string>();
    for (let i = 0; i + 3 <= lower.length; i++) {
      if (!this.prefixes.has(lower.slice(i, i + 3))) continue;
      for (const n of this.lengths) {
        if (i + n > lower.length) break;
        const candidate = lower.slice(i, i + n);
        if (this.tokens.has(candidate)) found.add(candidate);
      }
    }
    return [...found];
  }
}
