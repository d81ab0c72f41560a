/**
 * The coded values the audit messages use, as data: PS3.16 DCM codes from the audit context
 * groups (CID 400 Audit Event ID, CID 401 Audit Event Type Code, CID 402 Audit Active
 * Participant Role ID Code, CID 403 Security Alert Type Code, CID 404 Audit Participant
 * Object ID Type Code, CID 405 Media Type Code), the RFC 3881 ID type codes PS3.15 A.5.3
 * names, and Veilgate's own local codes (coding scheme 99VEILGATE, PS3.16 8.2 private
 * scheme designator form) for what no standard code says.
 */
export interface Code {
  /** csd-code */
  readonly code: string;
  /** codeSystemName */
  readonly scheme: string;
  /** originalText: the Code Meaning */
  readonly meaning: string;
}

const dcm = (code: string, meaning: string): Code => Object.freeze({ code, scheme: 'DCM', meaning });
const rfc3881 = (code: string, meaning: string): Code => Object.freeze({ code, scheme: 'RFC-3881', meaning });
const local = (code: string, meaning: string): Code => Object.freeze({ code, scheme: '99VEILGATE', meaning });

/** CID 400 Audit Event ID. */
export const EventId = {
  ApplicationActivity: dcm('110100', 'Application Activity'),
  AuditLogUsed: dcm('110101', 'Audit Log Used'),
  BeginTransferringDicomInstances: dcm('110102', 'Begin Transferring DICOM Instances'),
  DicomInstancesAccessed: dcm('110103', 'DICOM Instances Accessed'),
  DicomInstancesTransferred: dcm('110104', 'DICOM Instances Transferred'),
  DicomStudyDeleted: dcm('110105', 'DICOM Study Deleted'),
  Export: dcm('110106', 'Export'),
  Import: dcm('110107', 'Import'),
  Query: dcm('110112', 'Query'),
  SecurityAlert: dcm('110113', 'Security Alert'),
  UserAuthentication: dcm('110114', 'User Authentication'),
} as const;

/** CID 401 Audit Event Type Code and CID 403 Security Alert Type Code (the ones Veilgate uses). */
export const EventType = {
  ApplicationStart: dcm('110120', 'Application Start'),
  ApplicationStop: dcm('110121', 'Application Stop'),
  Login: dcm('110122', 'Login'),
  Logout: dcm('110123', 'Logout'),
  NodeAuthentication: dcm('110126', 'Node Authentication'),
  SecurityConfiguration: dcm('110129', 'Security Configuration'),
  UseOfRestrictedFunction: dcm('110132', 'Use of Restricted Function'),
  AuditRecordingStopped: dcm('110133', 'Audit Recording Stopped'),
  AuditRecordingStarted: dcm('110134', 'Audit Recording Started'),
} as const;

/** CID 402 Audit Active Participant Role ID Code. */
export const RoleId = {
  Application: dcm('110150', 'Application'),
  ApplicationLauncher: dcm('110151', 'Application Launcher'),
  Destination: dcm('110152', 'Destination Role ID'),
  Source: dcm('110153', 'Source Role ID'),
  DestinationMedia: dcm('110154', 'Destination Media'),
  SourceMedia: dcm('110155', 'Source Media'),
} as const;

/** CID 404 Audit Participant Object ID Type Code, and the RFC 3881 codes A.5.3 uses. */
export const ObjectIdType = {
  PatientNumber: rfc3881('2', 'Patient Number'),
  Uri: rfc3881('12', 'URI'),
  StudyInstanceUid: dcm('110180', 'Study Instance UID'),
  SopClassUid: dcm('110181', 'SOP Class UID'),
  NodeId: dcm('110182', 'Node ID'),
} as const;

/** CID 405 Media Type Code (the one a download over HTTP is). */
export const MediaType = {
  Uri: dcm('110037', 'URI'),
} as const;

/**
 * Veilgate's local event type codes: they say which of Veilgate's cases a message reports,
 * next to the standard code (EventTypeCode may repeat).
 */
export const LocalEventType = {
  AccessRefused: local('VG-AR', 'Access refused'),
  SubstitutionAttempt: local('VG-SA', 'Instance substitution attempt'),
  ProjectViolation: local('VG-PV', 'Project violation'),
  ZipDownload: local('VG-ZD', 'Zip download'),
  LinkageExport: local('VG-LE', 'Linkage export'),
  Deleted: local('VG-DL', 'Deleted on request'),
  Rejected: local('VG-RJ', 'Rejected (IOCM rejection note)'),
} as const;

/** PS3.15 A.5.1.2.1 Audit Source Type Code: 4 = application server process tier. */
export const AUDIT_SOURCE_TYPE_APPLICATION_SERVER = '4';

/** ParticipantObjectTypeCode (A.5.1). */
export const ObjectType = { Person: 1, SystemObject: 2, Organization: 3, Other: 4 } as const;

/** ParticipantObjectTypeCodeRole (A.5.2.6), the ones Veilgate uses. */
export const ObjectRole = { Patient: 1, Report: 3, MasterFile: 5, SecurityResource: 13, Query: 24 } as const;

/** ParticipantObjectDataLifeCycle (A.5.1.2.3), the ones Veilgate uses. */
export const LifeCycle = { Origination: 1, ImportCopy: 2, AccessUse: 6, Deidentification: 7, Export: 10, Disclosure: 11 } as const;

/** NetworkAccessPointTypeCode (A.5.1). */
export const NetworkAccessPointType = { host: 1, ip: 2, phone: 3, email: 4, uri: 5 } as const;
export type NetworkAccessPointKind = keyof typeof NetworkAccessPointType;

/** EventOutcomeIndicator (A.5.1, A.5.2). */
export const Outcome = { success: 0, 'minor-failure': 4, 'serious-failure': 8, 'major-failure': 12 } as const;
export type OutcomeName = keyof typeof Outcome;
export type OutcomeIndicator = (typeof Outcome)[OutcomeName];

/** The Study Root Query/Retrieve Information Model – FIND SOP Class, which QIDO-RS mirrors. */
export const STUDY_ROOT_FIND = '1.2.840.10008.5.1.4.1.2.2.1';
/** Explicit VR Little Endian: the transfer syntax of the query data sets Veilgate records. */
export const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';
