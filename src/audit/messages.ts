/**
 * Typed builders for the audit messages Veilgate emits (PS3.15 A.5.3), each producing a
 * message valid against the DICOM Audit Message schema (A.5.1, src/audit/standard/) or
 * throwing an AuditInputError. In the spirit of highdicom's constructors: the builder is the
 * message definition, so a message with a missing participant, a wrong code or an original
 * identifier cannot be made.
 *
 * Patients and studies are named only by the gateway's pseudonyms (identifiers.ts). A query
 * audit records attribute keywords, never values (query-dataset.ts).
 *
 * Every builder takes the AuditContext (who the gateway is) first; the gateway's own
 * participant is added by the builder in the role the message gives it.
 */
import os from 'node:os';
import {
  AUDIT_SOURCE_TYPE_APPLICATION_SERVER,
  Code,
  EXPLICIT_VR_LITTLE_ENDIAN,
  EventId,
  EventType,
  LocalEventType,
  MediaType,
  NetworkAccessPointType,
  ObjectIdType,
  ObjectRole,
  ObjectType,
  Outcome,
  OutcomeIndicator,
  OutcomeName,
  RoleId,
  STUDY_ROOT_FIND,
} from './codes';
import {
  AuditInputError,
  NetworkAccessPoint,
  Participant,
  PSEUDONYMOUS_UID,
  UidInput,
  count,
  dimsePeer,
  networkAccessPoint,
  participantChecked,
  pseudonymousPatientId,
  pseudonymousUid,
  sopClassUid,
  standardUid,
} from './identifiers';
import { QUERY_LEVELS, QueryLevel, blankQueryDataset, checkedQueryKeys } from './query-dataset';
import { Attributes, element } from './xml';

/** The syslog MSGID of each message: the event's name. */
export type EventName =
  | 'ApplicationActivity'
  | 'UserAuthentication'
  | 'DICOMInstancesTransferred'
  | 'BeginTransferringDICOMInstances'
  | 'Query'
  | 'SecurityAlert'
  | 'Export'
  | 'DICOMInstancesAccessed'
  | 'DICOMStudyDeleted';

/** A built message: only the builders here make one (record() checks). */
export interface AuditMessage {
  readonly eventName: EventName;
  readonly outcome: OutcomeIndicator;
  readonly time: Date;
  /** The whole AuditMessage element on one line, no XML declaration. */
  readonly xml: string;
}

const built = new WeakSet<object>();

export function isAuditMessage(m: unknown): m is AuditMessage {
  return typeof m === 'object' && m !== null && built.has(m);
}

/** Who the gateway is, in every message. */
export interface AuditContext {
  /** AuditSourceID: identifies this gateway among the audit sources of the enterprise. */
  readonly sourceId: string;
  readonly enterpriseSiteId?: string;
  /** The gateway as an active participant (its isRequestor is set per message). */
  readonly gateway: Omit<Participant, 'isRequestor'>;
  /** Minutes east of UTC for EventDateTime; undefined: the host's offset at that instant. */
  readonly utcOffsetMinutes?: number;
}

const TOKEN = /^[\x21-\x7e]{1,128}$/;

/** The gateway's own host as a network access point; a host name no DNS name could be is left out. */
function hostNetworkAccessPoint(hostname: string): NetworkAccessPoint | undefined {
  try {
    return networkAccessPoint(hostname);
  } catch {
    return undefined;
  }
}

export function auditContext(opts: {
  aeTitle: string;
  sourceId?: string;
  enterpriseSiteId?: string;
  hostname?: string;
  /** The gateway's UserID (A.5.2.1: the identifier its own logs use); default "veilgate". */
  userId?: string;
  utcOffsetMinutes?: number;
}): AuditContext {
  const hostname = opts.hostname ?? os.hostname();
  const ae = dimsePeer({ aeTitle: opts.aeTitle, isRequestor: false });
  const checked = participantChecked(
    {
      userId: opts.userId ?? 'veilgate',
      alternativeUserId: ae.alternativeUserId,
      userName: 'Veilgate',
      isRequestor: false,
      networkAccessPoint: hostNetworkAccessPoint(hostname),
    },
    'gateway',
  );
  const gateway = Object.freeze({
    userId: checked.userId,
    alternativeUserId: checked.alternativeUserId,
    userName: checked.userName,
    networkAccessPoint: checked.networkAccessPoint,
  });
  const sourceId = opts.sourceId ?? `veilgate@${hostname}`;
  if (!TOKEN.test(sourceId)) throw new AuditInputError('sourceId must be 1 to 128 printable characters without spaces');
  if (opts.enterpriseSiteId !== undefined && !TOKEN.test(opts.enterpriseSiteId)) throw new AuditInputError('enterpriseSiteId must be 1 to 128 printable characters without spaces');
  if (opts.utcOffsetMinutes !== undefined && (!Number.isInteger(opts.utcOffsetMinutes) || Math.abs(opts.utcOffsetMinutes) > 14 * 60)) {
    throw new AuditInputError('utcOffsetMinutes must be an integer within ±14 hours');
  }
  return Object.freeze({ sourceId, enterpriseSiteId: opts.enterpriseSiteId, gateway, utcOffsetMinutes: opts.utcOffsetMinutes });
}

// ---------------------------------------------------------------------------------------------
// The message model and its serialisation

type ActionCode = 'C' | 'R' | 'U' | 'D' | 'E';

interface ActiveParticipantModel {
  participant: Participant;
  roles: Code[];
  mediaType?: Code;
}

interface SopClassModel {
  uid: string;
  count: number;
  instances: string[];
}

interface ObjectModel {
  id: string;
  type: number;
  role: number;
  idType: Code;
  name?: string;
  query?: Buffer;
  details: Array<[type: string, value: Buffer]>;
  sopClasses?: SopClassModel[];
}

interface MessageModel {
  eventName: EventName;
  event: Code;
  action: ActionCode;
  time: Date;
  outcome: OutcomeIndicator;
  types: Code[];
  outcomeDescription?: string;
  participants: ActiveParticipantModel[];
  objects: ObjectModel[];
}

/** ISO 8601 with milliseconds and a numeric offset ("2024-05-01T14:03:07.123+02:00"). */
export function formatDateTime(d: Date, utcOffsetMinutes?: number): string {
  if (!(d instanceof Date) || Number.isNaN(d.getTime())) throw new AuditInputError('the event time is not a valid date');
  const offset = utcOffsetMinutes ?? -d.getTimezoneOffset();
  const shifted = new Date(d.getTime() + offset * 60_000);
  const abs = Math.abs(offset);
  const hh = String(Math.floor(abs / 60)).padStart(2, '0');
  const mm = String(abs % 60).padStart(2, '0');
  return `${shifted.toISOString().slice(0, 23)}${offset < 0 ? '-' : '+'}${hh}:${mm}`;
}

const coded = (name: string, c: Code): string =>
  element(name, [
    ['csd-code', c.code],
    ['codeSystemName', c.scheme],
    ['originalText', c.meaning],
  ]);

function activeParticipantXml(a: ActiveParticipantModel): string {
  const p = a.participant;
  const nap = p.networkAccessPoint;
  const attrs: Attributes = [
    ['UserID', p.userId],
    ['AlternativeUserID', p.alternativeUserId],
    ['UserName', p.userName],
    ['UserIsRequestor', p.isRequestor],
    ['NetworkAccessPointID', nap?.id],
    ['NetworkAccessPointTypeCode', nap ? NetworkAccessPointType[nap.kind] : undefined],
  ];
  const children = a.roles.map((r) => coded('RoleIDCode', r));
  if (a.mediaType) children.push(element('MediaIdentifier', [], [coded('MediaType', a.mediaType)]));
  return element('ActiveParticipant', attrs, children);
}

function objectXml(o: ObjectModel): string {
  const children = [coded('ParticipantObjectIDTypeCode', o.idType)];
  if (o.query) children.push(element('ParticipantObjectQuery', [], { text: o.query.toString('base64') }));
  else children.push(element('ParticipantObjectName', [], { text: o.name ?? o.id }));
  for (const [type, value] of o.details) children.push(element('ParticipantObjectDetail', [['type', type], ['value', value.toString('base64')]]));
  if (o.sopClasses && o.sopClasses.length) {
    const classes = o.sopClasses.map((c) =>
      element('SOPClass', [['UID', c.uid], ['NumberOfInstances', c.count]], c.instances.map((uid) => element('Instance', [['UID', uid]]))),
    );
    children.push(element('ParticipantObjectDescription', [], classes));
  }
  return element(
    'ParticipantObjectIdentification',
    [
      ['ParticipantObjectID', o.id],
      ['ParticipantObjectTypeCode', o.type],
      ['ParticipantObjectTypeCodeRole', o.role],
    ],
    children,
  );
}

function serialise(ctx: AuditContext, m: MessageModel): string {
  const event = element(
    'EventIdentification',
    [
      ['EventActionCode', m.action],
      ['EventDateTime', formatDateTime(m.time, ctx.utcOffsetMinutes)],
      ['EventOutcomeIndicator', m.outcome],
    ],
    [
      coded('EventID', m.event),
      ...m.types.map((t) => coded('EventTypeCode', t)),
      ...(m.outcomeDescription ? [element('EventOutcomeDescription', [], { text: m.outcomeDescription })] : []),
    ],
  );
  const source = element(
    'AuditSourceIdentification',
    [
      ['AuditEnterpriseSiteID', ctx.enterpriseSiteId],
      ['AuditSourceID', ctx.sourceId],
    ],
    [element('AuditSourceTypeCode', [['csd-code', AUDIT_SOURCE_TYPE_APPLICATION_SERVER]])],
  );
  return element('AuditMessage', [], [event, ...m.participants.map(activeParticipantXml), source, ...m.objects.map(objectXml)]);
}

function finish(ctx: AuditContext, m: MessageModel): AuditMessage {
  if (m.participants.length === 0) throw new AuditInputError('a message needs at least one active participant');
  const message = Object.freeze({ eventName: m.eventName, outcome: m.outcome, time: new Date(m.time.getTime()), xml: serialise(ctx, m) });
  built.add(message);
  return message;
}

// ---------------------------------------------------------------------------------------------
// Shared inputs

export interface CommonInput {
  /** When the event happened (default: now). */
  time?: Date;
}

/** A study taking part, with its SOP classes and how many instances of each. */
export interface StudyInput {
  study: UidInput;
  sopClasses?: Array<{ sopClassUid: string; count: number; instances?: UidInput[] }>;
}

function outcomeOf(name: OutcomeName | undefined, fallback: OutcomeName): OutcomeIndicator {
  const n = name ?? fallback;
  if (!(n in Outcome)) throw new AuditInputError('outcome must be success, minor-failure, serious-failure or major-failure');
  return Outcome[n];
}

function timeOf(input: CommonInput): Date {
  const t = input.time ?? new Date();
  if (!(t instanceof Date) || Number.isNaN(t.getTime())) throw new AuditInputError('time must be a valid Date');
  return t;
}

/** Gateway-authored text only (a status, a reason): printable, one line, short. */
function outcomeDescription(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  if (typeof text !== 'string' || !/^[\x20-\x7e]{1,256}$/.test(text)) throw new AuditInputError('outcomeDescription must be 1 to 256 printable ASCII characters');
  return text;
}

function gateway(ctx: AuditContext, isRequestor: boolean, roles: Code[]): ActiveParticipantModel {
  return { participant: { ...ctx.gateway, isRequestor }, roles };
}

function others(list: Participant[] | undefined, what: string): ActiveParticipantModel[] {
  return (list ?? []).map((p, i) => ({ participant: participantChecked(p, `${what} ${i + 1}`), roles: [] }));
}

function studyObject(s: StudyInput, i: number): ObjectModel {
  if (s === null || typeof s !== 'object') throw new AuditInputError(`study ${i + 1} is missing`);
  const id = pseudonymousUid(s.study, `study ${i + 1}`);
  const sopClasses = (s.sopClasses ?? []).map((c, j) => ({
    uid: sopClassUid(c.sopClassUid, `study ${i + 1} SOP class ${j + 1}`),
    count: count(c.count, `study ${i + 1} SOP class ${j + 1} count`),
    instances: (c.instances ?? []).map((u, k) => pseudonymousUid(u, `study ${i + 1} SOP class ${j + 1} instance ${k + 1}`) as string),
  }));
  return { id, type: ObjectType.SystemObject, role: ObjectRole.Report, idType: ObjectIdType.StudyInstanceUid, details: [], sopClasses };
}

function studyObjects(studies: StudyInput[] | undefined, min: number): ObjectModel[] {
  if (studies !== undefined && !Array.isArray(studies)) throw new AuditInputError('studies must be a list');
  const list = studies ?? [];
  if (list.length < min) throw new AuditInputError(`at least ${min} study is required`);
  const objects = list.map(studyObject);
  if (new Set(objects.map((o) => o.id)).size !== objects.length) throw new AuditInputError('a study is listed twice');
  return objects;
}

/** The patient, by pseudonym: PatientName is the same pseudonym after de-identification. */
function patientObject(id: string, what = 'patient'): ObjectModel {
  const pid = pseudonymousPatientId(id, what);
  return { id: pid, type: ObjectType.Person, role: ObjectRole.Patient, idType: ObjectIdType.PatientNumber, name: pid, details: [] };
}

// ---------------------------------------------------------------------------------------------
// A.5.3.1 Application Activity

export interface ApplicationActivityInput extends CommonInput {
  action: 'start' | 'stop';
  /** Persons or processes that started or stopped the gateway (0..N): role Application Launcher. */
  launchers?: Participant[];
  outcome?: OutcomeName;
}

export function applicationActivity(ctx: AuditContext, input: ApplicationActivityInput): AuditMessage {
  if (input.action !== 'start' && input.action !== 'stop') throw new AuditInputError('action must be start or stop');
  const launchers = others(input.launchers, 'launcher').map((a) => ({ ...a, roles: [RoleId.ApplicationLauncher] }));
  return finish(ctx, {
    eventName: 'ApplicationActivity',
    event: EventId.ApplicationActivity,
    action: 'E',
    time: timeOf(input),
    outcome: outcomeOf(input.outcome, 'success'),
    types: [input.action === 'start' ? EventType.ApplicationStart : EventType.ApplicationStop],
    participants: [gateway(ctx, launchers.length === 0, [RoleId.Application]), ...launchers],
    objects: [],
  });
}

// ---------------------------------------------------------------------------------------------
// A.5.3.12 User Authentication

export interface UserAuthenticationInput extends CommonInput {
  result: 'success' | 'failure';
  kind?: 'login' | 'logout';
  /** The person authenticated or claimed, and where from (NetworkAccessPoint is mandatory here). */
  user: { userId: string; userName?: string; from: string | NetworkAccessPoint };
  /** How bad a failure is: minor (default, e.g. a wrong password), serious, major (account locked). */
  failure?: 'minor-failure' | 'serious-failure' | 'major-failure';
}

export function userAuthentication(ctx: AuditContext, input: UserAuthenticationInput): AuditMessage {
  if (input.result !== 'success' && input.result !== 'failure') throw new AuditInputError('result must be success or failure');
  const kind = input.kind ?? 'login';
  if (kind !== 'login' && kind !== 'logout') throw new AuditInputError('kind must be login or logout');
  const from = input.user?.from;
  if (from === undefined) throw new AuditInputError('user.from (where the user authenticated from) is required');
  const user = participantChecked(
    {
      userId: input.user.userId,
      userName: input.user.userName,
      isRequestor: true,
      networkAccessPoint: typeof from === 'string' ? networkAccessPoint(from) : from,
    },
    'user',
  );
  return finish(ctx, {
    eventName: 'UserAuthentication',
    event: EventId.UserAuthentication,
    action: 'E',
    time: timeOf(input),
    outcome: input.result === 'success' ? Outcome.success : outcomeOf(input.failure, 'minor-failure'),
    types: [kind === 'login' ? EventType.Login : EventType.Logout],
    participants: [{ participant: user, roles: [] }, gateway(ctx, false, [])],
    objects: [],
  });
}

// ---------------------------------------------------------------------------------------------
// A.5.3.7 DICOM Instances Transferred, A.5.3.3 Begin Transferring DICOM Instances

export interface TransferInput extends CommonInput {
  /**
   * ingest: the peer sent to the gateway (C-STORE, STOW-RS, import); the gateway is the
   * destination. retrieve (WADO-RS, C-GET, C-MOVE) and export: the gateway is the source.
   */
  direction: 'ingest' | 'retrieve' | 'export';
  /** The other end: the source on ingest, the destination otherwise. */
  peer: Participant;
  /** Other participants known, especially a third party that requested (a C-MOVE SCU, a user). */
  others?: Participant[];
  /** One patient per message (A.5.3.7), by pseudonym. */
  patient: string;
  studies: StudyInput[];
  outcome?: OutcomeName;
  outcomeDescription?: string;
}

export interface InstancesTransferredInput extends TransferInput {
  /**
   * EventActionCode: C when the receiver did not hold the instances (the default on ingest),
   * R when it already did and nothing changed (a duplicate; the default for retrieve and
   * export), U when it changed the copies it held.
   */
  action?: 'C' | 'R' | 'U';
}

function transferParticipants(ctx: AuditContext, input: TransferInput): ActiveParticipantModel[] {
  const dir = input.direction;
  if (dir !== 'ingest' && dir !== 'retrieve' && dir !== 'export') throw new AuditInputError('direction must be ingest, retrieve or export');
  const peer = participantChecked(input.peer, 'peer');
  const gatewayIsSource = dir !== 'ingest';
  const source = gatewayIsSource ? gateway(ctx, false, [RoleId.Source]) : { participant: peer, roles: [RoleId.Source] };
  const destination = gatewayIsSource ? { participant: peer, roles: [RoleId.Destination] } : gateway(ctx, false, [RoleId.Destination]);
  return [source, destination, ...others(input.others, 'other participant')];
}

export function dicomInstancesTransferred(ctx: AuditContext, input: InstancesTransferredInput): AuditMessage {
  const participants = transferParticipants(ctx, input);
  const action = input.action ?? (input.direction === 'ingest' ? 'C' : 'R');
  if (action !== 'C' && action !== 'R' && action !== 'U') throw new AuditInputError('action must be C, R or U');
  return finish(ctx, {
    eventName: 'DICOMInstancesTransferred',
    event: EventId.DicomInstancesTransferred,
    action,
    time: timeOf(input),
    outcome: outcomeOf(input.outcome, 'success'),
    types: [],
    outcomeDescription: outcomeDescription(input.outcomeDescription),
    participants,
    objects: [...studyObjects(input.studies, 1), patientObject(input.patient)],
  });
}

export interface BeginTransferringInput extends Omit<TransferInput, 'direction'> {
  /** Begin Transferring is audited where the gateway sends: retrieve (default) or export. */
  direction?: 'retrieve' | 'export';
}

export function beginTransferring(ctx: AuditContext, input: BeginTransferringInput): AuditMessage {
  const direction = input.direction ?? 'retrieve';
  if (direction !== 'retrieve' && direction !== 'export') throw new AuditInputError('direction must be retrieve or export');
  const participants = transferParticipants(ctx, { ...input, direction });
  return finish(ctx, {
    eventName: 'BeginTransferringDICOMInstances',
    event: EventId.BeginTransferringDicomInstances,
    action: 'E',
    time: timeOf(input),
    outcome: outcomeOf(input.outcome, 'success'),
    types: [],
    outcomeDescription: outcomeDescription(input.outcomeDescription),
    participants,
    objects: [...studyObjects(input.studies, 1), patientObject(input.patient)],
  });
}

// ---------------------------------------------------------------------------------------------
// A.5.3.10 Query

export interface QueryInput extends CommonInput {
  protocol: 'C-FIND' | 'QIDO-RS';
  /** The process (and user) issuing the query: role Source. */
  requestor: Participant;
  others?: Participant[];
  /** C-FIND: the SOP Class of the association (required). QIDO-RS: Study Root FIND, which it mirrors. */
  sopClassUid?: string;
  /** The query level (C-FIND QueryRetrieveLevel; QIDO-RS: studies STUDY, series SERIES, instances IMAGE). */
  level?: QueryLevel;
  /**
   * The query's attribute keywords (match and return keys, includefield), or hex tags, or
   * dotted paths into sequences: never values.
   */
  keys: string[];
  outcome?: OutcomeName;
}

export function query(ctx: AuditContext, input: QueryInput): AuditMessage {
  if (input.protocol !== 'C-FIND' && input.protocol !== 'QIDO-RS') throw new AuditInputError('protocol must be C-FIND or QIDO-RS');
  if (input.level !== undefined && !QUERY_LEVELS.includes(input.level)) throw new AuditInputError('level must be PATIENT, STUDY, SERIES or IMAGE');
  let sopClass: string;
  if (input.protocol === 'C-FIND') {
    if (input.sopClassUid === undefined) throw new AuditInputError('a C-FIND query audit needs the SOP Class UID');
    sopClass = standardUid(input.sopClassUid, 'the query SOP Class UID');
  } else {
    sopClass = input.sopClassUid === undefined ? STUDY_ROOT_FIND : standardUid(input.sopClassUid, 'the query SOP Class UID');
  }
  const dataset = blankQueryDataset(input.level, checkedQueryKeys(input.keys));
  const requestor = participantChecked(input.requestor, 'requestor');
  return finish(ctx, {
    eventName: 'Query',
    event: EventId.Query,
    action: 'E',
    time: timeOf(input),
    outcome: outcomeOf(input.outcome, 'success'),
    types: [],
    participants: [{ participant: requestor, roles: [RoleId.Source] }, gateway(ctx, false, [RoleId.Destination]), ...others(input.others, 'other participant')],
    objects: [
      {
        id: sopClass,
        type: ObjectType.SystemObject,
        role: ObjectRole.Report,
        idType: ObjectIdType.SopClassUid,
        query: dataset,
        details: [
          ['TransferSyntax', Buffer.from(EXPLICIT_VR_LITTLE_ENDIAN, 'ascii')],
          ['QueryProtocol', Buffer.from(input.protocol, 'ascii')],
        ],
      },
    ],
  });
}

// ---------------------------------------------------------------------------------------------
// A.5.3.11 Security Alert

export type SecurityAlertReason = 'access-refused' | 'substitution-attempt' | 'project-violation' | 'node-authentication-failure';

/** What the alert is about: a study (and instance), a resource by URI (a route template), or a node. */
export type AlertSubject =
  | { study: UidInput; instance?: { sopClassUid: string; sopInstanceUid: UidInput } }
  | { uri: string }
  | { node: string };

export interface SecurityAlertInput extends CommonInput {
  reason: SecurityAlertReason;
  subject: AlertSubject;
  /** The persons or processes whose action raised the alert (UserIsRequestor is FALSE for them, A.5.3.11). */
  performers?: Array<Omit<Participant, 'isRequestor'>>;
  /** The patient concerned, by pseudonym. */
  patient?: string;
  /** The project concerned (a project violation): its configured name. */
  project?: string;
  /**
   * Minor (default) or serious: the gateway's mitigation (refusing) worked. Major: it may
   * not have. Success: an informative alert.
   */
  outcome?: OutcomeName;
}

const ALERT: Record<SecurityAlertReason, { types: Code[]; description: string }> = {
  'access-refused': { types: [EventType.UseOfRestrictedFunction, LocalEventType.AccessRefused], description: 'Access refused' },
  'substitution-attempt': {
    types: [EventType.UseOfRestrictedFunction, LocalEventType.SubstitutionAttempt],
    description: 'Refused an instance whose SOP Instance UID is already stored with other content',
  },
  'project-violation': { types: [EventType.UseOfRestrictedFunction, LocalEventType.ProjectViolation], description: 'Request outside the projects the requester may use' },
  'node-authentication-failure': { types: [EventType.NodeAuthentication], description: 'Node authentication failed' },
};

const PROJECT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const URI_HEAD = /^(?:[A-Za-z][A-Za-z0-9+.-]*:(?:\/\/[A-Za-z0-9.:[\]-]+)?)?(\/.*)?$/;
const SEGMENT = /^[A-Za-z0-9._~{}-]*$/;

/**
 * A URI naming a resource: no query or fragment, and every path segment a plain word, a
 * {template} or a pseudonymous UID. A request's own path can carry whatever the client typed
 * (an original UID), so pass the route template or the pseudonymous path.
 */
export function safeResourceUri(uri: string, what: string): string {
  const m = typeof uri === 'string' && uri.length <= 1024 && !/[?#\s]/.test(uri) ? URI_HEAD.exec(uri) : null;
  if (!m || uri.length === 0) throw new AuditInputError(`${what} must be a URI without query or fragment`);
  for (const segment of (m[1] ?? '').split('/')) {
    if (!SEGMENT.test(segment)) throw new AuditInputError(`${what} has a path segment that is not a plain word, template or UID`);
    if (/^[0-9.]+$/.test(segment) && segment.includes('.') && !PSEUDONYMOUS_UID.test(segment)) {
      throw new AuditInputError(`${what} names a UID that is not pseudonymous`);
    }
  }
  return uri;
}

function alertSubject(subject: AlertSubject, description: Buffer): ObjectModel {
  const details: ObjectModel['details'] = [['Alert Description', description]];
  if (subject && typeof subject === 'object' && 'study' in subject) {
    const o = studyObject({ study: subject.study }, 0);
    if (subject.instance) {
      o.sopClasses = [
        {
          uid: sopClassUid(subject.instance.sopClassUid, 'alert instance SOP class'),
          count: 1,
          instances: [pseudonymousUid(subject.instance.sopInstanceUid, 'alert instance')],
        },
      ];
    }
    return { ...o, details };
  }
  if (subject && typeof subject === 'object' && 'uri' in subject) {
    const uri = safeResourceUri(subject.uri, 'alert subject URI');
    return { id: uri, type: ObjectType.SystemObject, role: ObjectRole.SecurityResource, idType: ObjectIdType.Uri, name: uri, details };
  }
  if (subject && typeof subject === 'object' && 'node' in subject) {
    const nap = networkAccessPoint(subject.node);
    return { id: nap.id, type: ObjectType.SystemObject, role: ObjectRole.SecurityResource, idType: ObjectIdType.NodeId, name: nap.id, details };
  }
  throw new AuditInputError('the alert subject must be a study, a URI or a node');
}

export function securityAlert(ctx: AuditContext, input: SecurityAlertInput): AuditMessage {
  const alert = ALERT[input.reason];
  if (!alert) throw new AuditInputError('reason must be access-refused, substitution-attempt, project-violation or node-authentication-failure');
  if (input.project !== undefined && (typeof input.project !== 'string' || !PROJECT.test(input.project))) {
    throw new AuditInputError('project must be a project name (letters, digits, . _ -)');
  }
  const description = input.project ? `${alert.description} (project ${input.project})` : alert.description;
  const performers = (input.performers ?? []).map((p, i) => ({
    participant: participantChecked({ ...p, isRequestor: false }, `performer ${i + 1}`),
    roles: [] as Code[],
  }));
  const objects = [alertSubject(input.subject, Buffer.from(description, 'utf8'))];
  if (input.patient !== undefined) objects.push(patientObject(input.patient));
  return finish(ctx, {
    eventName: 'SecurityAlert',
    event: EventId.SecurityAlert,
    action: 'E',
    time: timeOf(input),
    outcome: outcomeOf(input.outcome, 'minor-failure'),
    types: alert.types,
    outcomeDescription: description,
    participants: [gateway(ctx, false, []), ...performers],
    objects,
  });
}

// ---------------------------------------------------------------------------------------------
// A.5.3.4 Data Export

export interface DataExportInput extends CommonInput {
  kind: 'zip-download' | 'linkage-export';
  /** The remote user or process receiving the data (a download's client): role Destination. */
  recipient?: Participant;
  /** The local person who exported (a CLI user): role Source, beside the gateway process. */
  exporter?: Participant;
  /**
   * The destination media (A.5.2.1: a URI, the preferred form): a download's route or the
   * exported file's URI, with no query; where it went on the network, if it did.
   */
  media: { uri: string; networkAccessPoint?: string | NetworkAccessPoint };
  /** The patients whose data left (1..N), by pseudonym. */
  patients: string[];
  studies?: StudyInput[];
  outcome?: OutcomeName;
}

export function dataExport(ctx: AuditContext, input: DataExportInput): AuditMessage {
  const kind = input.kind === 'zip-download' ? LocalEventType.ZipDownload : input.kind === 'linkage-export' ? LocalEventType.LinkageExport : undefined;
  if (!kind) throw new AuditInputError('kind must be zip-download or linkage-export');
  const participants: ActiveParticipantModel[] = [];
  if (input.recipient) participants.push({ participant: participantChecked(input.recipient, 'recipient'), roles: [RoleId.Destination] });
  if (input.exporter) participants.push({ participant: participantChecked(input.exporter, 'exporter'), roles: [RoleId.Source] });
  participants.push(gateway(ctx, false, [RoleId.Source]));
  const media = input.media;
  if (!media || typeof media !== 'object') throw new AuditInputError('media is required');
  const nap = media.networkAccessPoint;
  participants.push({
    participant: participantChecked(
      {
        userId: safeResourceUri(media.uri, 'media URI'),
        isRequestor: false,
        networkAccessPoint: nap === undefined ? undefined : typeof nap === 'string' ? networkAccessPoint(nap) : nap,
      },
      'media',
    ),
    roles: [RoleId.DestinationMedia],
    mediaType: MediaType.Uri,
  });
  // A.5.3.4.1: exactly one user, local or remote, is the requestor.
  if (participants.filter((p) => p.participant.isRequestor).length !== 1) {
    throw new AuditInputError('exactly one of recipient and exporter must be the requestor');
  }
  if (!Array.isArray(input.patients) || input.patients.length === 0) throw new AuditInputError('an export names at least one patient');
  const patients = input.patients.map((p, i) => patientObject(p, `patient ${i + 1}`));
  if (new Set(patients.map((p) => p.id)).size !== patients.length) throw new AuditInputError('a patient is listed twice');
  return finish(ctx, {
    eventName: 'Export',
    event: EventId.Export,
    action: 'R',
    time: timeOf(input),
    outcome: outcomeOf(input.outcome, 'success'),
    types: [kind],
    participants,
    objects: [...studyObjects(input.studies, 0), ...patients],
  });
}

// ---------------------------------------------------------------------------------------------
// A.5.3.6 DICOM Instances Accessed (EventActionCode D), A.5.3.8 DICOM Study Deleted

export interface InstancesRemovedInput extends CommonInput {
  /** deleted: a DELETE took them (rows and files). rejected: an IOCM rejection hid them (kept until the grace period ends). */
  kind: 'deleted' | 'rejected';
  /**
   * Every instance of the study went: DICOM Study Deleted (A.5.3.8), as A.5.3.6 requires,
   * instead of DICOM Instances Accessed.
   */
  wholeStudy: boolean;
  /** The person or process that asked (the requestor); none when the gateway's own task acted. */
  requestor?: Participant;
  /** One patient per message, by pseudonym. */
  patient: string;
  /** The study (one for Study Deleted), with its SOP classes and counts. */
  studies: StudyInput[];
  /** Gateway-authored text: the rejection code's meaning and code ("Rejected for Quality Reasons (113001, DCM)"). */
  reason?: string;
  outcome?: OutcomeName;
}

const REMOVAL_TYPE = { deleted: LocalEventType.Deleted, rejected: LocalEventType.Rejected } as const;

export function instancesRemoved(ctx: AuditContext, input: InstancesRemovedInput): AuditMessage {
  const type = REMOVAL_TYPE[input.kind];
  if (!type) throw new AuditInputError('kind must be deleted or rejected');
  if (typeof input.wholeStudy !== 'boolean') throw new AuditInputError('wholeStudy must be true or false');
  const studies = studyObjects(input.studies, 1);
  if (input.wholeStudy && studies.length !== 1) throw new AuditInputError('a Study Deleted message names exactly one study');
  // The removing person and/or process (1..2): the client that asked, and the gateway that did it.
  const participants: ActiveParticipantModel[] = [];
  if (input.requestor) participants.push({ participant: participantChecked({ ...input.requestor, isRequestor: true }, 'requestor'), roles: [] });
  participants.push(gateway(ctx, !input.requestor, [RoleId.Application]));
  return finish(ctx, {
    eventName: input.wholeStudy ? 'DICOMStudyDeleted' : 'DICOMInstancesAccessed',
    event: input.wholeStudy ? EventId.DicomStudyDeleted : EventId.DicomInstancesAccessed,
    action: 'D',
    time: timeOf(input),
    outcome: outcomeOf(input.outcome, 'success'),
    types: [type],
    outcomeDescription: outcomeDescription(input.reason),
    participants,
    objects: [...studies, patientObject(input.patient)],
  });
}
