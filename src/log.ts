/**
 * Structured logging, one JSON object per line. Callers pass identifiers that are
 * safe to log (de-identified UIDs, counts, AE titles, status codes); no message built
 * from data set contents is ever logged.
 */
type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

let threshold: number = ORDER[(process.env.LOG_LEVEL as Level) ?? 'info'] ?? ORDER.info;
let sink: (line: string) => void = (line) => process.stdout.write(line + '\n');

export function setLogLevel(level: Level): void {
  threshold = ORDER[level];
}

/** Redirect log lines (tests capture them to prove nothing identifying is logged). */
export function setLogSink(fn: (line: string) => void): void {
  sink = fn;
}

function write(level: Level, event: string, fields: Record<string, unknown>): void {
  if (ORDER[level] < threshold) return;
  sink(JSON.stringify({ time: new Date().toISOString(), level, event, ...fields }));
}

export const log = {
  debug: (event: string, fields: Record<string, unknown> = {}) => write('debug', event, fields),
  info: (event: string, fields: Record<string, unknown> = {}) => write('info', event, fields),
  warn: (event: string, fields: Record<string, unknown> = {}) => write('warn', event, fields),
  error: (event: string, fields: Record<string, unknown> = {}) => write('error', event, fields),
};
