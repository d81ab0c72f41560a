/**
 * The CPU half of the one ingest path, as a pure step that runs in a worker thread: parse,
 * validate, de-identify, fit value lengths, encode, hash, and build the index record. It
 * touches neither the index nor the store, so it can run anywhere; ingest.ts does the rest
 * (project checks against the index, store, index) on the main thread.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Dataset } from '../dicom/dataset';
import { DicomLimitError, DicomParseError, parseDataset, parsePart10, readUidValue } from '../dicom/parse';
import { Tags } from '../dicom/tags';
import { writePart10 } from '../dicom/write';
import { joinChunks } from '../dicom/encode';
import { storedTransferSyntax } from '../dicom/transfer-syntax';
import { DeidParams, DeidResult, Linkage, deidentify } from '../deid/deidentify';
import { mapUid } from '../deid/keyed';
import { cleanDerivedText } from '../deid/derived-text';
import { fingerprintTest, fingerprints } from '../deid/fingerprints';
import { fitValueLengths } from '../dicom/vr-limits';
import { codecsReady } from '../imaging/decode';
import { VeilgateError, isOutOfResources, messageOf, type FailureKind } from '../errors';
import type { InstanceRecord } from '../index/index';
import { buildRecord } from './record';
import { InstanceIdentity, checkMeta, checkPixelData, checkSopClass, checkTransferSyntax, identify } from './validate';
import type { Limits } from '../limits';
import { rawString } from '../dicom/values';
import { Principal } from '../auth/principal';
import { ingestProjects, joinerOf } from '../auth/projects';
import type { ProjectRule } from '../auth/config';
import { asBuffer } from '../workers/transfer';

export type PrepareInput =
  /** A DICOM file (PS3.10), as STOW-RS and folder import receive it. */
  | { kind: 'part10'; bytes: Uint8Array }
  /** A bare data set in a negotiated transfer syntax, as C-STORE receives it. */
  | { kind: 'dataset'; bytes: Uint8Array; transferSyntaxUID: string }
  /** An object the gateway made from de-identified sources (a job's result, a posted volume), as PS3.10: validated, not de-identified again. */
  | { kind: 'derived-part10'; bytes: Uint8Array };

export interface PrepareContext {
  maxInstanceBytes: number;
  inlineBinaryMaxBytes: number;
  limits: Limits;
  /** De-identification in the source's pseudonym space; null for derived objects. */
  deid: DeidParams | null;
  /** The site secret, for identifier fingerprints (one key for every project). */
  siteSecret?: Buffer;
  /** Fingerprints of the source study's identifier words: a derived object's client text is cleaned of them. */
  knownFingerprints?: string[];
  principal: Principal;
  projectRules: readonly ProjectRule[];
  /** The OCR check needs the identifier words themselves (kept in memory only). */
  wantIdentifierWords: boolean;
}

/** The UIDs of an instance as its sender wrote them: what a sender that may not read is answered with. */
export interface SentUIDs {
  sopClassUID?: string;
  sopInstanceUID?: string;
}

/** The UIDs of an instance as far as they could be read, for a failure report. */
export interface Seen {
  sopClassUID?: string;
  sopInstanceUID?: string;
  sent: SentUIDs;
}

export interface PreparedInstance {
  id: InstanceIdentity;
  /** The Study Instance UID the sender wrote (a STOW to /studies/{uid} may name either). */
  originalStudyUID: string;
  warnings: string[];
  /** Tag paths the last sweep (external) or the client-text cleaner (derived) changed. */
  sweptPaths: string[];
  patientID: string;
  /** The projects the source's rules give the study (a derived object takes its source study's). */
  projects: string[];
  /** The whole stored file, one buffer. */
  bytes: Uint8Array;
  sha256: string;
  record: InstanceRecord;
  linkage?: Linkage;
  pixelsToCheck: boolean;
  identifierWords?: string[];
  seen: Seen;
}

export type PrepareOutcome = { ok: true; prepared: PreparedInstance } | { ok: false; kind: FailureKind; message: string; seen: Seen; ours?: { name: string; code?: string } };

/**
 * Every write gets its own key, so a stored file is never overwritten: if two writers race
 * on one instance (server and import at once), the index insert picks the winner and the
 * loser removes its own file.
 */
function blobKeyOf(id: InstanceIdentity): string {
  return `${id.studyUID}/${id.seriesUID}/${id.sopInstanceUID}.${randomBytes(4).toString('hex')}.dcm`;
}


function parseInput(input: PrepareInput, ctx: PrepareContext): { dataset: Dataset; meta: Dataset; transferSyntaxUID: string; warnings: string[] } {
  // A deflated data set inflates to what is stored: the same size limit applies to both.
  const options = { maxInflatedBytes: ctx.maxInstanceBytes, maxDepth: ctx.limits.maxNestingDepth };
  try {
    if (input.kind === 'dataset') {
      return { dataset: parseDataset(asBuffer(input.bytes), input.transferSyntaxUID, options), meta: new Map(), transferSyntaxUID: input.transferSyntaxUID, warnings: [] };
    }
    const parsed = parsePart10(asBuffer(input.bytes), options);
    const warnings = parsed.repairedEncoding ? ['data set VR encoding contradicted its transfer syntax and was corrected'] : [];
    return { ...parsed, warnings };
  } catch (e) {
    if (e instanceof DicomLimitError) throw new VeilgateError('payload-too-large', `the instance is over a limit: ${e.message}`);
    if (e instanceof DicomParseError) throw new VeilgateError('cannot-understand', `not a readable DICOM instance: ${e.message}`);
    throw e;
  }
}

async function prepareOnce(input: PrepareInput, ctx: PrepareContext, seen: Seen): Promise<PreparedInstance> {
  const derived = input.kind === 'derived-part10';
  if (input.bytes.length > ctx.maxInstanceBytes) {
    throw new VeilgateError('payload-too-large', `instance is larger than the ${ctx.maxInstanceBytes}-byte limit`);
  }
  const parsed = parseInput(input, ctx);
  const deidParams = derived ? null : ctx.deid;
  seen.sopClassUID = readUidValue(parsed.dataset.get(Tags.SOPClassUID));
  // A failure report names the instance as it would have been stored, never by its original UID.
  const sentUID = readUidValue(parsed.dataset.get(Tags.SOPInstanceUID));
  seen.sent = { sopClassUID: seen.sopClassUID, sopInstanceUID: sentUID };
  seen.sopInstanceUID = sentUID && deidParams && !deidParams.options.retainUIDs ? mapUid(deidParams.secret, sentUID) : sentUID;
  checkTransferSyntax(parsed.transferSyntaxUID);
  const pixels = checkPixelData(parsed.dataset, parsed.transferSyntaxUID, ctx.limits);
  parsed.transferSyntaxUID = pixels.transferSyntaxUID;
  parsed.warnings.push(...pixels.warnings);
  const original = identify(parsed.dataset);
  const metaWarnings = checkMeta(parsed.meta, original);
  checkSopClass(parsed.dataset, original);

  // Burned-in pixels of a compressed instance are decoded before they are cleaned.
  if (deidParams && parsed.dataset.get(Tags.PixelData)?.fragments) await codecsReady();
  let deid: Omit<DeidResult, 'linkage' | 'identifierWords'> & { linkage?: Linkage; identifierWords?: string[] };
  if (deidParams) deid = deidentify(parsed.dataset, deidParams, parsed.transferSyntaxUID);
  else {
    // A derived object is not de-identified again (its UIDs must keep pointing at its sources),
    // but the text it carries from clients is cleaned, of the source patient's identifiers too.
    const known = ctx.siteSecret && ctx.knownFingerprints ? fingerprintTest(ctx.siteSecret, new Set(ctx.knownFingerprints)) : undefined;
    deid = { dataset: parsed.dataset, transferSyntaxUID: parsed.transferSyntaxUID, warnings: [], sweptPaths: cleanDerivedText(parsed.dataset, known), pixelsToCheck: false };
  }
  const lengthWarnings = fitValueLengths(deid.dataset);
  const id = identify(deid.dataset);
  seen.sopClassUID = id.sopClassUID;
  seen.sopInstanceUID = id.sopInstanceUID;

  const transferSyntaxUID = storedTransferSyntax(deid.transferSyntaxUID);
  const written = writePart10(deid.dataset, { sopClassUID: id.sopClassUID, sopInstanceUID: id.sopInstanceUID, transferSyntaxUID });
  const bytes = joinChunks(written.chunks, written.size);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  // A derived object joins its source study's projects where it has some (ingest.ts, which reads the index, decides).
  const projects = ingestProjects(ctx.principal, parsed.dataset, ctx.projectRules);
  const record = buildRecord({ id, dataset: deid.dataset, written, transferSyntaxUID, blobKey: blobKeyOf(id), inlineBinaryMaxBytes: ctx.inlineBinaryMaxBytes, projects, joiner: joinerOf(ctx.principal) });
  // Fingerprints never leave the index: one site key, so a derived object's check needs no project.
  if (ctx.siteSecret && deid.identifierWords) record.identifierFingerprints = fingerprints(ctx.siteSecret, deid.identifierWords);
  record.contentSha256 = sha256;
  return {
    id,
    originalStudyUID: original.studyUID,
    warnings: [...parsed.warnings, ...metaWarnings, ...deid.warnings, ...lengthWarnings],
    sweptPaths: deid.sweptPaths,
    patientID: rawString(deid.dataset.get(Tags.PatientID))?.trim() ?? '',
    projects,
    bytes,
    sha256,
    record,
    linkage: deid.linkage,
    pixelsToCheck: deid.pixelsToCheck,
    identifierWords: ctx.wantIdentifierWords ? deid.identifierWords : undefined,
    seen,
  };
}

/** Never throws: a refusal is data (it crosses a thread boundary), with what was seen of the instance. */
export async function prepareInstance(input: PrepareInput, ctx: PrepareContext): Promise<PrepareOutcome> {
  const seen: Seen = { sent: {} };
  try {
    return { ok: true, prepared: await prepareOnce(input, ctx, seen) };
  } catch (e) {
    if (e instanceof VeilgateError) return { ok: false, kind: e.kind, message: e.message, seen };
    // Anything else is ours: a full disk, a bug. Never "cannot understand".
    const ours = { name: (e as Error)?.name ?? 'error', code: (e as NodeJS.ErrnoException)?.code };
    return { ok: false, kind: isOutOfResources(e) ? 'out-of-resources' : 'processing-failure', message: messageOf(e), seen, ours };
  }
}
