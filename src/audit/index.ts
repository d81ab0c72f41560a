/**
 * The audit trail (PS3.15 A.5, the DICOM Audit Message format; IHE ATNA): typed message
 * builders that refuse anything but pseudonymous identifiers, an XML writer, and sinks (an
 * append-only file under DATA_DIR/audit, syslog over TCP or TLS) behind one AuditTrail.
 */
export * from './codes';
export { AuditInputError, PSEUDONYMOUS_PATIENT_ID, PSEUDONYMOUS_UID, assertPseudonymousUid, dimsePeer, httpClient, networkAccessPoint } from './identifiers';
export type { AssertedPseudonymousUid, NetworkAccessPoint, Participant, UidInput } from './identifiers';
export type { QueryLevel } from './query-dataset';
export {
  applicationActivity,
  auditContext,
  beginTransferring,
  dataExport,
  dicomInstancesTransferred,
  formatDateTime,
  isAuditMessage,
  query,
  securityAlert,
  userAuthentication,
} from './messages';
export type {
  AlertSubject,
  ApplicationActivityInput,
  AuditContext,
  AuditMessage,
  BeginTransferringInput,
  DataExportInput,
  EventName,
  InstancesTransferredInput,
  QueryInput,
  SecurityAlertInput,
  SecurityAlertReason,
  StudyInput,
  UserAuthenticationInput,
} from './messages';
export { escapeXml, xmlSafe } from './xml';
export { TransferTally } from './tally';
export type { TalliedInstance } from './tally';
export type { AuditSink } from './sink';
export { AuditFileSink, listAuditFiles } from './file-sink';
export type { AuditFileSinkOptions } from './file-sink';
export { SyslogSink, formatSyslogMessage, frame } from './syslog-sink';
export type { SyslogSinkOptions, SyslogTlsOptions } from './syslog-sink';
export { AuditTrail, createAuditTrail } from './trail';
export type { AuditTrailStats } from './trail';
export { DEFAULT_AUDIT_CONFIG, validateAuditConfig } from './config';
export type { AuditConfig, AuditFileConfig, AuditSyslogConfig } from './config';
