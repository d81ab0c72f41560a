/**
 * The facade the gateway calls: audit.record(message) fans a built message out to every sink.
 * It never throws into the caller. A sink's failure (thrown, or reported later through its
 * onError) is counted and logged as one JSON line through src/log.ts, naming the sink and
 * the error's code, never the message or the error's text (which could quote either).
 * Repeated failures of one sink are logged at most once per logIntervalMs, with a count.
 */
import path from 'node:path';
import { log } from '../log';
import { AuditConfig } from './config';
import { AuditFileSink } from './file-sink';
import { AuditInputError } from './identifiers';
import { AuditMessage, isAuditMessage } from './messages';
import { AuditSink } from './sink';
import { SyslogSink } from './syslog-sink';

export interface AuditTrailStats {
  recorded: number;
  /** Refused by a builder, not built by the builders, or recorded after close. */
  rejected: number;
  /** Of those, refused by a builder (record(() => …)). */
  buildFailures: number;
  /** Failures per sink. */
  failures: Record<string, number>;
  sinks: Record<string, Record<string, number>>;
}

/** Only codes and names go into a log line: an error's message might quote anything. */
function errorCode(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^[A-Z0-9_]{1,64}$/.test(code)) return code;
  const name = (e as { name?: unknown } | null)?.name;
  return typeof name === 'string' && /^[A-Za-z]{1,64}$/.test(name) ? name : 'Error';
}

export class AuditTrail {
  private readonly sinks: AuditSink[] = [];
  private recorded = 0;
  private rejected = 0;
  private buildFailures = 0;
  private readonly failures: Record<string, number> = {};
  private readonly lastLogged: Record<string, { at: number; count: number }> = {};
  private closed = false;

  constructor(sinks: AuditSink[] = [], private readonly logIntervalMs = 10_000) {
    for (const s of sinks) this.addSink(s);
  }

  addSink(sink: AuditSink): void {
    this.sinks.push(sink);
    this.failures[sink.name] = this.failures[sink.name] ?? 0;
  }

  /**
   * Record one message in every sink. Never throws. Give it the builder call as a function
   * (audit.record(() => query(ctx, {...}))) and a builder's refusal is caught too: counted as
   * rejected and logged with the builder's reason (which never quotes the refused value).
   */
  record(messageOrBuild: AuditMessage | (() => AuditMessage)): void {
    try {
      let message: AuditMessage;
      if (typeof messageOrBuild === 'function') {
        try {
          message = messageOrBuild();
        } catch (e) {
          this.rejected++;
          this.buildFailures++;
          const reason = e instanceof AuditInputError ? e.message : errorCode(e);
          this.limited(`refused:${reason}`, (suppressed) => log.error('audit-message-refused', { reason, suppressed }));
          return;
        }
      } else message = messageOrBuild;
      if (this.closed || !isAuditMessage(message)) {
        this.rejected++;
        const reason = this.closed ? 'closed' : 'not-built';
        this.limited(`rejected:${reason}`, (suppressed) => log.warn('audit-message-rejected', { reason, suppressed }));
        return;
      }
      this.recorded++;
      for (const sink of this.sinks) {
        try {
          sink.write(message);
        } catch (e) {
          this.sinkFailed(sink.name, e);
        }
      }
    } catch {
      // Logging itself failed: nothing more can be done without throwing into the caller.
    }
  }

  /** A sink's asynchronous failure (its onError). */
  sinkFailed(sink: string, error: unknown): void {
    try {
      this.failures[sink] = (this.failures[sink] ?? 0) + 1;
      const failures = this.failures[sink];
      this.limited(`failed:${sink}`, (suppressed) => log.error('audit-sink-failed', { sink, error: errorCode(error), failures, suppressed }));
    } catch {
      // never into the caller
    }
  }

  /** Messages a sink dropped (the syslog queue bound), logged like failures. */
  sinkDropped(sink: string, total: number): void {
    try {
      this.limited(`dropped:${sink}`, () => log.warn('audit-sink-dropped', { sink, dropped: total }));
    } catch {
      // never into the caller
    }
  }

  /** Log at most once per logIntervalMs for one key; the next line says how many were left out. */
  private limited(key: string, write: (suppressed: number) => void): void {
    const now = Date.now();
    const last = this.lastLogged[key];
    if (last && now - last.at < this.logIntervalMs) {
      last.count++;
      return;
    }
    write(last?.count ?? 0);
    this.lastLogged[key] = { at: now, count: 0 };
  }

  stats(): AuditTrailStats {
    const sinks: Record<string, Record<string, number>> = {};
    for (const s of this.sinks) sinks[s.name] = s.stats();
    return { recorded: this.recorded, rejected: this.rejected, buildFailures: this.buildFailures, failures: { ...this.failures }, sinks };
  }

  /** Flush and close every sink. Failures are counted and logged, never thrown. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const results = await Promise.allSettled(this.sinks.map((s) => s.close()));
    results.forEach((r, i) => {
      if (r.status === 'rejected') this.sinkFailed(this.sinks[i].name, r.reason);
    });
  }
}

/** The trail the configuration asks for: the file sink under DATA_DIR/audit, and syslog if configured. */
export function createAuditTrail(config: AuditConfig, dataDir: string): AuditTrail {
  const trail = new AuditTrail();
  if (config.file.enabled) {
    trail.addSink(
      new AuditFileSink({
        dir: path.join(dataDir, 'audit'),
        maxBytes: config.file.maxBytes,
        keep: config.file.keep,
        flushIntervalMs: config.file.flushIntervalMs,
        onError: (e) => trail.sinkFailed('file', e),
      }),
    );
  }
  if (config.syslog) {
    const s = config.syslog;
    trail.addSink(
      new SyslogSink({
        host: s.host,
        port: s.port,
        tls: s.tls,
        facility: s.facility,
        maxQueue: s.maxQueue,
        onError: (e) => trail.sinkFailed('syslog', e),
        onDrop: (n) => trail.sinkDropped('syslog', n),
      }),
    );
  }
  return trail;
}
