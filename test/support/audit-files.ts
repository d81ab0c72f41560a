/**
 * The audit messages a gateway wrote under DATA_DIR/audit (one XML document per line), and
 * their check against the shipped PS3.15 A.5 schema with xmllint.
 */
import fs from 'node:fs';
import path from 'node:path';
import { requireXmllint, validateDocuments } from './xmllint';

export function readAuditMessages(dataDir: string): string[] {
  const dir = path.join(dataDir, 'audit');
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.log'))
    .sort()
    .flatMap((f) => fs.readFileSync(path.join(dir, f), 'utf8').split('\n'))
    .filter((line) => line.trim() !== '');
}

/** Every message valid against the schema: the xmllint report of those that are not (empty when all are). */
export function invalidAuditMessages(messages: string[]): string[] {
  requireXmllint();
  if (messages.length === 0) return [];
  const docs: Record<string, string> = {};
  messages.forEach((m, i) => (docs[`m${String(i).padStart(5, '0')}`] = m));
  const result = validateDocuments(docs);
  return result.output.split('\n').filter((l) => l.trim() && !/ validates$/.test(l));
}

/** The EventID display names the messages carry (e.g. "Query", "Security Alert"), with counts. */
export function auditEvents(messages: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of messages) {
    const event = /<EventID\b[^>]*\boriginalText="([^"]+)"/.exec(m)?.[1] ?? /<EventID\b[^>]*\bcsd-code="([^"]+)"/.exec(m)?.[1] ?? 'unknown';
    out[event] = (out[event] ?? 0) + 1;
  }
  return out;
}
