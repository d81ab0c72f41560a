/**
 * The index: what is stored and where, searchable. SQLite is the embedded default, PostgreSQL
 * the shared one (INDEX_URL); everything else depends on this interface, and one contract suite
 * (test/contract/index.contract.test.ts) runs against every implementation.
 */
import type { Query } from '../query/query';
import type { Level } from '../query/attributes';
import type { ByteRange } from '../dicom/write';
import type { DicomJson } from '../dicom/json';

export interface InstanceRecord {
  studyUID: string;
  seriesUID: string;
  sopInstanceUID: string;
  sopClassUID: string;
  transferSyntaxUID: string;
  instanceNumber: number | null;
  blobKey: string;
  size: number;
  /** Byte ranges of each frame in the stored file (undefined: frames cannot be addressed). */
  frames?: ByteRange[][];
  /** Byte ranges of binary values by tag path. */
  bulk: Record<string, ByteRange>;
  /** PS3.18 JSON metadata, with BulkDataURIs relative to the base URL (see metadata/bulk-uri.ts). */
  metadataJson: string;
  /** Index columns and level attributes extracted from the data set. */
  study: StudyFields;
  series: SeriesFields;
  /** PS3.18 JSON of the instance-level return attributes. */
  instanceAttributesJson: string;
  /** Keyed fingerprints of the identifier words the original carried (src/deid/fingerprints.ts). */
  identifierFingerprints?: string[];
  /** SHA-256 of the stored file, to tell a true re-send from other content under the same UID. */
  contentSha256?: string;
  /** The projects a new study gets (its source's and its rules'). */
  projects: string[];
  /** Who adds it (auth/projects.ts StudyJoiner): an existing study must be open to it. */
  joiner: string;
}

export interface StudyFields {
  patientName: string | null;
  patientID: string | null;
  patientBirthDate: string | null;
  patientSex: string | null;
  studyDate: string | null;
  studyTime: string | null;
  accessionNumber: string | null;
  studyID: string | null;
  referringPhysicianName: string | null;
  studyDescription: string | null;
  attributesJson: string;
}

export interface SeriesFields {
  modality: string | null;
  seriesNumber: number | null;
  seriesDescription: string | null;
  performedStartDate: string | null;
  performedStartTime: string | null;
  scheduledStepID: string | null;
  requestedProcedureID: string | null;
  attributesJson: string;
}

export interface StoredInstance {
  studyUID: string;
  seriesUID: string;
  sopInstanceUID: string;
  sopClassUID: string;
  transferSyntaxUID: string;
  blobKey: string;
  size: number;
  frames?: ByteRange[][];
  bulk: Record<string, ByteRange>;
  /** SHA-256 of the stored file (absent for instances stored before it was recorded). */
  contentSha256?: string;
}

/** One search match: its attributes as PS3.18 JSON (without RetrieveURL) and its UIDs. */
export interface QueryMatch {
  json: DicomJson;
  studyUID: string;
  seriesUID?: string;
  sopInstanceUID?: string;
}

export interface QueryResult {
  rows: QueryMatch[];
  /** More matches exist beyond the returned page. */
  more: boolean;
}

export interface Scope {
  study: string;
  series?: string;
  instance?: string;
}

/**
 * What a reader may see: the read operations, each limited to studies of `projects` when given
 * (undefined: every study). Handlers read through an AccessView, never around it.
 */
export interface ReadIndex {
  /** Instances in a scope, in series then instance-number order. */
  instances(scope: Scope, projects?: readonly string[]): Promise<StoredInstance[]>;
  /** Metadata JSON strings of the instances in a scope, same order as instances(). */
  metadata(scope: Scope, projects?: readonly string[]): Promise<string[]>;
  /**
   * A study's or series' metadata version: a new value whenever any of its instances changes,
   * never an old one again. Undefined: no such scope (or not visible), or an instance scope.
   */
  metadataStamp(scope: Scope, projects?: readonly string[]): Promise<string | undefined>;
  /** metadata() and metadataStamp() read together, the documents being those of the stamp. */
  metadataWithStamp(scope: Scope, projects?: readonly string[]): Promise<{ stamp: string | undefined; docs: string[] }>;
  /** A search; `query.projects` limits it. */
  search(query: Query): Promise<QueryResult>;
  exists(level: Level, scope: Scope, projects?: readonly string[]): Promise<boolean>;
}

/** What a deletion or a rejection took out of the searchable tables. */
export interface RemovedInstances {
  /**
   * The instances removed, as they were stored. After a deletion the caller deletes their blobs
   * (after the commit: a crash between leaves only unreferenced blobs, which the orphan sweep
   * quarantines); after a rejection the blobs stay until purgeRejected() hands them out.
   */
  instances: StoredInstance[];
  /** The study's pseudonymous Patient ID (for the audit trail). */
  patientID: string;
  /** Whether the study itself went too (no instance of it left). */
  studyRemoved: boolean;
}

/** A rejection (IOCM): exactly the instances a rejection note lists, of one series. */
export interface Rejection {
  study: string;
  series: string;
  /** The SOP Instance UIDs the note references; others of the series (arrived since) stay. */
  instances: readonly string[];
  /** The rejection code (PS3.16 CID 7011), e.g. 113001 / DCM. */
  code: string;
  scheme: string;
  /** When, ms since the epoch (default now): the grace period runs from here. */
  at?: number;
}

export interface Index extends ReadIndex {
  /** Insert an instance (and its series and study when new) in one transaction. */
  insert(record: InstanceRecord): Promise<'inserted' | 'duplicate'>;
  /** Insert many, each as insert() would, in one transaction; a refused record's outcome is its error. */
  insertMany(records: readonly InstanceRecord[]): Promise<('inserted' | 'duplicate' | Error)[]>;
  /**
   * An instance by its UID: an indexed one, or one rejected and awaiting deletion (its UID stays
   * taken until purgeRejected(): a re-send neither revives it nor overwrites its file).
   */
  findInstance(sopInstanceUID: string): Promise<StoredInstance | undefined>;
  /**
   * Delete a scope's instances (and the series and study they leave empty, with the study's
   * words, projects and fingerprints) in one transaction: a search never sees half a deletion;
   * counters, ModalitiesInStudy and metadata stamps of what remains are right at its commit.
   * Undefined when the scope holds no instance visible to `projects` (nothing changes).
   */
  remove(scope: Scope, projects?: readonly string[]): Promise<RemovedInstances | undefined>;
  /**
   * As remove() for the listed instances of a series, their rows kept in the rejected table
   * with the reason and the time (their blobs stay). Undefined when none is visible to `projects`.
   */
  reject(rejection: Rejection, projects?: readonly string[]): Promise<RemovedInstances | undefined>;
  /**
   * Forget up to `limit` instances rejected at or before `before` (ms since the epoch), in one
   * transaction, and return their blob keys for the caller to delete (after the commit).
   */
  purgeRejected(before: number, limit?: number): Promise<string[]>;
  /** The projects a study belongs to (none: no such study). */
  studyProjects(study: string): Promise<string[]>;
  /** The (pseudonymous) Patient ID of each study, for the audit trail's transfer messages. */
  studyPatients(studies: readonly string[]): Promise<Map<string, string>>;
  counts(): Promise<{ studies: number; series: number; instances: number }>;
  /** The keyed identifier fingerprints recorded for a study's instances. */
  identifierFingerprints(study: string): Promise<Set<string>>;
  /** Throws when the index cannot take a write (a full disk, a read-only file): the readiness check. */
  checkWritable(): Promise<void>;
  /** Whether an indexed instance, or a rejected one awaiting deletion, refers to this blob. */
  hasBlob(key: string): Promise<boolean>;
  /**
   * The fingerprint of the site secret the index was first opened with, recorded now when none
   * is; nodes sharing an index must share the secret (a node with another refuses to start).
   */
  siteSecretFingerprint(fingerprint: string): Promise<string>;
  close(): Promise<void>;
}
