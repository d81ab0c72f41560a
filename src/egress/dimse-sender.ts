/**
 * C-STORE (PS3.4 B) to a DICOM AE over dcmjs-dimse: one association per batch, each instance a
 * request built by storeRequestFor (src/dimse/retrieve.ts: the stored bytes as they are, fitted
 * to the transfer syntax the remote accepted). An instance counts as sent only on a success
 * (0x0000) or warning (0xB000, 0xB006, 0xB007) response. Out of resources (0xA7xx), a processing
 * failure (0x0110), no response at all (refused or aborted association, a network failure, a
 * timeout) are retried; a presentation context the remote would not accept, and any other
 * failure status, fail the instance at once. A duplicate status (0x0111) is retried: over DIMSE
 * the remote's holding of the instance is not verified (Orthanc and most archives answer
 * success for an instance they already hold).
 */
import { Client, constants, association as associationNs } from 'dcmjs-dimse';
import type { BlobStore } from '../store/blob-store';
import { storeRequestFor } from '../dimse/retrieve';
import type { RawDataset } from '../dimse/raw-dataset';
import type { DimseDestination } from './config';
import { BatchSender, ItemOutcome, SendItem, errorReason, hex4, refuse, retry } from './senders';

type Association = InstanceType<typeof associationNs.Association>;
type StoreRequest = Awaited<ReturnType<typeof storeRequestFor>>;

const SENT = new Set([0x0000, 0xb000, 0xb006, 0xb007]);

function outcomeOf(status: number): ItemOutcome {
  if (SENT.has(status)) return { ok: true };
  if ((status & 0xff00) === 0xa700 || status === 0x0110 || status === 0x0111) return retry(`C-STORE status ${hex4(status)}`);
  return refuse(`C-STORE refused: status ${hex4(status)}`);
}

/** Put a request's data set in the syntax the remote accepted for its SOP class; false when it accepted none that fits. */
function fitAccepted(request: StoreRequest, association: Association): boolean {
  const accepted = association.getAcceptedPresentationContextFromRequest(request);
  if (!accepted || accepted.getResult() !== constants.PresentationContextResult.Accept) return false;
  const ts = accepted.getAcceptedTransferSyntaxUid();
  const ds = request.getDataset() as RawDataset;
  if (!ts || !ds.canBecome(ts)) return false;
  try {
    ds.setTransferSyntaxUid(ts);
    return true;
  } catch {
    return false;
  }
}

export class DimseSender implements BatchSender {
  constructor(
    private readonly d: DimseDestination,
    private readonly store: BlobStore,
    private readonly ownAeTitle: string,
  ) {}

  async send(items: readonly SendItem[], signal: AbortSignal): Promise<ItemOutcome[]> {
    const out: (ItemOutcome | undefined)[] = items.map(() => undefined);
    const requests: (StoreRequest | undefined)[] = [];
    for (const [i, it] of items.entries()) {
      try {
        requests.push(await storeRequestFor(it.stored, this.store));
      } catch (e) {
        requests.push(undefined);
        out[i] = retry(`reading the stored instance failed: ${errorReason(e)}`);
      }
    }
    if (!requests.some(Boolean)) return out.map((o) => o ?? retry('nothing to send'));
    if (signal.aborted) return out.map((o) => o ?? retry('aborted'));
    return new Promise<ItemOutcome[]>((resolve) => {
      const client = new Client();
      let why = 'no response';
      for (const [i, r] of requests.entries()) {
        if (!r) continue;
        r.on('response', (response: { getStatus(): number }) => {
          out[i] ??= outcomeOf(response.getStatus());
        });
        client.addRequest(r);
      }
      let finished = false;
      const finish = () => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        resolve(out.map((o) => o ?? retry(why)));
      };
      const onAbort = () => {
        why = 'aborted';
        try {
          client.abort();
        } catch {
          // not connected yet
        }
        finish();
      };
      signal.addEventListener('abort', onAbort, { once: true });
      // No whole-batch deadline in dcmjs-dimse: ours is the per-instance timeout times the batch.
      const timer = setTimeout(() => {
        why = 'timed out';
        onAbort();
      }, this.d.timeoutSeconds * 1000 * Math.max(1, requests.length));
      client.on('closed', finish);
      client.on('networkError', (e: unknown) => {
        why = errorReason(e);
        finish();
      });
      client.on('associationRejected', () => {
        why = 'association rejected';
        finish();
      });
      // Requests go out right after this event: fit each to what the remote accepted.
      client.on('associationAccepted', (association: Association) => {
        for (const [i, r] of requests.entries()) {
          if (r && !out[i] && !fitAccepted(r, association)) out[i] = refuse('the remote accepts neither this SOP class nor a transfer syntax it can be sent in');
        }
      });
      const tls = this.d.tls;
      client.send(this.d.host, this.d.port, this.d.callingAeTitle ?? this.ownAeTitle, this.d.aeTitle, {
        connectTimeout: this.d.timeoutSeconds * 1000,
        associationTimeout: this.d.timeoutSeconds * 1000,
        pduTimeout: this.d.timeoutSeconds * 1000,
        ...(tls ? { securityOptions: { ca: tls.ca, cert: tls.cert, key: tls.key, rejectUnauthorized: true } } : {}),
      });
    });
  }
}
