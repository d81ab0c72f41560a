/**
 * The DIMSE service class provider (on dcmjs-dimse): C-ECHO, C-STORE into the one ingest
 * path, C-FIND over the shared query code, C-MOVE to configured destinations and C-GET on
 * the requesting association. Status codes come from src/errors.ts like STOW-RS's.
 */
import type { Socket } from 'node:net';
import { Scp, Client, Dataset as DimseDataset, constants, responses, association as associationNs } from 'dcmjs-dimse';
import type { Writable } from 'node:stream';
import { Config } from '../config';
import { Index } from '../index/index';
import { BlobStore } from '../store/blob-store';
import { IngestDeps, ingest } from '../ingest/ingest';
import { VeilgateError, dicomStatusOf, DicomWarning } from '../errors';
import { TS, transferSyntax } from '../dicom/transfer-syntax';
import { log } from '../log';
import { RawDataset } from './raw-dataset';
import { findRequestFrom, findResponseDataset } from './find';
import { writeDataset } from '../dicom/write';
import { instancesToRetrieve, storeRequestFor } from './retrieve';

const { CEchoResponse, CFindResponse, CStoreResponse, CMoveResponse, CGetResponse } = responses;
const { Status, PresentationContextResult, RejectResult, RejectSource, RejectReason } = constants;

type Association = InstanceType<typeof associationNs.Association>;
type PresentationContext = Parameters<Scp['createStoreWritableStream']>[0];
type EchoRequest = Parameters<Scp['cEchoRequest']>[0];
type StoreRequest = Parameters<Scp['cStoreRequest']>[0];
type FindRequest = Parameters<Scp['cFindRequest']>[0];
type MoveRequest = Parameters<Scp['cMoveRequest']>[0];
type GetRequest = Parameters<Scp['cGetRequest']>[0];
type Callback<T extends keyof Scp> = Scp[T] extends (r: never, cb: infer C) => void ? C : never;

export interface DimseDeps {
  config: Config;
  index: Index;
  store: BlobStore;
  ingestDeps: IngestDeps;
}

const VERIFICATION = '1.2.840.10008.1.1';
const QUERY_RETRIEVE = new Set([
  '1.2.840.10008.5.1.4.1.2.1.1', '1.2.840.10008.5.1.4.1.2.1.2', '1.2.840.10008.5.1.4.1.2.1.3', // Patient Root FIND, MOVE, GET
  '1.2.840.10008.5.1.4.1.2.2.1', '1.2.840.10008.5.1.4.1.2.2.2', '1.2.840.10008.5.1.4.1.2.2.3', // Study Root FIND, MOVE, GET
]);

/** Storage SOP classes: every standard one (1.2.840.10008.5.1.4.1.1.*) and any private class. */
function isStorageClass(uid: string): boolean {
  return uid.startsWith('1.2.840.10008.5.1.4.1.1.') || !uid.startsWith('1.2.840.10008.');
}

/** Sub-operations of C-MOVE and C-GET, counted for their responses. */
interface SubOperations {
  remaining: number;
  completed: number;
  warnings: number;
  failures: number;
}

function countStatus(ops: SubOperations, status: number | undefined): void {
  ops.remaining--;
  if (status === Status.Success) ops.completed++;
  else if (status !== undefined && status >= 0xb000 && status <= 0xbfff) ops.warnings++;
  else ops.failures++;
}

/** Final status of a retrieve: success, or B000 when some sub-operations failed (PS3.4 C.4.2.1.6). */
function retrieveStatus(ops: SubOperations): number {
  return ops.failures > 0 || ops.warnings > 0 ? 0xb000 : Status.Success;
}

interface RetrieveResponse {
  setStatus(s: number): void;
  setRemaining(n: number): void;
  setCompleted(n: number): void;
  setWarnings(n: number): void;
  setFailures(n: number): void;
  setErrorComment(c: string): void;
}

/** A C-MOVE or C-GET response with its status and sub-operation counts. */
function withCounts<R extends RetrieveResponse>(response: R, status: number, ops: SubOperations, comment?: string): R {
  response.setStatus(status);
  response.setRemaining(ops.remaining);
  response.setCompleted(ops.completed);
  response.setWarnings(ops.warnings);
  response.setFailures(ops.failures);
  if (comment) response.setErrorComment(comment.slice(0, 64));
  return response;
}

function callerAllowed(allowed: string[], aeTitle: string, host: string): boolean {
  const h = host.replace(/^::ffff:/, '');
  return allowed.some((entry) => {
    if (entry === '*') return true;
    const [ae, allowedHost] = entry.split('@');
    return ae === aeTitle && (!allowedHost || allowedHost === h);
  });
}

/** Associations open now, shared by every connection of one listener. */
export interface AssociationCounter {
  active: number;
}

export function createScpClass(deps: DimseDeps, counter: AssociationCounter): new (socket: Socket, opts?: object) => Scp {
  const cfg = deps.config.dimse;

  return class VeilgateScp extends Scp {
    private callingAe = '';
    private counted = false;
    private readonly stats = { received: 0, stored: 0, failures: 0, found: 0, sent: 0 };
    private readonly started = Date.now();

    constructor(socket: Socket, opts?: object) {
      super(socket, opts);
      socket.once('close', () => {
        if (!this.counted) return;
        counter.active--;
        log.info('dimse-association', { callingAe: this.callingAe, ...this.stats, seconds: (Date.now() - this.started) / 1000 });
      });
    }

    private get remoteHost(): string {
      return (this as unknown as { socket: Socket }).socket.remoteAddress ?? '';
    }

    override associationRequested(association: Association): void {
      const calling = association.getCallingAeTitle().trim();
      const called = association.getCalledAeTitle().trim();
      this.callingAe = calling;
      const reject = (result: number, source: number, reason: number, why: string) => {
        log.warn('dimse-association-rejected', { callingAe: calling, host: this.remoteHost, why });
        this.sendAssociationReject(result, source, reason);
      };
      if (!callerAllowed(cfg.allowedCallers, calling, this.remoteHost)) {
        return reject(RejectResult.Permanent, RejectSource.ServiceUser, RejectReason.CallingAeNotRecognized, 'calling AE not allowed');
      }
      if (called !== cfg.aeTitle) {
        return reject(RejectResult.Permanent, RejectSource.ServiceUser, RejectReason.CalledAeNotRecognized, 'called AE is not ours');
      }
      if (counter.active >= cfg.maxAssociations) {
        return reject(RejectResult.Transient, RejectSource.ServiceProviderPresentation, RejectReason.LocalLimitExceeded, 'too many associations');
      }
      counter.active++;
      this.counted = true;
      // dcmjs-dimse uses one value both for what we announce and for the PDUs it sends, so it
      // must not exceed what the peer can receive (0 means no limit).
      const peerMax = association.getMaxPduLength() || cfg.maxPduLength;
      association.setMaxPduLength(Math.min(peerMax, cfg.maxPduLength));
      for (const { id } of association.getPresentationContexts()) {
        const context = association.getPresentationContext(id);
        const abstract = context.getAbstractSyntaxUid();
        if (abstract !== VERIFICATION && !QUERY_RETRIEVE.has(abstract) && !isStorageClass(abstract)) {
          context.setResult(PresentationContextResult.RejectAbstractSyntaxNotSupported);
          continue;
        }
        // The SCU's first choice that we can store or send as it is.
        const ts = context.getTransferSyntaxUids().find((uid) => transferSyntax(uid));
        if (ts) context.setResult(PresentationContextResult.Accept, ts);
        else context.setResult(PresentationContextResult.RejectTransferSyntaxesNotSupported);
      }
      this.sendAssociationAccept();
    }

    override associationReleaseRequested(): void {
      this.sendAssociationReleaseResponse();
    }

    override cEchoRequest(request: EchoRequest, callback: Callback<'cEchoRequest'>): void {
      const response = CEchoResponse.fromRequest(request);
      response.setStatus(Status.Success);
      callback(response);
    }

    /** Keep the received data set as bytes: no dcmjs parse, the ingest path reads it. */
    override createStoreWritableStream(): Writable {
      const chunks: Buffer[] = [];
      const sink = {
        chunks,
        write: (chunk: Buffer) => {
          chunks.push(Buffer.from(chunk));
          return true;
        },
        end: () => sink,
        on: () => sink,
        once: () => sink,
        emit: () => true,
      };
      return sink as unknown as Writable;
    }

    override createDatasetFromStoreWritableStream(writable: Writable, context: PresentationContext, callback: (d: DimseDataset) => void): void {
      const chunks = (writable as unknown as { chunks: Buffer[] }).chunks;
      callback(new RawDataset(Buffer.concat(chunks), context.getAcceptedTransferSyntaxUid() ?? ''));
    }

    override cStoreRequest(request: StoreRequest, callback: Callback<'cStoreRequest'>): void {
      this.stats.received++;
      const dataset = request.getDataset() as RawDataset;
      ingest(
        { kind: 'dataset', bytes: dataset.raw(), transferSyntaxUID: dataset.getTransferSyntaxUid() },
        { source: `dimse ${this.callingAe}` },
        deps.ingestDeps,
      ).then((result) => {
        const response = CStoreResponse.fromRequest(request);
        if (result.ok) {
          this.stats.stored++;
          response.setStatus(result.warnings.length ? DicomWarning.CoercionOfDataElements : Status.Success);
        } else {
          this.stats.failures++;
          response.setStatus(dicomStatusOf(result.error));
          response.setErrorComment(result.error.message.slice(0, 64));
        }
        callback(response);
      });
    }

    override cFindRequest(request: FindRequest, callback: Callback<'cFindRequest'>): void {
      const identifier = (request.getDataset()?.getElements() ?? {}) as Record<string, unknown>;
      const fail = (status: number, e: unknown) => {
        const response = CFindResponse.fromRequest(request);
        response.setStatus(status);
        response.setErrorComment(e instanceof VeilgateError ? e.message.slice(0, 64) : 'unable to process');
        callback([response]);
      };
      let find: ReturnType<typeof findRequestFrom>;
      try {
        find = findRequestFrom(identifier, { maxLimit: deps.config.qidoMaxLimit });
      } catch (e) {
        return fail(0xa900, e); // identifier does not match SOP class
      }
      const association = (this as unknown as { association: Association }).association;
      const syntax = acceptedSyntaxFor(association, request.getAffectedSopClassUid()) ?? TS.ImplicitVRLittleEndian;
      deps.index.search(find.query).then(
        (result) => {
          const seenPatients = new Set<string>();
          const answers = [];
          for (const match of result.rows) {
            if (find.patientLevel) {
              const pid = String(match.json['00100020']?.Value?.[0] ?? '');
              if (seenPatients.has(pid)) continue;
              seenPatients.add(pid);
            }
            const pending = CFindResponse.fromRequest(request);
            // Our own encoding (UIDs padded with NUL as PS3.5 requires), in the context's syntax.
            const ds = findResponseDataset(match, find, cfg.aeTitle);
            const bytes = Buffer.concat(writeDataset(ds, { explicit: syntax !== TS.ImplicitVRLittleEndian }).chunks);
            pending.setDataset(new RawDataset(bytes, syntax));
            pending.setStatus(Status.Pending);
            answers.push(pending);
          }
          this.stats.found += answers.length;
          const done = CFindResponse.fromRequest(request);
          done.setStatus(Status.Success);
          callback([...answers, done]);
        },
        (e) => fail(0xc000, e),
      );
    }

    override cMoveRequest(request: MoveRequest, callback: Callback<'cMoveRequest'>): void {
      const destinationAe = String(request.getCommandDataset().getElement('MoveDestination') ?? '').trim();
      const respond = (status: number, ops: SubOperations, comment?: string) =>
        callback([withCounts(CMoveResponse.fromRequest(request), status, ops, comment)]);
      const none: SubOperations = { remaining: 0, completed: 0, warnings: 0, failures: 0 };
      const destination = cfg.destinations[destinationAe];
      if (!destination) return respond(0xa801, none, 'move destination unknown');
      this.retrieve(request, async (instances, ops) => {
        // A bounded batch per association keeps at most that many instances in memory.
        for (let i = 0; i < instances.length; i += 16) {
          const batch = await Promise.all(instances.slice(i, i + 16).map((inst) => storeRequestFor(inst, deps.store)));
          await sendToDestination(batch, destination, cfg.aeTitle, destinationAe, ops);
        }
      }).then(
        (ops) => respond(retrieveStatus(ops), { ...ops, remaining: 0 }),
        (e) => respond(e instanceof VeilgateError ? 0xa900 : 0xa701, none, (e as Error).message),
      );
    }

    override cGetRequest(request: GetRequest, callback: Callback<'cGetRequest'>): void {
      const respond = (status: number, ops: SubOperations, comment?: string) =>
        callback([withCounts(CGetResponse.fromRequest(request), status, ops, comment)]);
      this.retrieve(request, async (instances, ops) => {
        // One C-STORE at a time on this association, each loaded only when its turn comes.
        for (const inst of instances) {
          const store = await storeRequestFor(inst, deps.store);
          if (!fitAcceptedSyntax(store, (this as unknown as { association: Association }).association)) {
            countStatus(ops, undefined); // no presentation context the instance can go out in as it is
            continue;
          }
          await new Promise<void>((resolve) => {
            let status: number | undefined;
            store.on('response', (r: { getStatus(): number }) => (status = r.getStatus()));
            store.on('done', () => {
              countStatus(ops, status);
              resolve();
            });
            this.sendRequests(store);
          });
        }
      }).then(
        (ops) => respond(retrieveStatus(ops), { ...ops, remaining: 0 }),
        (e) => respond(e instanceof VeilgateError ? 0xa900 : 0xa701, { remaining: 0, completed: 0, warnings: 0, failures: 0 }, (e as Error).message),
      );
    }

    private async retrieve(request: MoveRequest | GetRequest, send: (instances: Awaited<ReturnType<typeof instancesToRetrieve>>, ops: SubOperations) => Promise<void>): Promise<SubOperations> {
      const identifier = (request.getDataset()?.getElements() ?? {}) as Record<string, unknown>;
      const instances = await instancesToRetrieve(identifier, deps.index);
      const ops: SubOperations = { remaining: instances.length, completed: 0, warnings: 0, failures: 0 };
      await send(instances, ops);
      this.stats.sent += ops.completed + ops.warnings;
      return ops;
    }
  } as unknown as new (socket: Socket, opts?: object) => Scp;
}

/**
 * Put a stored instance in the transfer syntax the peer accepted for its SOP class, when that
 * needs no more than an Explicit/Implicit VR switch. Otherwise it cannot be sent as it is
 * (transcoding compressed data is not done here), and the caller counts a failure.
 */
function fitAcceptedSyntax(request: Awaited<ReturnType<typeof storeRequestFor>>, association: Association): boolean {
  const accepted = association.getAcceptedPresentationContextFromRequest(request)?.getAcceptedTransferSyntaxUid();
  const ds = request.getDataset() as RawDataset;
  if (!accepted || !ds.canBecome(accepted)) return false;
  ds.setTransferSyntaxUid(accepted);
  return true;
}

/** The transfer syntax accepted for a SOP class on an association. */
function acceptedSyntaxFor(association: Association, sopClassUid: string): string | undefined {
  for (const { id } of association.getPresentationContexts()) {
    const context = association.getPresentationContext(id);
    if (context.getAbstractSyntaxUid() === sopClassUid && context.getResult() === PresentationContextResult.Accept) {
      return context.getAcceptedTransferSyntaxUid();
    }
  }
  return undefined;
}

/** C-STORE a batch to a C-MOVE destination on an association of its own. */
function sendToDestination(
  batch: Awaited<ReturnType<typeof storeRequestFor>>[],
  destination: { host: string; port: number },
  callingAe: string,
  calledAe: string,
  ops: SubOperations,
): Promise<void> {
  return new Promise((resolve) => {
    const client = new Client();
    const statuses = new Map<unknown, number>();
    for (const r of batch) {
      r.on('response', (response: { getStatus(): number }) => statuses.set(r, response.getStatus()));
      client.addRequest(r);
    }
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      for (const r of batch) countStatus(ops, statuses.get(r));
      resolve();
    };
    client.on('closed', finish);
    client.on('networkError', finish);
    client.on('associationRejected', finish);
    // Requests go out right after this event: fit each to what the destination accepted.
    client.on('associationAccepted', (association: Association) => {
      for (const r of batch) fitAcceptedSyntax(r, association);
    });
    client.send(destination.host, destination.port, callingAe, calledAe);
  });
}
