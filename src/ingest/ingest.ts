/**
 * The one ingest path: STOW-RS, C-STORE, folder import and derived results all come
 * through here. parse → validate → de-identify → encode → store (atomic) → index (one
 * transaction). A failure at any step leaves no file and no row behind.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Dataset } from '../dicom/dataset';
import { DicomLimitError, DicomParseError, parseDataset, parsePart10, readUidValue } from '../dicom/parse';
import { Tags } from '../dicom/tags';
import { writePart10 } from '../dicom/write';
import { storedTransferSyntax } from '../dicom/transfer-syntax';
import { DeidParams, DeidResult, Linkage, deidentify } from '../deid/deidentify';
import { mapUid } from '../deid/keyed';
import { LinkageFile } from '../deid/linkage';
import { cleanDerivedText } from '../deid/derived-text';
import { fingerprintTest, fingerprints } from '../deid/fingerprints';
import { fitValueLengths } from '../dicom/vr-limits';
import { codecsReady } from '../imaging/decode';
import type { PixelTextReader } from '../deid/ocr';
import { VeilgateError, isOutOfResources, messageOf } from '../errors';
import { Index } from '../index/index';
import { BlobStore } from '../store/blob-store';
import { log } from '../log';
import { buildRecord } from './record';
import { InstanceIdentity, checkMeta, checkPixelData, checkSopClass, checkTransferSyntax, identify } from './validate';
import type { Limits } from '../limits';
import { GatewayAudit, userOf } from '../audit/gateway-audit';
import { rawString } from '../dicom/values';
import { ALL_PROJECTS, DEFAULT_PROJECT, LOCAL_PRINCIPAL, Principal, pseudonymProject } from '../auth/principal';
import { ingestProjects, joinerOf, studyOpenTo } from '../auth/projects';
import { projectSecret } from '../deid/keyed';
import type { ProjectRule } from '../auth/config';

export type IngestInput =
  /** A DICOM file (PS3.10), as STOW-RS and folder import receive it. */
  | { kind: 'part10'; bytes: Uint8Array }
  /** A bare data set in a negotiated transfer syntax, as C-STORE receives it. */
  | { kind: 'dataset'; bytes: Uint8Array; transferSyntaxUID: string }
  /** An object the gateway made from de-identified sources: validated, not de-identified again. */
  | { kind: 'derived'; dataset: Dataset; transferSyntaxUID: string };

export interface IngestOptions {
  /** For the audit trail: "http 127.0.0.1", "dimse PACS1", "import". Never PHI. */
  source: string;
  /** Who sent it: its projects are the new study's (and must hold an existing study's). Local when not given. */
  principal?: Principal;
  /** STOW-RS to /studies/{study}: the instance must belong to this study. */
  expectedStudyUID?: string;
  /** Where it came from, for the audit trail's security alerts. */
  from?: { address: string; aeTitle?: string };
}

/** The UIDs of an instance as its sender wrote them: what a sender that may not read is answered with. */
export interface SentUIDs {
  sopClassUID?: string;
  sopInstanceUID?: string;
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
  /** Told of every ingest's outcome and the kind of its source (metrics listen). */
  onOutcome?: (outcome: 'stored' | 'duplicate' | 'rejected', source: string) => void;
}

/**
 * Every write gets its own key, so a stored file is never overwritten: if two writers race
 * on one instance (server and import at once), the index insert picks the winner and the
 * loser removes its own file.
 */
function blobKeyOf(id: InstanceIdentity): string {
  return `${id.studyUID}/${id.seriesUID}/${id.sopInstanceUID}.${randomBytes(4).toString('hex')}.dcm`;
}

function parseInput(input: IngestInput, deps: IngestDeps): { dataset: Dataset; meta: Dataset; transferSyntaxUID: string; warnings: string[] } {
  // A deflated data set inflates to what is stored: the same size limit applies to both.
  const options = { maxInflatedBytes: deps.maxInstanceBytes, maxDepth: deps.limits.maxNestingDepth };
  try {
    if (input.kind === 'derived') return { dataset: input.dataset, meta: new Map(), transferSyntaxUID: input.transferSyntaxUID, warnings: [] };
    if (input.kind === 'dataset') {
      return { dataset: parseDataset(input.bytes, input.transferSyntaxUID, options), meta: new Map(), transferSyntaxUID: input.transferSyntaxUID, warnings: [] };
    }
    const parsed = parsePart10(input.bytes, options);
    const warnings = parsed.repairedEncoding ? ['data set VR encoding contradicted its transfer syntax and was corrected'] : [];
    return { ...parsed, warnings };
  } catch (e) {
    if (e instanceof DicomLimitError) throw new VeilgateError('payload-too-large', `the instance is over a limit: ${e.message}`);
    if (e instanceof DicomParseError) throw new VeilgateError('cannot-understand', `not a readable DICOM instance: ${e.message}`);
    throw e;
  }
}

/**
 * A derived object is not de-identified again (its UIDs must keep pointing at its sources), but
 * the text it carries from clients (descriptions, NIfTI header text, model names) is cleaned.
 */
async function derivedText(dataset: Dataset, transferSyntaxUID: string, deps: IngestDeps): Promise<Omit<DeidResult, 'linkage' | 'identifierWords'>> {
  const study = readUidValue(dataset.get(Tags.StudyInstanceUID));
  // The source patient's own identifiers, known by their keyed fingerprints (a NIfTI description naming them).
  const known = deps.deid && study ? fingerprintTest(deps.deid.secret, await deps.index.identifierFingerprints(study)) : undefined;
  return { dataset, transferSyntaxUID, warnings: [], sweptPaths: cleanDerivedText(dataset, known), pixelsToCheck: false };
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

/** The UIDs of a rejected instance, as far as they could be read, for the failure report. */
interface Seen {
  sopClassUID?: string;
  sopInstanceUID?: string;
  sent: SentUIDs;
}

async function ingestOnce(input: IngestInput, options: IngestOptions, deps: IngestDeps, seen: Seen): Promise<IngestResult & { ok: true }> {
  if (input.kind !== 'derived' && input.bytes.length > deps.maxInstanceBytes) {
    throw new VeilgateError('payload-too-large', `instance is larger than the ${deps.maxInstanceBytes}-byte limit`);
  }
  const parsed = parseInput(input, deps);
  // Derived instances are made here from stored, already de-identified data. Anything else is
  // de-identified in its source's pseudonym space.
  const principal = options.principal ?? LOCAL_PRINCIPAL;
  const deidParams =
    input.kind === 'derived' || !deps.deid ? null : { ...deps.deid, secret: projectSecret(deps.deid.secret, pseudonymProject(principal), DEFAULT_PROJECT) };
  seen.sopClassUID = readUidValue(parsed.dataset.get(Tags.SOPClassUID));
  // A failure report names the instance as it would have been stored, never by its original UID.
  const sentUID = readUidValue(parsed.dataset.get(Tags.SOPInstanceUID));
  seen.sent = { sopClassUID: seen.sopClassUID, sopInstanceUID: sentUID };
  seen.sopInstanceUID = sentUID && deidParams && !deidParams.options.retainUIDs ? mapUid(deidParams.secret, sentUID) : sentUID;
  checkTransferSyntax(parsed.transferSyntaxUID);
  const pixels = checkPixelData(parsed.dataset, parsed.transferSyntaxUID, deps.limits);
  parsed.transferSyntaxUID = pixels.transferSyntaxUID;
  parsed.warnings.push(...pixels.warnings);
  const original = identify(parsed.dataset);
  const metaWarnings = checkMeta(parsed.meta, original);
  checkSopClass(parsed.dataset, original);

  // Burned-in pixels of a compressed instance are decoded before they are cleaned.
  if (deidParams && parsed.dataset.get(Tags.PixelData)?.fragments) await codecsReady();
  const deid: Omit<DeidResult, 'linkage' | 'identifierWords'> & { linkage?: Linkage; identifierWords?: string[] } = deidParams
    ? deidentify(parsed.dataset, deidParams, parsed.transferSyntaxUID)
    : await derivedText(parsed.dataset, parsed.transferSyntaxUID, deps);
  if (deps.ocr && deid.pixelsToCheck) {
    const findings = await deps.ocr.findings(deid.dataset, deid.identifierWords ?? []);
    if (findings.length) throw new VeilgateError('refused', `text is still readable in the pixels after cleaning (${findings.join(', ')}): the instance is refused`);
  }
  // A rule the table missed (external) or client text that carried PHI (derived): named by path, never by value.
  for (const path of deid.sweptPaths) log.warn(input.kind === 'derived' ? 'deid-derived-text' : 'deid-sweep', { path });
  const lengthWarnings = fitValueLengths(deid.dataset);
  const id = identify(deid.dataset);
  seen.sopClassUID = id.sopClassUID;
  seen.sopInstanceUID = id.sopInstanceUID;
  if (options.expectedStudyUID && options.expectedStudyUID !== original.studyUID && options.expectedStudyUID !== id.studyUID) {
    throw new VeilgateError('study-mismatch', 'the instance belongs to another study than the one in the request URL');
  }
  const warnings = [...parsed.warnings, ...metaWarnings, ...deid.warnings, ...lengthWarnings];

  // Projects: a derived object joins its source study's; anything else brings its source's.
  // A study held by projects the source lacks is refused before anything is written, and so is
  // a SOP Instance UID stored in such a study: the answer names nothing and says nothing of it.
  const patientID = rawString(deid.dataset.get(Tags.PatientID))?.trim() ?? '';
  const held = await deps.index.studyProjects(id.studyUID);
  const joiner = input.kind === 'derived' ? ALL_PROJECTS : joinerOf(principal);
  const projects = input.kind === 'derived' && held.length ? held : ingestProjects(principal, parsed.dataset, deps.projectRules ?? []);
  const forbidden = () => {
    deps.audit?.projectViolation({ user: userOf(principal), address: options.from?.address ?? '', aeTitle: options.from?.aeTitle }, id.studyUID);
    return new VeilgateError('forbidden', 'this source may not add instances to that study');
  };
  if (held.length && !studyOpenTo(held, joiner)) throw forbidden();
  const existing = await deps.index.findInstance(id.sopInstanceUID);
  if (existing && existing.studyUID !== id.studyUID && !studyOpenTo(await deps.index.studyProjects(existing.studyUID), joiner)) throw forbidden();

  return exclusive(id.sopInstanceUID, async () => {
    const transferSyntaxUID = storedTransferSyntax(deid.transferSyntaxUID);
    const written = writePart10(deid.dataset, { sopClassUID: id.sopClassUID, sopInstanceUID: id.sopInstanceUID, transferSyntaxUID });
    const sha256 = contentHash(written.chunks);
    const duplicate = async () => {
      try {
        await checkSameContent(deps, id.sopInstanceUID, sha256);
      } catch (e) {
        if (e instanceof VeilgateError && e.kind === 'duplicate-conflict') {
          deps.audit?.substitution({ user: userOf(principal), address: options.from?.address ?? '', aeTitle: options.from?.aeTitle }, id.studyUID, id.sopClassUID, id.sopInstanceUID);
        }
        throw e;
      }
      return { ok: true as const, outcome: 'duplicate' as const, warnings, ...id, sent: seen.sent, patientID };
    };
    if (await deps.index.findInstance(id.sopInstanceUID)) return duplicate();
    const blobKey = blobKeyOf(id);
    const record = buildRecord({ id, dataset: deid.dataset, written, transferSyntaxUID, blobKey, inlineBinaryMaxBytes: deps.inlineBinaryMaxBytes, projects, joiner });
    // Fingerprints never leave the index: one site key, so a derived object's check needs no project.
    if (deps.deid && deid.identifierWords) record.identifierFingerprints = fingerprints(deps.deid.secret, deid.identifierWords);
    record.contentSha256 = sha256;
    await deps.store.put(blobKey, written.chunks);
    let outcome: 'inserted' | 'duplicate';
    try {
      // The linkage line goes first: if the disk fills there, nothing is stored and the sender is
      // told to retry; a line for an instance the index then refuses is harmless (exports dedupe).
      if (deid.linkage) deps.linkage?.record(deid.linkage);
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
    if (input.kind !== 'derived') deps.onExternalStored?.(id.studyUID, id.seriesUID);
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

/** "http 127.0.0.1" → "http": a metric label never carries an address or an AE title. */
function sourceKind(source: string): string {
  return source.split(' ')[0] || 'unknown';
}

export async function ingest(input: IngestInput, options: IngestOptions, deps: IngestDeps): Promise<IngestResult> {
  const seen: Seen = { sent: {} };
  try {
    const result = await ingestOnce(input, options, deps, seen);
    deps.onOutcome?.(result.outcome, sourceKind(options.source));
    log.info('ingest', {
      source: options.source,
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
    if (!(e instanceof VeilgateError)) log.error('ingest-error', { source: options.source, error: (e as Error)?.name ?? 'error', code: (e as NodeJS.ErrnoException)?.code });
    deps.onOutcome?.('rejected', sourceKind(options.source));
    log.info('ingest', { source: options.source, outcome: 'rejected', reason: error.kind });
    // A refusal for access names no UID: not even the mapping of the sender's own.
    return error.kind === 'forbidden' ? { ok: false, error, sent: {} } : { ok: false, error, ...seen };
  }
}
