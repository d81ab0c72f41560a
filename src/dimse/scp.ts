/**
 * The DIMSE service class provider (on dcmjs-dimse): C-ECHO, C-STORE into the one ingest
 * path, C-FIND over the shared query code, C-MOVE to configured destinations and C-GET on
 * the requesting association. Status codes come from src/errors.ts like STOW-RS's.
 *
 * C-MOVE and C-GET sub-operations go through the one C-STORE pipeline (store-pipeline.ts, shared
 * with egress): instances read as they are sent, a bounded few ahead, and rewritten by the
 * worker pool when the peer takes them only in another syntax, never on this thread.
 *
 * Every association acts for one principal, settled at A-ASSOCIATE-RQ (access.ts): its roles
 * decide which presentation contexts are accepted (services.ts), and are checked again in each
 * handler; its projects bound every lookup, which goes through an AccessView of the index.
 */
import type { Authenticator } from '../auth/middleware';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { Scp, Dataset as DimseDataset, constants, responses, association as associationNs } from 'dcmjs-dimse';
import type { Writable } from 'node:stream';
import { Config } from '../config';
import { Index, StoredInstance } from '../index/index';
import { BlobStore } from '../store/blob-store';
import { IngestDeps, ingest } from '../ingest/ingest';
import { VeilgateError, dicomStatusOf, DicomWarning } from '../errors';
import { TS, transferSyntax } from '../dicom/transfer-syntax';
import { log } from '../log';
import { RawDataset } from './raw-dataset';
import { findRequestFrom, findResponseDataset } from './find';
import { writeDataset } from '../dicom/write';
import { instancesToRetrieve } from './retrieve';
import { Learnt, Sent, instanceReader, storeOnAssociation, storeToPeer } from './store-pipeline';
import type { WorkerPool } from '../workers/pool';
import { PduGate, Verdict } from './gate';
import { AssociateResult, Ticket } from './slots';
import { Identifier, naturalIdentifier } from './identifier';
import type { Principal } from '../auth/principal';
import { AccessView } from '../index/access-view';
import { REJECTION, admitAssociation } from './access';
import { peerHost } from './callers';
import { DimseEvents, RejectionReason, emit } from './events';
import { ProposedIdentity } from './identity';
import { NOT_AUTHORIZED, Service, judgeContext, mayUse, serviceOf } from './services';

const { CEchoResponse, CFindResponse, CStoreResponse, CMoveResponse, CGetResponse } = responses;
const { Status, PresentationContextResult } = constants;

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
  /** Rewrites instances a C-MOVE destination or C-GET requester takes only in another syntax. */
  workers: WorkerPool;
  /** Verifies user identity negotiation (an API key as passcode, or a JWT) when auth is on. */
  authenticator?: Authenticator;
  /** Told of associations, authentications, queries, retrieves and stores (the audit trail listens). */
  events?: DimseEvents;
}

/** Sub-operations of C-MOVE and C-GET, counted for their responses. */
interface SubOperations {
  remaining: number;
  completed: number;
  warnings: number;
  failures: number;
}

/** Instances per C-MOVE association (and per C-GET pass): the pipeline bounds what is read ahead, this the requests made up front. */
const SUB_OPERATION_BATCH = 1000;

/** A sub-operation's status: the peer's, or none (not sent, not answered: a failure). */
const statusOf = (sent: Sent | undefined): number | undefined => (sent && 'status' in sent ? sent.status : undefined);

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

/** What the listener gives each connection's SCP: the gate in front of it and its slot. */
export interface ConnectionGuards {
  gate: PduGate;
  ticket: Ticket;
}

/**
 * A C-STORE data set as it arrives, kept as bytes (no dcmjs parse: the ingest path reads it).
 * The gate stops forwarding past maxInstanceBytes and calls discard(), so an oversized data set
 * never holds more than the limit.
 */
class StoreSink {
  chunks: Buffer[] = [];
  private discarded = false;

  write(chunk: Buffer): boolean {
    if (!this.discarded && chunk.length) this.chunks.push(Buffer.from(chunk));
    return true;
  }

  discard(): void {
    this.discarded = true;
    this.chunks = [];
  }

  end(): this {
    return this;
  }
  on(): this {
    return this;
  }
  once(): this {
    return this;
  }
  emit(): boolean {
    return true;
  }
}

const REFUSED_AS: Record<Exclude<AssociateResult, 'ok'>, RejectionReason> = {
  busy: 'too-many-associations',
  'ae-busy': 'too-many-associations-for-ae',
};

/** The User Identity sub-item of an A-ASSOCIATE-RQ, as dcmjs-dimse read it. */
function proposedIdentity(association: Association): ProposedIdentity | undefined {
  if (!association.getNegotiateUserIdentity()) return undefined;
  return {
    type: association.getUserIdentityType(),
    primary: association.getUserIdentityPrimaryField() ?? '',
    secondary: association.getUserIdentitySecondaryField() ?? '',
    positiveResponseRequested: association.getUserIdentityPositiveResponseRequested(),
  };
}

/** Associations accepted by this process so far: each SCP's number. */
let associations = 0;

export function createScpClass(deps: DimseDeps): new (socket: Socket, opts: object, guards: ConnectionGuards) => Scp {
  const cfg = deps.config.dimse;
  const prepare = instanceReader(deps.store, deps.workers);
  /** Per move destination: what it took, per SOP class and stored syntax, at its last association. */
  const learnt = new Map<string, Learnt>();
  const learntBy = (ae: string): Learnt => {
    let l = learnt.get(ae);
    if (!l) learnt.set(ae, (l = new Map()));
    return l;
  };

  return class VeilgateScp extends Scp {
    private callingAe = '';
    /** Set once the association is accepted: who it acts for, and the index as they may see it. */
    private principal?: Principal;
    private view?: AccessView;
    private counted = false;
    private readonly stats = { received: 0, stored: 0, failures: 0, found: 0, sent: 0, refused: 0 };
    private readonly started = Date.now();
    private readonly guards: ConnectionGuards;
    private sink?: StoreSink;

    constructor(socket: Socket, opts: object, guards: ConnectionGuards) {
      super(socket, opts);
      this.guards = guards;
      guards.gate.onStoreOverLimit = () => this.sink?.discard();
      socket.once('close', () => {
        if (!this.counted) return;
        if (this.principal) emit(deps.events, 'associationEnded', this.peer);
        log.info('dimse-association', { callingAe: this.callingAe, principal: this.principal?.id, ...this.stats, seconds: (Date.now() - this.started) / 1000 });
      });
    }

    /**
     * The gate's verdict on a request that came with a data set: a refusal to answer, or for
     * C-FIND/C-MOVE/C-GET the identifier as our parser read it (the library got an empty one).
     */
    private verdictFor(request: { getMessageId(): number; getDataset(): unknown }, what: string): Verdict | undefined {
      if (!request.getDataset()) return undefined;
      const messageId = request.getMessageId();
      const verdict = this.guards.gate.takeVerdict(messageId) ?? {
        messageId,
        commandField: 0,
        refusal: { status: 0xc000, comment: 'request not seen by the gate', limit: 'order', bytes: 0 },
      };
      const refusal = verdict.refusal;
      if (refusal) {
        this.stats.refused++;
        log.warn('dimse-request-refused', { callingAe: this.callingAe, host: this.remoteHost, request: what, limit: refusal.limit, bytes: refusal.bytes, status: refusal.status });
      }
      return verdict;
    }

    /** The connection (TCP, or TLS decrypted): dcmjs-dimse keeps it as `socket`. */
    private get connection(): Socket {
      return (this as unknown as { socket: Socket }).socket;
    }

    private get remoteHost(): string {
      return peerHost(this.connection.remoteAddress);
    }

    override associationRequested(association: Association): void {
      const calling = association.getCallingAeTitle().trim();
      this.callingAe = calling;
      // Deciding may wait on a token's verification; meanwhile the gate holds whatever the peer
      // sends, and its pre-association timer (ARTIM) bounds the wait.
      admitAssociation(
        { callingAe: calling, host: this.remoteHost, calledAe: association.getCalledAeTitle().trim(), identity: proposedIdentity(association) },
        { config: deps.config, authenticator: deps.authenticator, events: deps.events },
      ).then(
        (admission) => {
          if (this.connection.destroyed) return;
          if (!admission.ok) return this.reject(admission.reason);
          const admitted = this.guards.ticket.associate(calling);
          if (admitted !== 'ok') return this.reject(REFUSED_AS[admitted]);
          this.accept(association, admission.principal, admission.identityResponse);
        },
        (e) => {
          log.error('dimse-association-error', { callingAe: calling, host: this.remoteHost, error: (e as Error)?.name ?? 'error' });
          this.connection.destroy();
        },
      );
    }

    private reject(reason: RejectionReason): void {
      log.warn('dimse-association-rejected', { callingAe: this.callingAe, host: this.remoteHost, why: reason });
      emit(deps.events, 'associationRejected', { callingAe: this.callingAe, host: this.remoteHost, reason });
      const { result, source, reason: code } = REJECTION[reason];
      this.sendAssociationReject(result, source, code);
      this.guards.gate.rejected();
    }

    private accept(association: Association, principal: Principal, identityResponse: boolean): void {
      this.principal = principal;
      this.view = new AccessView(deps.index, principal);
      this.counted = true;
      // dcmjs-dimse uses one value both for what we announce and for the PDUs it sends, so it
      // must not exceed what the peer can receive (0 means no limit).
      const peerMax = association.getMaxPduLength() || cfg.maxPduLength;
      association.setMaxPduLength(Math.min(peerMax, cfg.maxPduLength));
      for (const { id } of association.getPresentationContexts()) {
        const context = association.getPresentationContext(id);
        const service = serviceOf(context.getAbstractSyntaxUid());
        if (!service) {
          context.setResult(PresentationContextResult.RejectAbstractSyntaxNotSupported);
          continue;
        }
        // A service the principal has no role for is refused here, before any request.
        const judged = judgeContext(principal, service, { userRole: context.getUserRole(), providerRole: context.getProviderRole() });
        if (!judged.accept) {
          context.setResult(PresentationContextResult.RejectUser);
          continue;
        }
        if (judged.roles) {
          context.setUserRole(judged.roles.userRole);
          context.setProviderRole(judged.roles.providerRole);
        }
        // The SCU's first choice that we can store or send as it is.
        const ts = context.getTransferSyntaxUids().find((uid) => transferSyntax(uid));
        if (ts) context.setResult(PresentationContextResult.Accept, ts);
        else context.setResult(PresentationContextResult.RejectTransferSyntaxesNotSupported);
      }
      if (identityResponse) {
        // PS3.7 D.3.3.7.2: the server response is empty for a passcode; for a JWT we issue none either.
        association.setNegotiateUserIdentityServerResponse(true);
        association.setUserIdentityServerResponse('');
      }
      this.sendAssociationAccept();
      const contexts = new Map<number, string>();
      for (const { id } of association.getPresentationContexts()) {
        const context = association.getPresentationContext(id);
        const ts = context.getAcceptedTransferSyntaxUid();
        if (context.getResult() === PresentationContextResult.Accept && ts) contexts.set(id, ts);
      }
      // What was just announced in the A-ASSOCIATE-AC bounds the P-DATA-TF PDUs the peer may send.
      this.guards.gate.accepted({ maxPduLength: association.getMaxPduLength(), contexts });
      const tls = (this.connection as TLSSocket).encrypted === true;
      emit(deps.events, 'associationAccepted', { callingAe: this.callingAe, host: this.remoteHost, principalId: principal.id, via: principal.via, tls });
    }

    /**
     * Defence in depth: the principal's role for a request's service, checked again in its
     * handler (its context was refused at association if the role was missing).
     */
    private allowed(service: Service): boolean {
      if (this.principal && mayUse(this.principal, service)) return true;
      this.stats.refused++;
      log.warn('dimse-request-not-authorized', { callingAe: this.callingAe, host: this.remoteHost, service });
      return false;
    }

    // Not `association`: dcmjs-dimse's Scp keeps its Association object under that name.
    private readonly associationNumber = ++associations;

    private get peer() {
      return { association: this.associationNumber, callingAe: this.callingAe, host: this.remoteHost, principalId: this.principal?.id ?? '' };
    }

    /** A peer's A-ABORT ends the association: close the connection. */
    override abort(): void {
      this.connection.destroy();
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
      this.sink = new StoreSink();
      return this.sink as unknown as Writable;
    }

    override createDatasetFromStoreWritableStream(writable: Writable, context: PresentationContext, callback: (d: DimseDataset) => void): void {
      const sink = writable as unknown as StoreSink;
      if (this.sink === sink) this.sink = undefined;
      const bytes = Buffer.concat(sink.chunks);
      sink.chunks = [];
      callback(new RawDataset(bytes, context.getAcceptedTransferSyntaxUid() ?? ''));
    }

    override cStoreRequest(request: StoreRequest, callback: Callback<'cStoreRequest'>): void {
      this.stats.received++;
      const refusal = this.verdictFor(request, 'C-STORE')?.refusal;
      if (refusal) {
        this.stats.failures++;
        const response = CStoreResponse.fromRequest(request);
        response.setStatus(refusal.status);
        response.setErrorComment(refusal.comment.slice(0, 64));
        return callback(response);
      }
      if (!this.allowed('storage')) {
        this.stats.failures++;
        const response = CStoreResponse.fromRequest(request);
        response.setStatus(NOT_AUTHORIZED.store.status);
        response.setErrorComment(NOT_AUTHORIZED.store.comment);
        return callback(response);
      }
      const dataset = request.getDataset() as RawDataset;
      ingest(
        { kind: 'dataset', bytes: dataset.raw(), transferSyntaxUID: dataset.getTransferSyntaxUid() },
        { origin: { kind: 'dimse', address: this.remoteHost, aeTitle: this.callingAe }, principal: this.principal },
        deps.ingestDeps,
      ).then((result) => {
        const response = CStoreResponse.fromRequest(request);
        if (result.ok) {
          this.stats.stored++;
          response.setStatus(result.warnings.length ? DicomWarning.CoercionOfDataElements : Status.Success);
          emit(deps.events, 'instanceStored', {
            ...this.peer,
            outcome: result.outcome,
            studyUid: result.studyUID,
            seriesUid: result.seriesUID,
            sopInstanceUid: result.sopInstanceUID,
            sopClassUid: result.sopClassUID,
            patientId: result.patientID,
          });
        } else {
          this.stats.failures++;
          response.setStatus(dicomStatusOf(result.error));
          response.setErrorComment(result.error.message.slice(0, 64));
        }
        callback(response);
      });
    }

    override cFindRequest(request: FindRequest, callback: Callback<'cFindRequest'>): void {
      const verdict = this.verdictFor(request, 'C-FIND');
      if (verdict?.refusal) {
        const response = CFindResponse.fromRequest(request);
        response.setStatus(verdict.refusal.status);
        response.setErrorComment(verdict.refusal.comment.slice(0, 64));
        return callback([response]);
      }
      const fail = (status: number, e: unknown) => {
        const response = CFindResponse.fromRequest(request);
        response.setStatus(status);
        response.setErrorComment(e instanceof VeilgateError ? e.message.slice(0, 64) : 'unable to process');
        callback([response]);
      };
      if (!this.allowed('find')) return fail(NOT_AUTHORIZED.query.status, new VeilgateError('forbidden', NOT_AUTHORIZED.query.comment));
      const identifier: Identifier = verdict?.identifier ? naturalIdentifier(verdict.identifier) : {};
      let find: ReturnType<typeof findRequestFrom>;
      try {
        find = findRequestFrom(identifier, { maxLimit: deps.config.qidoMaxLimit });
      } catch (e) {
        return fail(0xa900, e); // identifier does not match SOP class
      }
      // The audit trail gets the query's shape: its keywords, never their values.
      emit(deps.events, 'queried', { ...this.peer, sopClassUid: request.getAffectedSopClassUid(), level: find.level, keys: Object.keys(identifier) });
      const association = (this as unknown as { association: Association }).association;
      const syntax = acceptedSyntaxFor(association, request.getAffectedSopClassUid()) ?? TS.ImplicitVRLittleEndian;
      // Only the principal's projects: another project's study is not there, as an unknown one is not.
      this.view!.search(find.query).then(
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
      const verdict = this.verdictFor(request, 'C-MOVE');
      if (verdict?.refusal) return respond(verdict.refusal.status, none, verdict.refusal.comment);
      if (!this.allowed('move')) return respond(NOT_AUTHORIZED.query.status, none, NOT_AUTHORIZED.query.comment);
      const destination = cfg.destinations[destinationAe];
      if (!destination) return respond(0xa801, none, 'move destination unknown');
      this.retrieve('C-MOVE', destinationAe, verdict, async (instances, ops, signal) => {
        const peer = { host: destination.host, port: destination.port, callingAeTitle: cfg.aeTitle, calledAeTitle: destinationAe, timeoutSeconds: cfg.associationTimeoutSeconds };
        for (let i = 0; i < instances.length; i += SUB_OPERATION_BATCH) {
          const { results } = await storeToPeer(instances.slice(i, i + SUB_OPERATION_BATCH), { peer, prepare, learnt: learntBy(destinationAe), signal });
          for (const r of results) countStatus(ops, statusOf(r));
        }
      }).then(
        (ops) => respond(retrieveStatus(ops), { ...ops, remaining: 0 }),
        (e) => respond(e instanceof VeilgateError ? 0xa900 : 0xa701, none, (e as Error).message),
      );
    }

    override cGetRequest(request: GetRequest, callback: Callback<'cGetRequest'>): void {
      const respond = (status: number, ops: SubOperations, comment?: string) =>
        callback([withCounts(CGetResponse.fromRequest(request), status, ops, comment)]);
      const none: SubOperations = { remaining: 0, completed: 0, warnings: 0, failures: 0 };
      const verdict = this.verdictFor(request, 'C-GET');
      if (verdict?.refusal) return respond(verdict.refusal.status, none, verdict.refusal.comment);
      if (!this.allowed('get')) return respond(NOT_AUTHORIZED.query.status, none, NOT_AUTHORIZED.query.comment);
      this.retrieve('C-GET', this.callingAe, verdict, async (instances, ops, signal) => {
        // One C-STORE at a time on this association, each handed over once ready in the syntax its context took.
        const association = (this as unknown as { association: Association }).association;
        for (let i = 0; i < instances.length; i += SUB_OPERATION_BATCH) {
          const results = await storeOnAssociation(instances.slice(i, i + SUB_OPERATION_BATCH), { association, send: (r) => this.sendRequests(r), prepare, signal });
          for (const r of results) countStatus(ops, statusOf(r));
        }
      }).then(
        (ops) => respond(retrieveStatus(ops), { ...ops, remaining: 0 }),
        (e) => respond(e instanceof VeilgateError ? 0xa900 : 0xa701, none, (e as Error).message),
      );
    }

    /** Resolve a C-MOVE/C-GET identifier through the principal's view of the index, and send what it names. */
    private async retrieve(
      service: 'C-MOVE' | 'C-GET',
      destinationAe: string,
      verdict: Verdict | undefined,
      send: (instances: StoredInstance[], ops: SubOperations, signal: AbortSignal) => Promise<void>,
    ): Promise<SubOperations> {
      const identifier: Identifier = verdict?.identifier ? naturalIdentifier(verdict.identifier) : {};
      const instances = await instancesToRetrieve(identifier, this.view!);
      if (instances.length) {
        emit(deps.events, 'retrieveBegun', { ...this.peer, service, destinationAe, studies: studiesOf(instances), instanceCount: instances.length });
      }
      const ops: SubOperations = { remaining: instances.length, completed: 0, warnings: 0, failures: 0 };
      // The requester gone, nothing more is sent (nor read) for it.
      const gone = new AbortController();
      const abort = () => gone.abort();
      this.connection.once('close', abort);
      try {
        await send(instances, ops, gone.signal);
      } finally {
        this.connection.off('close', abort);
      }
      this.stats.sent += ops.completed + ops.warnings;
      return ops;
    }
  } as unknown as new (socket: Socket, opts: object, guards: ConnectionGuards) => Scp;
}

/** The studies a retrieve sends, with their instances counted by SOP class (what an audit message lists). */
function studiesOf(instances: StoredInstance[]): { studyUid: string; instances: number; sopClasses: Record<string, number> }[] {
  const byStudy = new Map<string, { studyUid: string; instances: number; sopClasses: Record<string, number> }>();
  for (const inst of instances) {
    let s = byStudy.get(inst.studyUID);
    if (!s) byStudy.set(inst.studyUID, (s = { studyUid: inst.studyUID, instances: 0, sopClasses: {} }));
    s.instances++;
    s.sopClasses[inst.sopClassUID] = (s.sopClasses[inst.sopClassUID] ?? 0) + 1;
  }
  return [...byStudy.values()];
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
