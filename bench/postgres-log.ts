/**
 * What a benchmark's PostgreSQL server said about its clients: statements slower than
 * log_min_duration_statement and errors, grouped by client and statement, from its log. The log
 * line prefix must be LOG_LINE_PREFIX, which names the application and database of each line.
 */
import fs from 'node:fs';

/** For postgresql.conf: time, process, then "application@database:". */
export const LOG_LINE_PREFIX = "log_line_prefix = '%m [%p] %a@%d: '";

export interface LogGroup {
  who: string;
  what: string;
  count: number;
  /** Slow statements: the longest and all together, in ms. */
  maxMs?: number;
  totalMs?: number;
}

export interface PostgresLogSummary {
  slow: LogGroup[];
  errors: LogGroup[];
}

const SLOW = /\] ([^@\s]*)@(\S*): LOG: {2}duration: ([\d.]+) ms {2}(?:statement: |(?:execute|bind|parse) ([^:]+): )?(.*)$/;
const ERROR = /\] ([^@\s]*)@(\S*): (ERROR|FATAL|PANIC): {2}(.*)$/;

function add(groups: Map<string, LogGroup>, who: string, what: string, ms?: number): void {
  const key = `${who}\u0000${what}`;
  const g = groups.get(key) ?? { who, what, count: 0 };
  g.count++;
  if (ms !== undefined) {
    g.maxMs = Math.max(g.maxMs ?? 0, ms);
    g.totalMs = (g.totalMs ?? 0) + ms;
  }
  groups.set(key, g);
}

/**
 * `database` with a trailing _rN (a benchmark's round) taken off, so the rounds of one measurement
 * count together.
 */
const measurement = (database: string) => database.replace(/_r\d+$/, '');

export function summarisePostgresLog(file: string): PostgresLogSummary {
  const slow = new Map<string, LogGroup>();
  const errors = new Map<string, LogGroup>();
  const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  for (const line of text.split('\n')) {
    const s = SLOW.exec(line);
    if (s) {
      // A named (prepared) statement by its name; a plain one by its start, whitespace folded.
      add(slow, `${s[1] || '(no application name)'}@${measurement(s[2])}`, s[4] ?? s[5].replace(/\s+/g, ' ').slice(0, 100), Number(s[3]));
      continue;
    }
    const e = ERROR.exec(line);
    if (e) add(errors, `${e[1] || '(no application name)'}@${measurement(e[2])}`, `${e[3]}: ${e[4].slice(0, 140)}`);
  }
  const byCount = (a: LogGroup, b: LogGroup) => b.count - a.count;
  return { slow: [...slow.values()].sort(byCount), errors: [...errors.values()].sort(byCount) };
}
