/**
 * Finds PHI tokens in text: case-insensitive, every token at once (Aho-Corasick over the
 * lower-cased patterns), and only at word edges, so "Lee" is not found in "fleet" nor an MRN
 * inside a longer number or a UID. Edges are judged by script: a Latin token next to a CJK
 * character is a word of its own (胸部CT), CJK tokens have no edges (山田太郎様 holds 山田).
 */

type EdgeClass = 'digit' | 'latin' | 'cyrillic' | 'greek' | 'none';

function classOf(ch: string | undefined): EdgeClass {
  if (ch === undefined) return 'none';
  if (ch >= '0' && ch <= '9') return 'digit';
  if (/\p{Script=Latin}/u.test(ch)) return 'latin';
  if (/\p{Script=Cyrillic}/u.test(ch)) return 'cyrillic';
  if (/\p{Script=Greek}/u.test(ch)) return 'greek';
  return 'none';
}

const UID_SHAPE = /^\d+(\.\d+)+$/;

/** Whether the characters around a match leave it a word of its own. */
function atWordEdges(text: string, start: number, end: number, pattern: string): boolean {
  const first = classOf(pattern[0]);
  const last = classOf(pattern[pattern.length - 1]);
  const before = text[start - 1];
  const after = text[end];
  if (first !== 'none' && classOf(before) === first) return false;
  if (last !== 'none' && classOf(after) === last) return false;
  // A number inside a decimal (4821.3379) is not that number; a UID may still have a suffix.
  if (!UID_SHAPE.test(pattern)) {
    if (first === 'digit' && before === '.' && classOf(text[start - 2]) === 'digit') return false;
    if (last === 'digit' && after === '.' && classOf(text[end + 1]) === 'digit') return false;
  }
  return true;
}

export interface Pattern {
  /** What to look for (matched lower-cased). */
  text: string;
  /** The token it stands for (a raw-byte spelling of a token reports the token). */
  token: string;
}

export interface Match {
  token: string;
  index: number;
}

export class TokenMatcher {
  private readonly next: Map<number, number>[] = [new Map()];
  private readonly fail: number[] = [0];
  private readonly out: number[][] = [[]];
  private readonly patterns: { text: string; token: string }[] = [];

  constructor(patterns: Iterable<Pattern>) {
    for (const p of patterns) {
      const text = p.text.toLowerCase();
      if (!text) continue;
      let node = 0;
      for (let i = 0; i < text.length; i++) {
        const c = text.charCodeAt(i);
        let n = this.next[node].get(c);
        if (n === undefined) {
          n = this.next.length;
          this.next.push(new Map());
          this.fail.push(0);
          this.out.push([]);
          this.next[node].set(c, n);
        }
        node = n;
      }
      this.out[node].push(this.patterns.length);
      this.patterns.push({ text, token: p.token });
    }
    // Failure links, breadth first; outputs are inherited along them.
    const queue: number[] = [...this.next[0].values()];
    for (let q = 0; q < queue.length; q++) {
      const node = queue[q];
      for (const [c, child] of this.next[node]) {
        let f = this.fail[node];
        while (f !== 0 && !this.next[f].has(c)) f = this.fail[f];
        const target = this.next[f].get(c);
        this.fail[child] = target !== undefined && target !== child ? target : 0;
        this.out[child] = [...this.out[child], ...this.out[this.fail[child]]];
        queue.push(child);
      }
    }
  }

  /** Every token found at word edges in `text` (first occurrence of each). */
  find(text: string): Match[] {
    const lower = text.toLowerCase();
    const found = new Map<string, number>();
    let node = 0;
    for (let i = 0; i < lower.length; i++) {
      const c = lower.charCodeAt(i);
      while (node !== 0 && !this.next[node].has(c)) node = this.fail[node];
      node = this.next[node].get(c) ?? 0;
      for (const pi of this.out[node]) {
        const p = this.patterns[pi];
        if (found.has(p.token)) continue;
        const start = i - p.text.length + 1;
        if (atWordEdges(lower, start, i + 1, p.text)) found.set(p.token, start);
      }
    }
    return [...found].map(([token, index]) => ({ token, index }));
  }
}

/** Whether one token occurs in one value, by the same rules (for per-attribute checks). */
export function containsToken(text: string, token: string): boolean {
  const lower = text.toLowerCase();
  const t = token.toLowerCase();
  for (let i = lower.indexOf(t); i >= 0; i = lower.indexOf(t, i + 1)) {
    if (atWordEdges(lower, i, i + t.length, t)) return true;
  }
  return false;
}
