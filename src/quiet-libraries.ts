/**
 * Every line the gateway writes is one of its own JSON log lines (src/log.ts). The DICOM
 * libraries log through loglevel to `console`, in plain text and with values from the
 * request:
 *
 * - dcmjs 0.50 as dcmjs-dimse loads it (its own copy, with loglevel bundled inside) warns
 *   through console.warn while parsing data sets a peer sent: "Unsupported character set:
 *   <value>", "Using multiple character sets ... [<values>]", "WARN: <parse error>", and
 *   through console.info/console.log for value-length and debug messages at lower levels.
 *   dcmjs-dimse's Dataset sets `log.level = "error"` on it, which loglevel ignores.
 * - the copy of dcmjs that dcmjs-codecs loads, and dcmjs-codecs's own bundled loglevel
 *   (at TRACE by default; the codec's fd_write errors go to console.error).
 * - dcmjs-dimse's own logger (the npm loglevel default logger), already set silent.
 *
 * Each of these loggers gets a method factory that makes every method a no-op, then every
 * level is rebuilt, so no later setLevel() can bring the console back. What they would
 * have said is dropped: it is built from data set contents, which are never logged.
 */
import path from 'node:path';

interface LoglevelLogger {
  methodFactory: (...args: unknown[]) => (...args: unknown[]) => void;
  setLevel(level: string, persist?: boolean): void;
  getLoggers?(): Record<string, LoglevelLogger>;
}

const silenced = new WeakSet<object>();
const noop = () => undefined;

function silence(logger: LoglevelLogger | undefined): void {
  if (!logger || typeof logger.setLevel !== 'function' || silenced.has(logger)) return;
  const all = [logger, ...Object.values(logger.getLoggers?.() ?? {})];
  for (const l of all) {
    l.methodFactory = () => noop;
    l.setLevel('silent', false);
    silenced.add(l);
  }
}

/** The dcmjs a given package resolves (each of dcmjs-dimse and dcmjs-codecs has its own copy). */
function dcmjsOf(pkg: string): { log?: LoglevelLogger } | undefined {
  try {
    const from = path.dirname(require.resolve(pkg));
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(require.resolve('dcmjs', { paths: [from] }));
  } catch {
    return undefined;
  }
}

export function quietDicomLibraries(): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  silence(require('dcmjs-dimse').log as LoglevelLogger);
  silence(dcmjsOf('dcmjs-dimse')?.log);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  silence(require('dcmjs-codecs').log as LoglevelLogger);
  silence(dcmjsOf('dcmjs-codecs')?.log);
}
