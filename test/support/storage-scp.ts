/**
 * A C-STORE SCP in the test's own process (dcmjs-dimse), for tests of what the gateway sends:
 * DIMSE egress, C-MOVE destinations. What it takes is set per test (reset): the transfer
 * syntaxes it accepts for storage, whether it accepts Verification, the status it answers for
 * each SOP instance, a callback as each C-STORE arrives. It counts associations and echoes and
 * keeps every data set it was sent as the bytes that came (never parsed), with the syntax of
 * the presentation context they came in.
 */
import { Writable } from 'node:stream';
import { Dataset as DimseDataset, Scp, Server, constants, responses } from 'dcmjs-dimse';
import { freePort } from './local';

const EXPLICIT = '1.2.840.10008.1.2.1';
const IMPLICIT = '1.2.840.10008.1.2';
const VERIFICATION = '1.2.840.10008.1.1';

/** A data set the SCP received. */
export interface Received {
  sop: string;
  /** The accepted transfer syntax of the presentation context it came in. */
  ts: string;
  bytes: Buffer;
}

export interface StorageScpOptions {
  /** Transfer syntaxes it accepts for storage, the requester's first proposed one of them taken (default Explicit VR Little Endian only). */
  storage?: string[];
  /** Whether it accepts Verification, in Implicit VR Little Endian (default true). */
  verification?: boolean;
  /** The C-STORE response status for an instance (default 0x0000). */
  status?: (sop: string) => number;
  /** Called as each C-STORE arrives, after it is kept and before it is answered. */
  onStore?: (r: Received) => void;
}

export interface StorageScp {
  readonly port: number;
  /** What arrived since the last reset, in order. */
  readonly received: Received[];
  readonly associations: number;
  readonly echoes: number;
  /** Set what it takes and answers (unset options back to their defaults), and zero what it kept and counted. */
  reset(o?: StorageScpOptions): void;
  close(): void;
}

class Sink extends Writable {
  chunks: Buffer[] = [];
  override _write(chunk: Buffer, _e: BufferEncoding, cb: () => void): void {
    this.chunks.push(chunk);
    cb();
  }
}

/** A data set that is the bytes received. */
class RawReceived extends DimseDataset {
  constructor(
    readonly bytes: Buffer,
    ts: string,
  ) {
    super({}, ts);
  }
}

/** Start one on a free loopback port; it listens once this resolves. */
export async function startStorageScp(options: StorageScpOptions = {}): Promise<StorageScp> {
  let config: Required<StorageScpOptions>;
  const state = {
    received: [] as Received[],
    associations: 0,
    echoes: 0,
  };
  const reset = (o: StorageScpOptions = {}) => {
    config = {
      storage: o.storage ?? [EXPLICIT],
      verification: o.verification ?? true,
      status: o.status ?? (() => 0x0000),
      onStore: o.onStore ?? (() => undefined),
    };
    state.received = [];
    state.associations = 0;
    state.echoes = 0;
  };
  reset(options);

  class StorageScpImpl extends Scp {
    override associationRequested(association: Parameters<Scp['associationRequested']>[0]): void {
      state.associations++;
      for (const { context } of association.getPresentationContexts()) {
        const verification = context.getAbstractSyntaxUid() === VERIFICATION;
        if (verification && !config.verification) {
          context.setResult(constants.PresentationContextResult.RejectAbstractSyntaxNotSupported);
          continue;
        }
        const accepted = verification ? [IMPLICIT] : config.storage;
        const ts = context.getTransferSyntaxUids().find((t) => accepted.includes(t));
        if (ts) context.setResult(constants.PresentationContextResult.Accept, ts);
        else context.setResult(constants.PresentationContextResult.RejectTransferSyntaxesNotSupported);
      }
      this.sendAssociationAccept();
    }

    override associationReleaseRequested(): void {
      this.sendAssociationReleaseResponse();
    }

    override cEchoRequest(request: Parameters<Scp['cEchoRequest']>[0], callback: Parameters<Scp['cEchoRequest']>[1]): void {
      state.echoes++;
      const r = responses.CEchoResponse.fromRequest(request);
      r.setStatus(0x0000);
      callback(r);
    }

    override createStoreWritableStream(): Writable {
      return new Sink();
    }

    override createDatasetFromStoreWritableStream(writable: Writable, context: Parameters<Scp['createDatasetFromStoreWritableStream']>[1], callback: (d: DimseDataset) => void): void {
      callback(new RawReceived(Buffer.concat((writable as Sink).chunks), context.getAcceptedTransferSyntaxUid() ?? ''));
    }

    override cStoreRequest(request: Parameters<Scp['cStoreRequest']>[0], callback: Parameters<Scp['cStoreRequest']>[1]): void {
      const ds = request.getDataset() as unknown as RawReceived;
      const got: Received = { sop: request.getAffectedSopInstanceUid(), ts: ds.getTransferSyntaxUid(), bytes: ds.bytes };
      state.received.push(got);
      config.onStore(got);
      const r = responses.CStoreResponse.fromRequest(request);
      r.setStatus(config.status(got.sop));
      callback(r);
    }
  }

  const port = await freePort();
  const server = new Server(StorageScpImpl);
  await new Promise<void>((resolve, reject) => {
    const failed = (e: Error) => reject(e);
    server.once('networkError', failed);
    server.once('listening', () => {
      server.off('networkError', failed);
      resolve();
    });
    server.listen(port);
  });
  return {
    port,
    get received() {
      return state.received;
    },
    get associations() {
      return state.associations;
    },
    get echoes() {
      return state.echoes;
    },
    reset,
    close: () => server.close(),
  };
}
