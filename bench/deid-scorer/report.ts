/** The score and its explanation: per action, per object kind, the failure classes and the leaks. */
import { Action, ACTIONS, AnswerItem, ObjectKind } from '../../src/synthetic/deid-corpus';
import { pathLabel } from './dataset-text';
import { StowSummary } from './gateway-run';
import { Verdict } from './judge';
import { Leak, LeakSource } from './leak-scan';

export interface Tally {
  correct: number;
  total: number;
}

export interface FailureClass {
  /** 'all' for an instance that was not stored: every one of its actions failed at once. */
  action: Action | 'all';
  attribute: string;
  kind: ObjectKind;
  count: number;
  example: string;
}

export interface LeakClass {
  source: LeakSource;
  attribute: string;
  kind?: ObjectKind;
  count: number;
  example: string;
}

export interface ScoreResult {
  seed: number;
  generated: number;
  patients: number;
  stow: Omit<StowSummary, 'failedBySop'>;
  perAction: Partial<Record<Action, Tally>>;
  perKind: Partial<Record<ObjectKind, Tally>>;
  correct: number;
  total: number;
  /** Percentage of required actions done right. */
  score: number;
  /** Distinct (token, place) pairs. */
  leakCount: number;
  leakedTokens: number;
  leaks: Leak[];
  failureClasses: FailureClass[];
  /** Leaks in stored files by attribute; leaks elsewhere only for tokens no stored file holds. */
  leakClasses: LeakClass[];
  leaksBySource: Partial<Record<LeakSource, number>>;
  /** The first failures in corpus order, one line each. */
  firstFailures: string[];
  seconds: number;
}

/** Where an item points, in words: an attribute path, or a part of the pixel data. */
export function itemPlace(item: AnswerItem, withItems = true): string {
  if (item.action === 'pixels_hidden') return 'PixelData (burned-in banner)';
  if (item.action === 'pixels_retained') return item.region ? 'PixelData (outside the banner)' : 'PixelData';
  return pathLabel(item.path, withItems);
}

function tally<K extends string>(verdicts: Verdict[], key: (v: Verdict) => K): Partial<Record<K, Tally>> {
  const out: Partial<Record<K, Tally>> = {};
  for (const v of verdicts) {
    const t = (out[key(v)] ??= { correct: 0, total: 0 });
    t.total++;
    if (v.correct) t.correct++;
  }
  return out;
}

export function summarise(verdicts: Verdict[], leaks: Leak[]): Pick<ScoreResult, 'perAction' | 'perKind' | 'correct' | 'total' | 'score' | 'leakCount' | 'leakedTokens' | 'leaks' | 'failureClasses' | 'leakClasses' | 'leaksBySource' | 'firstFailures'> {
  const correct = verdicts.filter((v) => v.correct).length;
  const classes = new Map<string, FailureClass>();
  const firstFailures: string[] = [];
  const reportedWhole = new Set<unknown>();
  for (const v of verdicts) {
    if (v.correct) continue;
    // A refused instance fails all its actions for one reason: one class per kind, not per attribute.
    const whole = v.reason?.startsWith('instance ');
    const action = whole ? 'all' : v.item.action;
    const attribute = whole ? '(whole instance)' : itemPlace(v.item, false);
    const key = `${action}|${attribute}|${v.instance.kind}`;
    const c = classes.get(key) ?? { action, attribute, kind: v.instance.kind, count: 0, example: v.reason ?? '' };
    c.count++;
    classes.set(key, c);
    if (firstFailures.length < 20 && !reportedWhole.has(v.instance)) {
      if (whole) reportedWhole.add(v.instance);
      firstFailures.push(`${action.padEnd(16)} ${v.instance.kind.padEnd(10)} ${whole ? attribute : itemPlace(v.item)}: ${v.reason}`);
    }
  }
  // Responses and the index repeat what the stored files hold; what they hold alone is news.
  const inFiles = new Set(leaks.filter((l) => l.source === 'stored file').map((l) => l.token));
  const leakClasses = new Map<string, LeakClass>();
  const leaksBySource: Partial<Record<LeakSource, number>> = {};
  for (const l of leaks) {
    leaksBySource[l.source] = (leaksBySource[l.source] ?? 0) + 1;
    if (l.source !== 'stored file' && inFiles.has(l.token)) continue;
    const key = `${l.source}|${l.attribute}|${l.kind ?? ''}`;
    // Stored files are named by their three new UIDs: the last one is enough to find the file.
    const where = l.where.replace(/^files\/[^/]+\/[^/]+\//, 'files/…/');
    const c = leakClasses.get(key) ?? { source: l.source, attribute: l.attribute, kind: l.kind, count: 0, example: `"${l.token}" at ${where}` };
    c.count++;
    leakClasses.set(key, c);
  }
  return {
    perAction: tally(verdicts, (v) => v.item.action),
    perKind: tally(verdicts, (v) => v.instance.kind),
    correct,
    total: verdicts.length,
    score: verdicts.length ? (100 * correct) / verdicts.length : 0,
    leakCount: leaks.length,
    leakedTokens: new Set(leaks.map((l) => l.token)).size,
    leaks,
    failureClasses: [...classes.values()].sort((a, b) => b.count - a.count),
    leakClasses: [...leakClasses.values()].sort((a, b) => b.count - a.count),
    leaksBySource,
    firstFailures,
  };
}

const pct = (t: Tally) => `${((100 * t.correct) / t.total).toFixed(2)}%`.padStart(8);

export function formatReport(r: ScoreResult): string {
  const lines: string[] = [];
  const refused = Object.entries(r.stow.refused).map(([k, n]) => `${k}: ${n}`).join(', ') || 'none';
  const kinds = Object.entries(r.stow.rejectedKinds).map(([k, n]) => `${k}: ${n}`).join(', ');
  lines.push(`MIDI-B style de-identification score (seed ${r.seed}, ${r.seconds.toFixed(1)} s)`);
  lines.push(`instances: ${r.generated} generated (${r.patients} patients), ${r.stow.stored} stored, ${r.stow.sent - r.stow.stored} refused (FailureReason ${refused}${kinds ? `; log: ${kinds}` : ''})`);
  lines.push('', 'action              correct / total    score');
  for (const a of ACTIONS) {
    const t = r.perAction[a];
    if (t) lines.push(`  ${a.padEnd(17)} ${String(t.correct).padStart(7)} / ${String(t.total).padEnd(7)} ${pct(t)}`);
  }
  lines.push('', 'object kind         correct / total    score');
  for (const [k, t] of Object.entries(r.perKind)) lines.push(`  ${k.padEnd(17)} ${String(t!.correct).padStart(7)} / ${String(t!.total).padEnd(7)} ${pct(t!)}`);
  lines.push('', `SCORE ${r.score.toFixed(2)}% (${r.correct} of ${r.total} required actions done right)`);
  lines.push(`LEAKS ${r.leakCount} (${r.leakedTokens} distinct PHI tokens found in the output)`);
  const swept = Object.entries(r.stow.sweptPaths ?? {}).sort((a, b) => b[1] - a[1]);
  const sweptTotal = swept.reduce((n, [, c]) => n + c, 0);
  lines.push(`SWEPT ${sweptTotal} values the last sweep cleaned (rules the profile table missed)${swept.length ? ': ' + swept.slice(0, 8).map(([p, n]) => `${p} ${n}`).join(', ') : ''}`);
  if (r.failureClasses.length) {
    lines.push('', 'top failure classes (count, action, object kind, attribute: example)');
    for (const c of r.failureClasses.slice(0, 25)) lines.push(`  ${String(c.count).padStart(6)}  ${c.action.padEnd(16)} ${c.kind.padEnd(10)} ${c.attribute}: ${c.example}`);
  }
  if (r.leakCount) {
    lines.push('', `leaks by place: ${Object.entries(r.leaksBySource).map(([k, n]) => `${k} ${n}`).join(', ')}`);
    lines.push('top leak classes (count, place, object kind, attribute: example); places other than stored files only for tokens no stored file holds');
    for (const c of r.leakClasses.slice(0, 25)) {
      lines.push(`  ${String(c.count).padStart(6)}  ${c.source.padEnd(16)} ${(c.kind ?? '-').padEnd(10)} ${c.attribute}: ${c.example}`);
    }
  }
  if (r.firstFailures.length) {
    lines.push('', 'first failures');
    for (const f of r.firstFailures) lines.push(`  ${f}`);
  }
  return lines.join('\n');
}
