/**
 * What sends one batch to one destination and says, per instance, whether the remote
 * acknowledged it. Nothing here marks anything sent: the queue (sender-loop.ts) does that with
 * these outcomes, and only for instances the remote acknowledged.
 */
import type { StoredInstance } from '../index/index';
import type { TransferItem } from './transfer-store';

export type ItemOutcome =
  | { ok: true }
  /** permanent: the remote refused the instance itself (retrying cannot help). */
  | { ok: false; reason: string; permanent: boolean };

export interface SendItem {
  item: TransferItem;
  stored: StoredInstance;
}

export interface BatchSender {
  /** Sends the batch; one outcome per item, in order. Rejects never: failures are outcomes. */
  send(items: readonly SendItem[], signal: AbortSignal): Promise<ItemOutcome[]>;
}

export const retry = (reason: string): ItemOutcome => ({ ok: false, reason, permanent: false });
export const refuse = (reason: string): ItemOutcome => ({ ok: false, reason, permanent: true });

/** An error's code (ECONNREFUSED, ETIMEDOUT, a TLS code) or class: never a message that could echo data. */
export function errorReason(e: unknown): string {
  const code = (e as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && /^[A-Z0-9_]{2,64}$/.test(code)) return code;
  if ((e as Error | undefined)?.name === 'AbortError') return 'aborted';
  return 'network error';
}

/** "0xA700" */
export function hex4(n: number): string {
  return '0x' + n.toString(16).toUpperCase().padStart(4, '0');
}
