/** What the AuditTrail fans messages out to. */
import { AuditMessage } from './messages';

export interface AuditSink {
  /** For counters and log lines ("file", "syslog"). */
  readonly name: string;
  /** Take a message; never blocks. May throw (the trail counts it); later failures go to the sink's onError. */
  write(message: AuditMessage): void;
  /** Deliver what can be delivered, then release everything. */
  close(): Promise<void>;
  stats(): Record<string, number>;
}
