/**
 * A C-STORE SCU for tests that must send data sets exactly as given (mutated bytes, a chosen
 * transfer syntax), one association per batch, with the status of every request.
 *
 * dcmjs-dimse's Client proposes Implicit and Explicit VR Little Endian for every SOP class and
 * re-encodes a data set when the accepted syntax is not the data set's own. That would parse
 * (and so repair or reject) the very bytes under test, so while the association request is
 * built, each request gets a presentation context of its own data set's syntax only, and the
 * data set refuses any re-encoding.
 */
import { Client, Dataset as DimseDataset, requests, association as associationNs } from 'dcmjs-dimse';

/** A data set that is its bytes: never parsed, never re-encoded. */
class RawStoreDataset extends DimseDataset {
  constructor(
    private readonly bytes: Buffer,
    transferSyntaxUid: string,
    elements: Record<string, string>,
  ) {
    super(elements, transferSyntaxUid);
  }

  override getDenaturalizedDataset(): Buffer {
    return this.bytes;
  }

  override getElements(): Record<string, unknown> {
    throw new Error('a raw data set is sent as it is');
  }

  override setTransferSyntaxUid(transferSyntaxUid: string): void {
    if (this.bytes && transferSyntaxUid !== this.getTransferSyntaxUid()) throw new Error('a raw data set is sent in its own transfer syntax');
    super.setTransferSyntaxUid(transferSyntaxUid);
  }
}

export interface StoreItem {
  dataset: Buffer;
  ts: string;
  sopClassUID: string;
  sopInstanceUID: string;
}

export interface StoreOutcome {
  /** The C-STORE response status; undefined when no response came. */
  status?: number;
  comment?: string;
  /** Why there was no response (association rejected, aborted, presentation context refused). */
  noResponse?: string;
}

type AssociationProto = {
  addPresentationContextFromRequest(request: unknown, syntaxes?: unknown): number;
  findPresentationContextByAbstractSyntaxAndTransferSyntax(abstract: string, ts: string): number | undefined;
  addPresentationContext(abstract: string): number;
  addTransferSyntaxToPresentationContext(id: number, ts: string): void;
  getPresentationContext(id: number): { getResult(): number; getAcceptedTransferSyntaxUid(): string };
  getPresentationContexts(): { id: number }[];
};

/** One association: every item C-STOREd in order, each with its outcome. */
export function cStoreBatch(
  host: string,
  port: number,
  callingAe: string,
  calledAe: string,
  items: StoreItem[],
  timeoutMs = 30_000,
): Promise<{ outcomes: StoreOutcome[]; association: 'accepted' | 'rejected' | 'error' | 'timeout'; events: string[] }> {
  return new Promise((resolve) => {
    const client = new Client();
    const outcomes: StoreOutcome[] = items.map(() => ({}));
    const events: string[] = [];
    let association: 'accepted' | 'rejected' | 'error' | 'timeout' = 'error';
    items.forEach((item, i) => {
      const ds = new RawStoreDataset(item.dataset, item.ts, { SOPClassUID: item.sopClassUID, SOPInstanceUID: item.sopInstanceUID });
      const request = new requests.CStoreRequest(ds);
      request.on('response', (r: { getStatus(): number; getErrorComment?(): string }) => {
        outcomes[i].status = r.getStatus();
        outcomes[i].comment = r.getErrorComment?.();
      });
      client.addRequest(request);
    });
    let done = false;
    const finish = (why: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      events.push(why);
      for (const o of outcomes) if (o.status === undefined && !o.noResponse) o.noResponse = why;
      resolve({ outcomes, association, events });
    };
    const timer = setTimeout(() => {
      association = association === 'accepted' ? 'accepted' : 'timeout';
      try {
        client.abort();
      } catch {
        /* not connected */
      }
      finish('timeout');
    }, timeoutMs);
    client.on('associationAccepted', (a: AssociationProto) => {
      association = 'accepted';
      // A request whose context was refused is skipped by the library without a response.
      for (const { id } of a.getPresentationContexts()) {
        const pc = a.getPresentationContext(id);
        if (pc.getResult() !== 0) events.push(`presentation context ${id} refused (${pc.getResult()})`);
      }
    });
    client.on('associationRejected', () => {
      association = 'rejected';
      finish('association rejected');
    });
    client.on('associationAborted', () => finish('association aborted'));
    client.on('networkError', (e: Error) => finish(`network error: ${e?.message ?? e}`));
    client.on('closed', () => finish('closed'));

    // Exact presentation contexts, for this association request only (built synchronously in send).
    const proto = (associationNs.Association as unknown as { prototype: AssociationProto }).prototype;
    const original = proto.addPresentationContextFromRequest;
    proto.addPresentationContextFromRequest = function (this: AssociationProto, request: unknown) {
      const r = request as { getAffectedSopClassUid(): string; getDataset(): DimseDataset };
      const abstract = r.getAffectedSopClassUid();
      const ts = r.getDataset().getTransferSyntaxUid();
      let id = this.findPresentationContextByAbstractSyntaxAndTransferSyntax(abstract, ts);
      if (id === undefined) {
        id = this.addPresentationContext(abstract);
        this.addTransferSyntaxToPresentationContext(id, ts);
      }
      return id;
    };
    try {
      client.send(host, port, callingAe, calledAe, { connectTimeout: timeoutMs, associationTimeout: timeoutMs, pduTimeout: timeoutMs });
    } finally {
      proto.addPresentationContextFromRequest = original;
    }
  });
}
