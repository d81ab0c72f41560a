/**
 * The one ingest path: STOW-RS, C-STORE, folder import and derived results all come
 * through here. parse → validate → de-identify → encode → store (atomic) → index (one
 * transaction). A failure at any step leaves no file and no row behind.
 */
import { movable } from '../workers/transfer';
import { createHash } from 'node:crypto';
import { parsePart10 } from '../dicom/parse';
import { DeidParams } from '../deid/deidentify';
import { LinkageFile } from '../deid/linkage';
import type { PixelTextReader } from '../deid/ocr';
import { VeilgateError, isOutOfResources, messageOf } from '../errors';
import { Index } from '../index/index';
import { BlobStore } from '../store/blob-store';
import { log } from '../log';
import { InstanceIdentity } from './validate';
import type { Limits } from '../limits';
import { GatewayAudit, userOf } from '../audit/gateway-audit';
import { ALL_PROJECTS, DEFAULT_PROJECT, LOCAL_PRINCIPAL, Principal, pseudonymProject } from '../auth/principal';
import { joinerOf, studyOpenTo } from '../auth/projects';
import { projectSecret } from '../deid/keyed';
import type { ProjectRule } from '../auth/config';
import type { WorkerPool } from '../workers/pool';
import { IngestOrigin, originLabel, originPeer } from '../core/origin';
import { PrepareContext, PrepareInput, PrepareOutcome, Seen, SentUIDs, prepareInstance } from './prepare';

export type { SentUIDs } from './prepare';
export type IngestInput = PrepareInput;

export interface IngestOptions {
  /** Which adapter it came through, and from where (core/origin.ts). */
  origin: IngestOrigin;
  /** Who sent it: its projects are the new study's (and must hold an existing study's). Local when not given. */
  principal?: Principal;
  /** STOW-RS to /studies/{study}: the instance must belong to this study. */
  expectedStudyUID?: string;
  /** The input's bytes are the caller's to give away: they move to the worker thread instead of being copied. */
  moveBytes?: boolean;
  /** A derived object handed over as bytes: the study it was made from (its client text is cleaned of that study's identifiers). */
  derivedFrom?: string;
}

export type IngestResult =
  | ({ ok: true; outcome: 'stored' | 'duplicate'; warnings: string[]; sent: SentUIDs; /** The stored (pseudonymous) Patient ID. */ patientID: string } & InstanceIdentity)
  | { ok: false; error: VeilgateError; sopClassUID?: string; sopInstanceUID?: string; sent: SentUIDs };

export interface IngestDeps {
  index: Index;
  store: BlobStore;
  maxInstanceBytes: number;
  inlineBinaryMaxBytes: number;
  limits: Limits;
  /** De-identification of external sources; null only in benchmarks that measure its cost. */
  deid: DeidParams | null;
  linkage?: LinkageFile;
  /** The optional OCR check of cleaned pixels (deid.ocr). */
  ocr?: PixelTextReader;
  /** Told of every instance an external source stored (job rules listen). */
  onExternalStored?: (study: string, series: string) => void;
  /** Rules that put studies into projects by their header (auth.projectRules). */
  projectRules?: readonly ProjectRule[];
  /** The audit trail, told of refused project violations and substitution attempts. */
  audit?: GatewayAudit;
  /** The worker threads that parse and de-identify; without them (the CLI's tests, benchmarks) that runs here. */
  workers?: WorkerPool;
  /** Told of every ingest's outcome, the kind of its source and how many warnings it raised (metrics and the console's tally listen). */
  onOutcome?: (outcome: 'stored' | 'duplicate' | 'rejected', source: string, warnings: number) => void;
}

/** The CPU half (parse, de-identify, encode) on a worker thread, or here when there is no pool. */
async function prepare(input: IngestInput, ctx: PrepareContext, deps: IngestDeps, move: boolean): Promise<PrepareOutcome> {
  if (!deps.workers) return prepareInstance(input, ctx);
  // The bytes move to the worker when the caller gives them away and they fill their buffer.
  return deps.workers.run('prepare-instance', { input, ctx }, move ? movable([input.bytes]) : []);
}

/** Serialises ingests of the same SOP instance in this process, so a re-send waits and finds the first. */
const inFlight = new Map<string, Promise<unknown>>();

async function exclusive<T>(key: string, fn: () => Promise<T>): Promise<T> {
  while (inFlight.has(key)) await inFlight.get(key)!.catch(() => undefined);
  const p = fn();
  inFlight.set(key, p);
  try {
    return await p;
  } finally {
    inFlight.delete(key);
  }
}

async function ingestOnce(input: IngestInput, options: IngestOptions, deps: IngestDeps, seen: Seen): Promise<IngestResult & { ok: true }> {
  const derived = input.kind === 'derived-part10';
  const principal = options.principal ?? LOCAL_PRINCIPAL;
  // Derived instances are made here from stored, already de-identified data: their client text is
  // cleaned of the source study's identifiers (known only by keyed fingerprints). Anything else is
  // de-identified in its source's pseudonym space.
  const sourceStudy = derived ? options.derivedFrom : undefined;
  const ctx: PrepareContext = {
    maxInstanceBytes: deps.maxInstanceBytes,
    inlineBinaryMaxBytes: deps.inlineBinaryMaxBytes,
    limits: deps.limits,
    deid: derived || !deps.deid ? null : { ...deps.deid, secret: projectSecret(deps.deid.secret, pseudonymProject(principal), DEFAULT_PROJECT) },
    siteSecret: deps.deid?.secret,
    knownFingerprints: derived && deps.deid && sourceStudy ? [...(await deps.index.identifierFingerprints(sourceStudy))] : undefined,
    principal,
    projectRules: deps.projectRules ?? [],
    wantIdentifierWords: !!deps.ocr,
  };
  const outcome = await prepare(input, ctx, deps, !!options.moveBytes);
  if (!outcome.ok) {
    Object.assign(seen, outcome.seen);
    if (outcome.ours) log.error('ingest-error', { source: originLabel(options.origin), error: outcome.ours.name, code: outcome.ours.code });
    throw new VeilgateError(outcome.kind, outcome.message);
  }
  const prepared = outcome.prepared;
  Object.assign(seen, prepared.seen);
  const { id, warnings, patientID, record } = prepared;
  if (deps.ocr && prepared.pixelsToCheck) {
    const cleaned = parsePart10(Buffer.from(prepared.bytes.buffer, prepared.bytes.byteOffset, prepared.bytes.byteLength)).dataset;
    const findings = await deps.ocr.findings(cleaned, prepared.identifierWords ?? []);
    if (findings.length) throw new VeilgateError('refused', `text is still readable in the pixels after cleaning (${findings.join(', ')}): the instance is refused`);
  }
  // A rule the table missed (external) or client text that carried PHI (derived): named by path, never by value.
  for (const path of prepared.sweptPaths) log.warn(derived ? 'deid-derived-text' : 'deid-sweep', { path });
  if (options.expectedStudyUID && options.expectedStudyUID !== prepared.originalStudyUID && options.expectedStudyUID !== id.studyUID) {
    throw new VeilgateError('study-mismatch', 'the instance belongs to another study than the one in the request URL');
  }

  // Projects: a derived object joins its source study's; anything else brings its source's.
  // A study held by projects the source lacks is refused before anything is written, and so is
  // a SOP Instance UID stored in such a study: the answer names nothing and says nothing of it.
  const held = await deps.index.studyProjects(id.studyUID);
  const joiner = derived ? ALL_PROJECTS : joinerOf(principal);
  if (derived && held.length) record.projects = held;
  record.joiner = joiner;
  const forbidden = () => {
    deps.audit?.projectViolation({ user: userOf(principal), ...originPeer(options.origin) }, id.studyUID);
    return new VeilgateError('forbidden', 'this source may not add instances to that study');
  };
  if (held.length && !studyOpenTo(held, joiner)) throw forbidden();

  return exclusive(id.sopInstanceUID, async () => {
    // One lookup, under the UID's turn: another ingest of it on this node has finished by now.
    const existing = await deps.index.findInstance(id.sopInstanceUID);
    if (existing && existing.studyUID !== id.studyUID && !studyOpenTo(await deps.index.studyProjects(existing.studyUID), joiner)) throw forbidden();
    const duplicate = async () => {
      try {
        await checkSameContent(deps, id.sopInstanceUID, prepared.sha256);
      } catch (e) {
        if (e instanceof VeilgateError && e.kind === 'duplicate-conflict') {
          deps.audit?.substitution({ user: userOf(principal), ...originPeer(options.origin) }, id.studyUID, id.sopClassUID, id.sopInstanceUID);
        }
        throw e;
      }
      return { ok: true as const, outcome: 'duplicate' as const, warnings, ...id, sent: seen.sent, patientID };
    };
    if (existing) return duplicate();
    const blobKey = record.blobKey;
    await deps.store.put(blobKey, [prepared.bytes]);
    let outcome: 'inserted' | 'duplicate';
    try {
      // The linkage line goes first: if the disk fills there, nothing is stored and the sender is
      // told to retry; a line for an instance the index then refuses is harmless (exports dedupe).
      if (prepared.linkage) deps.linkage?.record(prepared.linkage);
      outcome = await deps.index.insert(record);
    } catch (e) {
      await deps.store.delete(blobKey).catch(() => undefined);
      throw e;
    }
    if (outcome === 'duplicate') {
      // Another writer (the CLI beside the server) stored it first: the same check applies.
      await deps.store.delete(blobKey).catch(() => undefined);
      return duplicate();
    }
    if (!derived) deps.onExternalStored?.(id.studyUID, id.seriesUID);
    return { ok: true as const, outcome: 'stored' as const, warnings, ...id, sent: seen.sent, patientID };
  });
}

function contentHash(chunks: Uint8Array[]): string {
  const h = createHash('sha256');
  for (const c of chunks) h.update(c);
  return h.digest('hex');
}

/**
 * A re-sent SOP Instance UID is a success only if it would be stored byte for byte as the first
 * copy was (de-identification is deterministic, so a true re-send is). Other content under a
 * stored UID is refused with its own status, and both hashes go to the log: a forged copy sent
 * first must not shadow the real instance in silence, nor a later one replace it.
 */
async function checkSameContent(deps: IngestDeps, sopInstanceUID: string, sha256: string): Promise<void> {
  const stored = await deps.index.findInstance(sopInstanceUID);
  if (!stored) return;
  const storedSha256 = stored.contentSha256 ?? contentHash([await deps.store.read(stored.blobKey, [{ start: 0, end: stored.size - 1 }])]);
  if (storedSha256 === sha256) return;
  log.warn('duplicate-conflict', { instance: sopInstanceUID, storedSha256, receivedSha256: sha256 });
  throw new VeilgateError('duplicate-conflict', 'an instance with this SOP Instance UID is already stored with other content; the stored copy is kept');
}

export async function ingest(input: IngestInput, options: IngestOptions, deps: IngestDeps): Promise<IngestResult> {
  const seen: Seen = { sent: {} };
  try {
    const result = await ingestOnce(input, options, deps, seen);
    deps.onOutcome?.(result.outcome, options.origin.kind, result.warnings.length);
    log.info('ingest', {
      source: originLabel(options.origin),
      outcome: result.outcome,
      study: result.studyUID,
      series: result.seriesUID,
      instance: result.sopInstanceUID,
      warnings: result.warnings.length,
    });
    return result;
  } catch (e) {
    // Anything not already a VeilgateError is ours: a full disk, or a bug. Never "cannot understand".
    const error =
      e instanceof VeilgateError
        ? e
        : new VeilgateError(isOutOfResources(e) ? 'out-of-resources' : 'processing-failure', messageOf(e));
    if (!(e instanceof VeilgateError)) log.error('ingest-error', { source: originLabel(options.origin), error: (e as Error)?.name ?? 'error', code: (e as NodeJS.ErrnoException)?.code });
    deps.onOutcome?.('rejected', options.origin.kind, 0);
    log.info('ingest', { source: originLabel(options.origin), outcome: 'rejected', reason: error.kind });
    // A refusal for access names no UID: not even the mapping of the sender's own.
    return error.kind === 'forbidden' ? { ok: false, error, sent: {} } : { ok: false, error, ...seen };
  }
}
