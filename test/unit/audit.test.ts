/**
 * The audit trail (src/audit): every builder's message validates against the shipped DICOM
 * Audit Message schema with xmllint; builders refuse non-pseudonymous identifiers and query
 * values; hostile strings are escaped; the file sink rotates and keeps; the syslog sink frames
 * RFC 5424 over TCP and TLS and bounds its queue; the trail never throws into its caller.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  AuditFileSink,
  AuditInputError,
  AuditMessage,
  AuditSink,
  AuditTrail,
  SyslogSink,
  TransferTally,
  applicationActivity,
  assertPseudonymousUid,
  auditContext,
  beginTransferring,
  createAuditTrail,
  dataExport,
  dicomInstancesTransferred,
  dimsePeer,
  escapeXml,
  formatDateTime,
  formatSyslogMessage,
  frame,
  httpClient,
  isAuditMessage,
  listAuditFiles,
  query,
  securityAlert,
  userAuthentication,
  validateAuditConfig,
} from '../../src/audit';
import { parseDataset } from '../../src/dicom/parse';
import { tag } from '../../src/dicom/dataset';
import { setLogSink } from '../../src/log';
import { requireXmllint, validateDocuments, xpathString } from '../support/xmllint';
import { OctetCountingParser, parseRfc5424, selfSignedCertificate, startCollector, unusedPort } from '../support/syslog-collector';

const PATIENT = 'VG-ABCDEFGHJK23';
const PATIENT2 = 'VG-ZZZZ7777QQQQ';
const STUDY = '2.25.329800735698586629295641978511506172918';
const STUDY2 = '2.25.1';
const INSTANCE = '2.25.99887766554433221100998877665544332211';
const CT = '1.2.840.10008.5.1.4.1.1.2';
const MR = '1.2.840.10008.5.1.4.1.1.4';
const FIND_STUDY_ROOT = '1.2.840.10008.5.1.4.1.2.2.1';

const ctx = auditContext({ aeTitle: 'VEILGATE', hostname: 'pacs-gw.example.org', sourceId: 'veilgate-test', enterpriseSiteId: 'HOSP1' });
const storescu = dimsePeer({ aeTitle: 'STORESCU', address: '192.0.2.10', isRequestor: true });
const viewer = httpClient({ user: 'alice@hospital.example', address: '2001:db8::7' });
const T = new Date('2024-05-01T12:34:56.789Z');

let tmp: string;
beforeAll(() => {
  requireXmllint();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'veilgate-audit-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const sub = (name: string) => {
  const d = path.join(tmp, name);
  fs.mkdirSync(d, { recursive: true });
  return d;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One of every message the gateway emits, in its variants. */
function everyMessage(): Record<string, AuditMessage> {
  return {
    applicationStart: applicationActivity(ctx, { action: 'start', time: T }),
    applicationStopByOperator: applicationActivity(ctx, {
      action: 'stop',
      launchers: [{ userId: 'root', userName: 'systemd', isRequestor: true, networkAccessPoint: { kind: 'host', id: 'pacs-gw.example.org' } }],
    }),
    loginSuccess: userAuthentication(ctx, { result: 'success', user: { userId: 'alice@hospital.example', userName: 'Alice', from: '192.0.2.55' } }),
    loginFailure: userAuthentication(ctx, { result: 'failure', user: { userId: 'mallory', from: 'attacker.example.net' } }),
    logoutLocked: userAuthentication(ctx, { result: 'failure', kind: 'logout', failure: 'major-failure', user: { userId: 'bob', from: { kind: 'ip', id: '::1' } } }),
    ingestCStore: dicomInstancesTransferred(ctx, {
      direction: 'ingest',
      peer: storescu,
      patient: PATIENT,
      studies: [{ study: STUDY, sopClasses: [{ sopClassUid: CT, count: 300 }, { sopClassUid: MR, count: 2, instances: [INSTANCE, '2.25.2'] }] }],
    }),
    ingestDuplicate: dicomInstancesTransferred(ctx, {
      direction: 'ingest',
      action: 'R',
      peer: httpClient({ address: '198.51.100.4' }),
      patient: PATIENT,
      studies: [{ study: STUDY }],
      outcome: 'minor-failure',
      outcomeDescription: 'B000 stored with a correction',
    }),
    retrieveWado: dicomInstancesTransferred(ctx, {
      direction: 'retrieve',
      peer: viewer,
      patient: PATIENT,
      studies: [{ study: STUDY, sopClasses: [{ sopClassUid: CT, count: 300 }] }, { study: assertPseudonymousUid('1.2.826.0.1.3680043.10.1234.5') }],
    }),
    retrieveCMove: dicomInstancesTransferred(ctx, {
      direction: 'retrieve',
      peer: dimsePeer({ aeTitle: 'WORKSTATION', address: 'ws1.example.org', isRequestor: false }),
      others: [dimsePeer({ aeTitle: 'MOVESCU', address: '192.0.2.77', isRequestor: true })],
      patient: PATIENT,
      studies: [{ study: STUDY, sopClasses: [{ sopClassUid: CT, count: 1 }] }],
    }),
    beginRetrieve: beginTransferring(ctx, {
      peer: dimsePeer({ aeTitle: 'WORKSTATION', address: '192.0.2.78', isRequestor: true }),
      patient: PATIENT,
      studies: [{ study: STUDY, sopClasses: [{ sopClassUid: CT, count: 300 }] }],
    }),
    queryCFind: query(ctx, {
      protocol: 'C-FIND',
      requestor: dimsePeer({ aeTitle: 'FINDSCU', address: '192.0.2.9', isRequestor: true }),
      sopClassUid: FIND_STUDY_ROOT,
      level: 'STUDY',
      keys: ['PatientName', 'PatientID', 'StudyDate', 'StudyInstanceUID', 'ModalitiesInStudy', '00091010'],
    }),
    queryQido: query(ctx, {
      protocol: 'QIDO-RS',
      requestor: viewer,
      level: 'SERIES',
      keys: ['StudyInstanceUID', 'Modality', 'RequestAttributesSequence.ScheduledProcedureStepID', 'SeriesDescription'],
    }),
    alertAccessRefused: securityAlert(ctx, {
      reason: 'access-refused',
      subject: { uri: '/dicom-web/studies/{study}/series' },
      performers: [{ userId: 'mallory', networkAccessPoint: { kind: 'ip', id: '203.0.113.5' } }],
    }),
    alertSubstitution: securityAlert(ctx, {
      reason: 'substitution-attempt',
      subject: { study: STUDY, instance: { sopClassUid: CT, sopInstanceUid: INSTANCE } },
      patient: PATIENT,
      performers: [{ userId: 'STORESCU', alternativeUserId: 'AETITLES=STORESCU', networkAccessPoint: { kind: 'ip', id: '192.0.2.10' } }],
      outcome: 'serious-failure',
    }),
    alertProject: securityAlert(ctx, {
      reason: 'project-violation',
      project: 'lung-ct_2024',
      subject: { study: STUDY2 },
      performers: [{ userId: 'alice@hospital.example' }],
    }),
    alertNodeAuth: securityAlert(ctx, { reason: 'node-authentication-failure', subject: { node: '203.0.113.9' }, outcome: 'major-failure' }),
    exportZip: dataExport(ctx, {
      kind: 'zip-download',
      recipient: viewer,
      media: { uri: 'https://pacs-gw.example.org/api/studies/2.25.329800735698586629295641978511506172918/archive', networkAccessPoint: '2001:db8::7' },
      patients: [PATIENT],
      studies: [{ study: STUDY, sopClasses: [{ sopClassUid: CT, count: 300 }] }],
    }),
    exportLinkage: dataExport(ctx, {
      kind: 'linkage-export',
      exporter: { userId: 'root', userName: 'veilgate export-linkage', isRequestor: true },
      media: { uri: 'file:///srv/veilgate/exports/linkage-2024-05-01.csv' },
      patients: [PATIENT, PATIENT2],
    }),
  };
}

describe('audit messages against the DICOM Audit Message schema (PS3.15 A.5.1)', () => {
  test('every builder output validates with xmllint', () => {
    const messages = everyMessage();
    const docs = Object.fromEntries(Object.entries(messages).map(([k, m]) => [k, m.xml]));
    const v = validateDocuments(docs);
    expect(v.output).not.toMatch(/fails to validate|error/i);
    expect(v.status).toBe(0);
    for (const file of Object.values(v.files)) expect(v.output).toContain(`${file} validates`);
    for (const m of Object.values(messages)) {
      expect(isAuditMessage(m)).toBe(true);
      expect(m.xml).not.toMatch(/[\r\n]/);
      expect(m.xml.startsWith('<AuditMessage>')).toBe(true);
    }
  });

  test('the schema is strict: broken messages fail to validate', () => {
    const good = everyMessage().ingestCStore.xml;
    const broken = {
      outcome3: good.replace('EventOutcomeIndicator="0"', 'EventOutcomeIndicator="3"'),
      actionX: good.replace('EventActionCode="C"', 'EventActionCode="X"'),
      notADateTime: good.replace(/EventDateTime="[^"]+"/, 'EventDateTime="yesterday"'),
      noSource: good.replace(/<AuditSourceIdentification.*?<\/AuditSourceIdentification>/, ''),
      noNameNorQuery: good.replace(/<ParticipantObjectName>[^<]*<\/ParticipantObjectName>/, ''),
      badRole: good.replace('ParticipantObjectTypeCodeRole="3"', 'ParticipantObjectTypeCodeRole="27"'),
      missingOriginalText: good.replace(/ originalText="DICOM Instances Transferred"/, ''),
      notBoolean: good.replace('UserIsRequestor="true"', 'UserIsRequestor="yes"'),
      unknownElement: good.replace('<AuditSourceIdentification', '<Extra/><AuditSourceIdentification'),
    };
    const v = validateDocuments(broken);
    expect(v.status).not.toBe(0);
    for (const file of Object.values(v.files)) expect(v.output).toContain(`${file} fails to validate`);
  });

  test('fields follow A.5.3: codes, roles, participant objects', () => {
    const m = everyMessage();
    const x = (name: string, expr: string) => xpathString(m[name].xml, expr);
    expect(x('applicationStart', '/AuditMessage/EventIdentification/EventID/@csd-code')).toBe('110100');
    expect(x('applicationStart', '/AuditMessage/EventIdentification/EventTypeCode/@csd-code')).toBe('110120');
    expect(x('applicationStopByOperator', '/AuditMessage/EventIdentification/EventTypeCode/@csd-code')).toBe('110121');
    expect(x('applicationStart', '/AuditMessage/ActiveParticipant/@AlternativeUserID')).toBe('AETITLES=VEILGATE');
    expect(x('applicationStopByOperator', "/AuditMessage/ActiveParticipant[RoleIDCode/@csd-code='110151']/@UserID")).toBe('root');
    expect(x('loginFailure', '/AuditMessage/EventIdentification/@EventOutcomeIndicator')).toBe('4');
    expect(x('loginFailure', "/AuditMessage/ActiveParticipant[@UserIsRequestor='true']/@NetworkAccessPointTypeCode")).toBe('1');
    expect(x('logoutLocked', '/AuditMessage/EventIdentification/EventTypeCode/@csd-code')).toBe('110123');
    expect(x('ingestCStore', '/AuditMessage/EventIdentification/@EventActionCode')).toBe('C');
    expect(x('ingestCStore', "/AuditMessage/ActiveParticipant[RoleIDCode/@csd-code='110153']/@UserID")).toBe('STORESCU');
    expect(x('ingestCStore', "/AuditMessage/ActiveParticipant[RoleIDCode/@csd-code='110152']/@UserID")).toBe('veilgate');
    expect(x('ingestCStore', "count(//SOPClass[@UID='1.2.840.10008.5.1.4.1.1.2'][@NumberOfInstances='300'])")).toBe('1');
    expect(x('ingestCStore', "//ParticipantObjectIdentification[@ParticipantObjectTypeCodeRole='1']/@ParticipantObjectID")).toBe(PATIENT);
    expect(x('ingestCStore', "//ParticipantObjectIdentification[@ParticipantObjectTypeCodeRole='1']/ParticipantObjectIDTypeCode/@codeSystemName")).toBe('RFC-3881');
    expect(x('retrieveWado', '/AuditMessage/EventIdentification/@EventActionCode')).toBe('R');
    expect(x('retrieveWado', "/AuditMessage/ActiveParticipant[RoleIDCode/@csd-code='110153']/@UserID")).toBe('veilgate');
    expect(x('retrieveWado', "count(//ParticipantObjectIdentification[ParticipantObjectIDTypeCode/@csd-code='110180'])")).toBe('2');
    expect(x('retrieveCMove', "/AuditMessage/ActiveParticipant[@UserID='MOVESCU']/@UserIsRequestor")).toBe('true');
    expect(x('beginRetrieve', '/AuditMessage/EventIdentification/EventID/@csd-code')).toBe('110102');
    expect(x('beginRetrieve', '/AuditMessage/EventIdentification/@EventActionCode')).toBe('E');
    expect(x('alertSubstitution', '/AuditMessage/EventIdentification/EventID/@csd-code')).toBe('110113');
    expect(x('alertSubstitution', "count(//EventTypeCode[@csd-code='110132'])")).toBe('1');
    expect(x('alertSubstitution', "//ActiveParticipant[@UserID='STORESCU']/@UserIsRequestor")).toBe('false');
    expect(Buffer.from(x('alertProject', "//ParticipantObjectDetail[@type='Alert Description']/@value"), 'base64').toString()).toContain('project lung-ct_2024');
    expect(x('alertNodeAuth', "//EventTypeCode/@csd-code")).toBe('110126');
    expect(x('alertNodeAuth', "//ParticipantObjectIDTypeCode/@csd-code")).toBe('110182');
    expect(x('exportZip', '/AuditMessage/EventIdentification/EventID/@csd-code')).toBe('110106');
    expect(x('exportZip', '/AuditMessage/EventIdentification/@EventActionCode')).toBe('R');
    expect(x('exportZip', "//ActiveParticipant[RoleIDCode/@csd-code='110154']/MediaIdentifier/MediaType/@csd-code")).toBe('110037');
    expect(x('exportZip', "//ActiveParticipant[RoleIDCode/@csd-code='110154']/@UserIsRequestor")).toBe('false');
    expect(x('exportZip', "count(//ActiveParticipant[@UserIsRequestor='true'])")).toBe('1');
    expect(x('exportLinkage', "count(//ParticipantObjectIdentification[@ParticipantObjectTypeCodeRole='1'])")).toBe('2');
    expect(x('exportLinkage', '//EventTypeCode/@codeSystemName')).toBe('99VEILGATE');
  });

  test('a query records its keys as a data set of empty values, never a value', () => {
    const m = everyMessage().queryCFind;
    expect(xpathString(m.xml, '//ParticipantObjectIDTypeCode/@csd-code')).toBe('110181');
    expect(xpathString(m.xml, '//ParticipantObjectIdentification/@ParticipantObjectID')).toBe(FIND_STUDY_ROOT);
    const ts = Buffer.from(xpathString(m.xml, "//ParticipantObjectDetail[@type='TransferSyntax']/@value"), 'base64').toString();
    expect(ts).toBe('1.2.840.10008.1.2.1');
    const bytes = Buffer.from(xpathString(m.xml, '//ParticipantObjectQuery'), 'base64');
    const ds = parseDataset(bytes, ts);
    const keys = [...ds.keys()].sort((a, b) => a - b);
    expect(keys).toEqual([tag(0x0008, 0x0020), tag(0x0008, 0x0052), tag(0x0008, 0x0061), tag(0x0009, 0x1010), tag(0x0010, 0x0010), tag(0x0010, 0x0020), tag(0x0020, 0x000d)]);
    for (const [t, el] of ds) {
      if (t === tag(0x0008, 0x0052)) expect(Buffer.from(el.value!).toString().trim()).toBe('STUDY');
      else expect(el.value?.length ?? 0).toBe(0);
    }
    const qido = everyMessage().queryQido;
    expect(xpathString(qido.xml, '//ParticipantObjectIdentification/@ParticipantObjectID')).toBe(FIND_STUDY_ROOT);
    const q = parseDataset(Buffer.from(xpathString(qido.xml, '//ParticipantObjectQuery'), 'base64'), '1.2.840.10008.1.2.1');
    const seq = q.get(tag(0x0040, 0x0275));
    expect(seq?.items?.[0]?.has(tag(0x0040, 0x0009))).toBe(true);
    expect(Buffer.from(q.get(tag(0x0008, 0x0052))!.value!).toString().trim()).toBe('SERIES');
  });

  test('EventDateTime is ISO 8601 with an offset, and attributes come in a fixed order', () => {
    expect(formatDateTime(T, 120)).toBe('2024-05-01T14:34:56.789+02:00');
    expect(formatDateTime(T, -330)).toBe('2024-05-01T07:04:56.789-05:30');
    expect(formatDateTime(T, 0)).toBe('2024-05-01T12:34:56.789+00:00');
    const local = applicationActivity(ctx, { action: 'start', time: T }).xml;
    const stamp = /EventDateTime="([^"]+)"/.exec(local)![1];
    expect(stamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}[+-]\d{2}:\d{2}$/);
    expect(new Date(stamp).getTime()).toBe(T.getTime());
    const fixed = auditContext({ aeTitle: 'VEILGATE', hostname: 'gw', sourceId: 'gw', utcOffsetMinutes: 60 });
    expect(applicationActivity(fixed, { action: 'start', time: T }).xml).toContain('EventDateTime="2024-05-01T13:34:56.789+01:00"');

    const xml = everyMessage().exportZip.xml;
    expect(xml).toMatch(/<EventIdentification EventActionCode="R" EventDateTime="[^"]+" EventOutcomeIndicator="0">/);
    expect(xml).toMatch(/<ActiveParticipant UserID="[^"]+" UserIsRequestor="true" NetworkAccessPointID="2001:db8::7" NetworkAccessPointTypeCode="2">/);
    expect(xml).toContain('<EventID csd-code="110106" codeSystemName="DCM" originalText="Export"/>');
    expect(xml).toMatch(/<ParticipantObjectIdentification ParticipantObjectID="2.25.\d+" ParticipantObjectTypeCode="2" ParticipantObjectTypeCodeRole="3">/);
    expect(xml).toContain('<AuditSourceIdentification AuditEnterpriseSiteID="HOSP1" AuditSourceID="veilgate-test"><AuditSourceTypeCode csd-code="4"/></AuditSourceIdentification>');
    // Same input, same bytes.
    const again = dataExport(ctx, {
      kind: 'linkage-export',
      exporter: { userId: 'root', isRequestor: true },
      media: { uri: 'file:///x.csv' },
      patients: [PATIENT],
      time: T,
    });
    const twice = dataExport(ctx, { kind: 'linkage-export', exporter: { userId: 'root', isRequestor: true }, media: { uri: 'file:///x.csv' }, patients: [PATIENT], time: T });
    expect(twice.xml).toBe(again.xml);
  });
});

describe('builders refuse what is not pseudonymous', () => {
  const transfer = (patient: string, study: unknown, instances?: unknown[]) => () =>
    dicomInstancesTransferred(ctx, {
      direction: 'ingest',
      peer: storescu,
      patient,
      studies: [{ study: study as string, sopClasses: instances ? [{ sopClassUid: CT, count: 1, instances: instances as string[] }] : undefined }],
    });

  test('a study is 2.25.<decimal> or asserted; a patient is VG- and 12 base-32 characters', () => {
    expect(transfer(PATIENT, STUDY)).not.toThrow();
    const refusedStudies = ['1.2.840.113619.2.55.3.604688119.969.1268071029.320', '2.25.', '2.25.12a', '2.25.1234567890123456789012345678901234567890', ' 2.25.1', '2.25.1\n', '', 12345];
    for (const s of refusedStudies) expect(transfer(PATIENT, s)).toThrow(AuditInputError);
    const refusedPatients = ['DOE^JOHN', '12345678', 'VG-ABC', 'vg-abcdefghjk23', 'VG-ABCDEFGHJK21', 'VG-ABCDEFGHJK230', ' VG-ABCDEFGHJK23', 'VG-ABCDEFGHJK2 '];
    for (const p of refusedPatients) expect(transfer(p, STUDY)).toThrow(AuditInputError);
    // The refusal never repeats the value it refused.
    try {
      transfer('DOE^JOHN', STUDY)();
    } catch (e) {
      expect((e as Error).message).not.toContain('DOE');
    }
    try {
      transfer(PATIENT, '1.2.840.113619.2.55.3')();
    } catch (e) {
      expect((e as Error).message).not.toContain('113619');
    }
  });

  test('instances too; only assertPseudonymousUid makes an asserted UID', () => {
    expect(transfer(PATIENT, STUDY, [INSTANCE])).not.toThrow();
    expect(transfer(PATIENT, STUDY, ['1.3.12.2.1107.5.1.4.1'])).toThrow(AuditInputError);
    expect(transfer(PATIENT, assertPseudonymousUid('1.2.3.4'))).not.toThrow();
    expect(transfer(PATIENT, { uid: '1.2.3.4' })).toThrow(AuditInputError); // a look-alike object
    expect(transfer(PATIENT, Object.freeze({ uid: '1.2.3.4' }))).toThrow(AuditInputError);
    expect(() => assertPseudonymousUid('DOE^JOHN')).toThrow(AuditInputError);
    expect(() => assertPseudonymousUid('1.2.03')).toThrow(AuditInputError);
  });

  test('TransferTally groups an association’s instances into one message per patient', () => {
    const tally = new TransferTally();
    for (let i = 0; i < 3; i++) tally.add({ patient: PATIENT, study: STUDY, sopClassUid: CT });
    tally.add({ patient: PATIENT, study: STUDY, sopClassUid: MR });
    tally.add({ patient: PATIENT2, study: STUDY2, sopClassUid: CT });
    expect(tally.size).toBe(5);
    const groups = tally.groups();
    expect(groups).toEqual([
      { patient: PATIENT, studies: [{ study: STUDY, sopClasses: [{ sopClassUid: CT, count: 3 }, { sopClassUid: MR, count: 1 }] }] },
      { patient: PATIENT2, studies: [{ study: STUDY2, sopClasses: [{ sopClassUid: CT, count: 1 }] }] },
    ]);
    const docs = Object.fromEntries(groups.map((g, i) => [`g${i}`, dicomInstancesTransferred(ctx, { direction: 'ingest', peer: storescu, ...g }).xml]));
    expect(validateDocuments(docs).status).toBe(0);
  });

  test('every builder that names patients or studies checks them', () => {
    expect(() => beginTransferring(ctx, { peer: storescu, patient: 'Smith', studies: [{ study: STUDY }] })).toThrow(AuditInputError);
    expect(() => beginTransferring(ctx, { peer: storescu, patient: PATIENT, studies: [] })).toThrow(AuditInputError);
    expect(() => securityAlert(ctx, { reason: 'substitution-attempt', subject: { study: '1.2.3' } })).toThrow(AuditInputError);
    expect(() => securityAlert(ctx, { reason: 'substitution-attempt', subject: { study: STUDY, instance: { sopClassUid: CT, sopInstanceUid: '1.2.3' } } })).toThrow(AuditInputError);
    expect(() => securityAlert(ctx, { reason: 'access-refused', subject: { study: STUDY }, patient: 'Doe' })).toThrow(AuditInputError);
    expect(() => securityAlert(ctx, { reason: 'project-violation', subject: { study: STUDY }, project: 'John Smith <x>' })).toThrow(AuditInputError);
    expect(() => dataExport(ctx, { kind: 'zip-download', recipient: viewer, media: { uri: '/a' }, patients: ['DOE'] })).toThrow(AuditInputError);
    expect(() => dataExport(ctx, { kind: 'zip-download', recipient: viewer, media: { uri: '/a' }, patients: [] })).toThrow(AuditInputError);
    expect(() => dataExport(ctx, { kind: 'zip-download', recipient: viewer, media: { uri: '/a' }, patients: [PATIENT], studies: [{ study: '1.2.3' }] })).toThrow(AuditInputError);
  });

  test('URIs carry no query and name no original UID', () => {
    const alert = (uri: string) => () => securityAlert(ctx, { reason: 'access-refused', subject: { uri } });
    expect(alert('/dicom-web/studies/{study}')).not.toThrow();
    expect(alert(`/dicom-web/studies/${STUDY}/series`)).not.toThrow();
    expect(alert('/dicom-web/studies/1.2.840.113619.2.55.3/series')).toThrow(AuditInputError);
    expect(alert('/dicom-web/studies?PatientName=DOE^JOHN')).toThrow(AuditInputError);
    expect(alert('/dicom-web/studies#x')).toThrow(AuditInputError);
    expect(alert('/dicom-web/Doe%5EJohn')).toThrow(AuditInputError);
    expect(alert('/dicom web')).toThrow(AuditInputError);
  });

  test('a query takes attribute keywords, never values', () => {
    const q = (keys: unknown[]) => () => query(ctx, { protocol: 'QIDO-RS', requestor: viewer, level: 'STUDY', keys: keys as string[] });
    expect(q(['PatientName', 'StudyDate', '00100010', 'ReferencedStudySequence.ReferencedSOPInstanceUID'])).not.toThrow();
    for (const bad of ['PatientName=DOE^JOHN', 'DOE^JOHN', 'patientname', 'Patient Name', '20240101', 'StudyDate.StudyTime', '', '0010001', 'FFFEE000', 42]) {
      expect(q(['StudyDate', bad])).toThrow(AuditInputError);
    }
    expect(() => query(ctx, { protocol: 'C-FIND', requestor: viewer, level: 'STUDY', keys: [] })).toThrow(/SOP Class/);
    expect(() => query(ctx, { protocol: 'C-FIND', requestor: viewer, sopClassUid: STUDY, keys: [] })).toThrow(AuditInputError);
    expect(() => query(ctx, { protocol: 'QIDO-RS', requestor: viewer, level: 'WORKLIST' as never, keys: [] })).toThrow(AuditInputError);
  });

  test('other constraints of A.5.3: one requestor per export, gateway-authored descriptions, mandatory access point', () => {
    const both = { ...viewer, isRequestor: true };
    expect(() =>
      dataExport(ctx, { kind: 'zip-download', recipient: both, exporter: { userId: 'root', isRequestor: true }, media: { uri: '/x' }, patients: [PATIENT] }),
    ).toThrow(/exactly one/);
    expect(() => dataExport(ctx, { kind: 'zip-download', recipient: { ...viewer, isRequestor: false }, media: { uri: '/x' }, patients: [PATIENT] })).toThrow(/exactly one/);
    expect(() =>
      dicomInstancesTransferred(ctx, { direction: 'ingest', peer: storescu, patient: PATIENT, studies: [{ study: STUDY }], outcomeDescription: 'line1\nline2' }),
    ).toThrow(AuditInputError);
    expect(() => userAuthentication(ctx, { result: 'success', user: { userId: 'alice', from: undefined as never } })).toThrow(AuditInputError);
    expect(() => userAuthentication(ctx, { result: 'success', user: { userId: 'alice', from: { kind: 'ip', id: 'not-an-ip' } } })).toThrow(AuditInputError);
    expect(() => dimsePeer({ aeTitle: 'A\\B', isRequestor: true })).toThrow(AuditInputError);
    expect(() => dimsePeer({ aeTitle: 'WAY_TOO_LONG_AE_TITLE', isRequestor: true })).toThrow(AuditInputError);
  });
});

describe('XML escaping', () => {
  test('markup characters, line breaks and what XML 1.0 forbids', () => {
    expect(escapeXml(`<&"'>`)).toBe('&lt;&amp;&quot;&apos;&gt;');
    expect(escapeXml('a\tb\nc\rd')).toBe('a&#9;b&#10;c&#13;d');
    // Forbidden in XML 1.0, even as character references: replaced by U+FFFD.
    expect(escapeXml('\u0000\u0001\u0008\u000b\u000c\u001b\u001f')).toBe('\uFFFD'.repeat(7));
    expect(escapeXml('x\uFFFEy\uFFFFz')).toBe('x\uFFFDy\uFFFDz');
    expect(escapeXml('lone \uD800 high, lone \uDC00 low')).toBe('lone \uFFFD high, lone \uFFFD low');
    // Legal but invisible or line-breaking: kept, as character references.
    expect(escapeXml('del\u007f nel\u0085 ls\u2028 ps\u2029')).toBe('del&#x7F; nel&#x85; ls&#x2028; ps&#x2029;');
    // Everything else untouched, astral characters included.
    expect(escapeXml('Zoë 東京 \uD83D\uDE00 \\')).toBe('Zoë 東京 \uD83D\uDE00 \\');
  });

  test('a hostile user ID survives as one well-formed, valid line', () => {
    const hostile = `evil<&"'>\u0000\u0001\u001b\n<ActiveParticipant UserID="x"/>]]>--\r\t\u0085`;
    const m = userAuthentication(ctx, { result: 'failure', user: { userId: hostile, userName: hostile, from: '203.0.113.5' } });
    expect(m.xml).not.toMatch(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\n\r]/);
    expect(m.xml.match(/<ActiveParticipant /g)).toHaveLength(2);
    const v = validateDocuments({ hostile: m.xml });
    expect(v.status).toBe(0);
    const expected = `evil<&"'>\uFFFD\uFFFD\uFFFD\n<ActiveParticipant UserID="x"/>]]>--\r\t\u0085`;
    expect(xpathString(m.xml, "/AuditMessage/ActiveParticipant[@UserIsRequestor='true']/@UserID")).toBe(expected);
    expect(xpathString(m.xml, "/AuditMessage/ActiveParticipant[@UserIsRequestor='true']/@UserName")).toBe(expected);
  });
});

describe('AuditFileSink', () => {
  const msg = (i: number, time = T) =>
    userAuthentication(ctx, { result: 'success', user: { userId: `user-${String(i).padStart(4, '0')}`, from: '192.0.2.1' }, time });

  const readLines = (dir: string) =>
    listAuditFiles(dir).flatMap((f) => fs.readFileSync(path.join(dir, f.name), 'utf8').split('\n').filter(Boolean));

  test('rotates by size, never past maxBytes, one message per line, mode 0600', async () => {
    const dir = path.join(sub('size'), 'audit');
    const lineBytes = Buffer.byteLength(msg(0).xml) + 1;
    const maxBytes = lineBytes * 3 + 10;
    const sink = new AuditFileSink({ dir, maxBytes, flushIntervalMs: 5 });
    for (let i = 0; i < 20; i++) {
      sink.write(msg(i));
      if (i % 7 === 0) await sink.flush();
    }
    await sink.close();
    const files = listAuditFiles(dir);
    expect(files).toHaveLength(7); // 20 lines, 3 per file
    for (const f of files) {
      const st = fs.statSync(path.join(dir, f.name));
      expect(st.size).toBeLessThanOrEqual(maxBytes);
      expect(st.mode & 0o777).toBe(0o600);
    }
    expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
    const lines = readLines(dir);
    expect(lines).toHaveLength(20);
    lines.forEach((l, i) => {
      expect(l.startsWith('<AuditMessage>') && l.endsWith('</AuditMessage>')).toBe(true);
      expect(l).toContain(`UserID="user-${String(i).padStart(4, '0')}"`);
    });
    expect(sink.stats()).toMatchObject({ written: 20, rotations: 6, pending: 0, errors: 0 });
  });

  test('keeps N rotated files, deleting the oldest', async () => {
    const dir = sub('keep');
    const lineBytes = Buffer.byteLength(msg(0).xml) + 1;
    const sink = new AuditFileSink({ dir, maxBytes: lineBytes, keep: 2, flushIntervalMs: 5 });
    for (let i = 0; i < 6; i++) sink.write(msg(i));
    await sink.close();
    const files = listAuditFiles(dir);
    expect(files.map((f) => f.seq)).toEqual([3, 4, 5]); // two rotated files and the current one
    expect(readLines(dir).map((l) => /UserID="([^"]+)"/.exec(l)![1])).toEqual(['user-0003', 'user-0004', 'user-0005']);
    expect(sink.stats().deleted).toBe(3);
  });

  test('rotates by (UTC) day, and a restart appends to the day’s newest file', async () => {
    const dir = sub('day');
    let now = new Date('2024-05-01T23:59:59.000Z');
    const sink = new AuditFileSink({ dir, now: () => now, flushIntervalMs: 5 });
    sink.write(msg(1, now));
    await sink.flush();
    now = new Date('2024-05-02T00:00:01.000Z');
    sink.write(msg(2, now));
    sink.write(msg(3, now));
    await sink.close();
    expect(listAuditFiles(dir).map((f) => f.name)).toEqual(['audit-2024-05-01-000.log', 'audit-2024-05-02-000.log']);

    const again = new AuditFileSink({ dir, now: () => now });
    again.write(msg(4, now));
    await again.close();
    expect(listAuditFiles(dir)).toHaveLength(2);
    expect(fs.readFileSync(path.join(dir, 'audit-2024-05-02-000.log'), 'utf8').split('\n').filter(Boolean)).toHaveLength(3);
  });

  test('a line cut short before a restart is ended before anything is appended', async () => {
    const dir = sub('torn');
    const now = () => new Date('2024-06-01T10:00:00Z');
    fs.writeFileSync(path.join(dir, 'audit-2024-06-01-000.log'), `${msg(1).xml}\n<AuditMessage><EventIdent`, { mode: 0o644 });
    const sink = new AuditFileSink({ dir, now });
    sink.write(msg(2));
    await sink.close();
    const lines = fs.readFileSync(path.join(dir, 'audit-2024-06-01-000.log'), 'utf8').split('\n');
    expect(lines[1]).toBe('<AuditMessage><EventIdent');
    expect(lines[2]).toBe(msg(2).xml);
    expect(fs.statSync(path.join(dir, 'audit-2024-06-01-000.log')).mode & 0o777).toBe(0o600);
  });

  test('writes are buffered, and close() loses nothing', async () => {
    const dir = sub('close');
    const sink = new AuditFileSink({ dir, flushIntervalMs: 60_000 });
    for (let i = 0; i < 100; i++) sink.write(msg(i));
    expect(listAuditFiles(dir)).toHaveLength(0); // nothing written yet
    await sink.close();
    expect(readLines(dir)).toHaveLength(100);
    expect(() => sink.write(msg(101))).toThrow(/closed/);
  });
});

describe('SyslogSink', () => {
  const checkFrames = (frames: Buffer[], messages: AuditMessage[], facility = 10) => {
    expect(frames).toHaveLength(messages.length);
    frames.forEach((f, i) => {
      const r = parseRfc5424(f);
      const m = messages[i];
      const severity = { 0: 5, 4: 4, 8: 3, 12: 2 }[m.outcome];
      expect(r.pri).toBe(facility * 8 + severity);
      expect(r.version).toBe('1');
      expect(new Date(r.timestamp).getTime()).toBe(m.time.getTime());
      expect(r.hostname).toBe('pacs-gw');
      expect(r.appName).toBe('veilgate');
      expect(r.procId).toBe(String(process.pid));
      expect(r.msgId).toBe(m.eventName);
      expect(r.structuredData).toBe('-');
      expect([...r.msg.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]); // the UTF-8 BOM (RFC 5424 6.4)
      expect(r.msg.subarray(3).toString('utf8')).toBe(m.xml);
    });
  };

  test('RFC 6587 octet counting counts bytes, not characters', () => {
    const m = userAuthentication(ctx, { result: 'success', user: { userId: 'zoë@東京', from: '192.0.2.1' }, time: T });
    const f = frame(formatSyslogMessage(m, { hostname: 'pacs-gw' }));
    const p = new OctetCountingParser();
    for (let i = 0; i < f.length; i += 7) p.push(f.subarray(i, i + 7)); // in arbitrary chunks
    expect(p.frames).toHaveLength(1);
    expect(p.leftover).toBe(0);
    expect(parseRfc5424(p.frames[0]).msg.subarray(3).toString('utf8')).toBe(m.xml);
    expect(Number(f.subarray(0, f.indexOf(0x20)).toString())).toBe(f.length - f.indexOf(0x20) - 1);
  });

  test('over TCP to a local collector: frames parsed and checked', async () => {
    const collector = await startCollector();
    const sink = new SyslogSink({ host: '127.0.0.1', port: collector.port, hostname: 'pacs-gw', facility: 13 });
    const all = everyMessage();
    const messages = [all.applicationStart, all.loginFailure, all.queryCFind, all.alertSubstitution, all.alertNodeAuth, all.exportZip];
    for (const m of messages) sink.write(m);
    const frames = await collector.waitFor(messages.length);
    checkFrames(frames, messages, 13);
    const v = validateDocuments(Object.fromEntries(frames.map((f, i) => [`frame${i}`, parseRfc5424(f).msg.subarray(3).toString('utf8')])));
    expect(v.status).toBe(0);
    expect(sink.stats()).toMatchObject({ sent: messages.length, dropped: 0, connects: 1 });
    await sink.close();
    await collector.close();
  });

  test('over TLS with a self-signed certificate made by openssl', async () => {
    const certs = selfSignedCertificate(sub('tls'));
    const collector = await startCollector({ tls: { key: certs.key, cert: certs.cert } });
    const sink = new SyslogSink({ host: 'localhost', port: collector.port, hostname: 'pacs-gw', tls: { ca: certs.certFile } });
    const messages = [everyMessage().retrieveWado, everyMessage().exportLinkage];
    for (const m of messages) sink.write(m);
    checkFrames(await collector.waitFor(2), messages);
    await sink.close();
    await collector.close();
  });

  test('over TLS, a collector whose certificate does not verify gets nothing', async () => {
    const certs = selfSignedCertificate(sub('tls-untrusted'));
    const collector = await startCollector({ tls: { key: certs.key, cert: certs.cert } });
    const errors: unknown[] = [];
    const sink = new SyslogSink({
      host: 'localhost',
      port: collector.port,
      tls: {}, // the system CAs: the self-signed certificate is not among them
      backoffInitialMs: 20,
      backoffMaxMs: 50,
      closeTimeoutMs: 100,
      onError: (e) => errors.push(e),
    });
    sink.write(everyMessage().applicationStart);
    const deadline = Date.now() + 5000;
    while (errors.length < 2 && Date.now() < deadline) await sleep(20);
    expect(errors.length).toBeGreaterThanOrEqual(2); // it keeps trying, with backoff
    expect(sink.stats()).toMatchObject({ connects: 0, queued: 1 });
    expect(collector.frames).toHaveLength(0);
    await sink.close();
    expect(sink.stats()).toMatchObject({ droppedOnClose: 1 });
    await collector.close();
  });

  test('the queue is bounded while the collector is down: drops are counted, writes never block, and the queue is delivered after reconnecting', async () => {
    const port = await unusedPort();
    const drops: number[] = [];
    const sink = new SyslogSink({ host: '127.0.0.1', port, hostname: 'pacs-gw', maxQueue: 5, backoffInitialMs: 20, backoffMaxMs: 100, onDrop: (n) => drops.push(n) });
    const messages = Array.from({ length: 12 }, (_, i) =>
      userAuthentication(ctx, { result: 'success', user: { userId: `queued-${i}`, from: '192.0.2.1' }, time: T }),
    );
    const started = process.hrtime.bigint();
    for (const m of messages) sink.write(m);
    expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(200);
    expect(sink.stats()).toMatchObject({ queued: 5, dropped: 7, sent: 0 });
    expect(drops).toEqual([1, 2, 3, 4, 5, 6, 7]);
    await sleep(150); // a few failed attempts

    const collector = await startCollector({ port });
    const frames = await collector.waitFor(5);
    checkFrames(frames, messages.slice(0, 5));

    // The collector drops the connection: the sink reconnects and carries on.
    collector.dropConnections();
    await sleep(50);
    const later = userAuthentication(ctx, { result: 'success', user: { userId: 'after-reconnect', from: '192.0.2.1' }, time: T });
    sink.write(later);
    await collector.waitFor(6);
    expect(parseRfc5424(collector.frames[5]).msg.toString('utf8')).toContain('UserID="after-reconnect"');
    expect(collector.connections).toBeGreaterThanOrEqual(2);
    await sink.close();
    await collector.close();
  });

  test('close() delivers what is queued', async () => {
    const collector = await startCollector();
    const sink = new SyslogSink({ host: '127.0.0.1', port: collector.port, hostname: 'pacs-gw' });
    const messages = Array.from({ length: 50 }, (_, i) => applicationActivity(ctx, { action: i % 2 ? 'stop' : 'start', time: T }));
    for (const m of messages) sink.write(m); // probably before the connection is up
    await sink.close();
    checkFrames(await collector.waitFor(50), messages);
    await collector.close();
  });
});

describe('AuditTrail', () => {
  let lines: string[];
  beforeEach(() => {
    lines = [];
    setLogSink((l) => lines.push(l));
  });
  afterEach(() => setLogSink((l) => process.stdout.write(l + '\n')));

  test('fans out to every sink; a failing sink is counted and logged without message content; record() never throws', async () => {
    const good: AuditMessage[] = [];
    const goodSink: AuditSink = { name: 'memory', write: (m) => void good.push(m), close: async () => undefined, stats: () => ({}) };
    const badSink: AuditSink = {
      name: 'broken',
      write: () => {
        throw Object.assign(new Error(`disk on fire while writing ${PATIENT} for alice@hospital.example`), { code: 'EIO' });
      },
      close: async () => {
        throw new Error(`close failed for ${PATIENT}`);
      },
      stats: () => ({}),
    };
    const trail = new AuditTrail([badSink, goodSink], 60_000);
    const m = everyMessage().retrieveWado;
    expect(() => trail.record(m)).not.toThrow();
    expect(() => trail.record(m)).not.toThrow();
    expect(good).toHaveLength(2);
    expect(() => trail.record({ eventName: 'Query', outcome: 0, time: T, xml: '<AuditMessage/>' } as AuditMessage)).not.toThrow();
    await trail.close();
    expect(() => trail.record(m)).not.toThrow();
    expect(trail.stats()).toMatchObject({ recorded: 2, rejected: 2, failures: { broken: 3, memory: 0 } });

    const parsed = lines.map((l) => JSON.parse(l));
    expect(parsed[0]).toMatchObject({ level: 'error', event: 'audit-sink-failed', sink: 'broken', error: 'EIO', failures: 1 });
    expect(parsed.filter((p) => p.event === 'audit-sink-failed')).toHaveLength(1); // repeats are rate-limited
    expect(parsed.filter((p) => p.event === 'audit-message-rejected').map((p) => p.reason)).toEqual(['not-built', 'closed']);
    for (const l of lines) {
      expect(l).not.toContain(PATIENT);
      expect(l).not.toContain('alice');
      expect(l).not.toContain('fire');
      expect(l).not.toContain(STUDY);
    }
  });

  test('record(() => builder(...)) catches a builder refusal: counted, logged with the reason, never the value', async () => {
    const got: AuditMessage[] = [];
    const trail = new AuditTrail([{ name: 'memory', write: (m) => void got.push(m), close: async () => undefined, stats: () => ({}) }]);
    expect(() =>
      trail.record(() => dicomInstancesTransferred(ctx, { direction: 'ingest', peer: storescu, patient: 'DOE^JOHN', studies: [{ study: STUDY }] })),
    ).not.toThrow();
    trail.record(() => applicationActivity(ctx, { action: 'start' }));
    expect(got).toHaveLength(1);
    expect(trail.stats()).toMatchObject({ recorded: 1, rejected: 1, buildFailures: 1 });
    const parsed = lines.map((l) => JSON.parse(l));
    expect(parsed).toEqual([expect.objectContaining({ level: 'error', event: 'audit-message-refused', reason: expect.stringContaining('pseudonymous Patient ID') })]);
    expect(lines.join('')).not.toContain('DOE');
    await trail.close();
  });

  test('createAuditTrail: the file sink under DATA_DIR/audit and syslog, from a validated config', async () => {
    const dataDir = sub('data');
    const collector = await startCollector();
    const config = validateAuditConfig({ file: { maxBytes: 1 << 20, keep: 5 }, syslog: { host: '127.0.0.1', port: collector.port, facility: 'local4' } });
    const trail = createAuditTrail(config, dataDir);
    const messages = Object.values(everyMessage());
    for (const m of messages) trail.record(m);
    await collector.waitFor(messages.length);
    await trail.close();
    const dir = path.join(dataDir, 'audit');
    const files = listAuditFiles(dir);
    expect(files).toHaveLength(1);
    expect(fs.statSync(path.join(dir, files[0].name)).mode & 0o777).toBe(0o600);
    const fileLines = fs.readFileSync(path.join(dir, files[0].name), 'utf8').split('\n').filter(Boolean);
    expect(fileLines).toEqual(messages.map((m) => m.xml));
    expect(parseRfc5424(collector.frames[0]).pri).toBe(20 * 8 + 5);
    expect(trail.stats()).toMatchObject({ recorded: messages.length, failures: { file: 0, syslog: 0 } });
    expect(lines).toEqual([]);
    await collector.close();
  });
});

describe('validateAuditConfig', () => {
  test('defaults', () => {
    expect(validateAuditConfig(undefined)).toEqual({ file: { enabled: true, maxBytes: 64 * 1024 * 1024, keep: 'forever', flushIntervalMs: 200 } });
    expect(validateAuditConfig({})).toEqual(validateAuditConfig(undefined));
    expect(validateAuditConfig({ syslog: { host: 'arr.example.org', port: 6514, tls: {} } }).syslog).toEqual({
      host: 'arr.example.org',
      port: 6514,
      facility: 10,
      maxQueue: 10000,
      tls: { rejectUnauthorized: true },
    });
  });

  test('settings are checked, errors say which', () => {
    const ca = path.join(sub('config'), 'ca.pem');
    fs.writeFileSync(ca, 'pem');
    expect(validateAuditConfig({ syslog: { host: '10.0.0.1', port: 514, facility: 'local0', tls: { ca, rejectUnauthorized: false } } }).syslog).toMatchObject({
      facility: 16,
      tls: { ca, rejectUnauthorized: false },
    });
    const bad: Array<[unknown, RegExp]> = [
      ['yes', /^configuration: audit must be an object/],
      [{ files: {} }, /^configuration: audit\.files is not an audit setting/],
      [{ file: { maxBytes: 10 } }, /^configuration: audit\.file\.maxBytes must be an integer/],
      [{ file: { maxBytes: '64MiB' } }, /^configuration: audit\.file\.maxBytes/],
      [{ file: { keep: 'never' } }, /^configuration: audit\.file\.keep must be a number of files or "forever"/],
      [{ file: { keep: -1 } }, /^configuration: audit\.file\.keep/],
      [{ file: { enabled: 'true' } }, /^configuration: audit\.file\.enabled must be true or false/],
      [{ syslog: { port: 514 } }, /^configuration: audit\.syslog\.host/],
      [{ syslog: { host: 'a b', port: 514 } }, /^configuration: audit\.syslog\.host/],
      [{ syslog: { host: 'arr', port: 0 } }, /^configuration: audit\.syslog\.port must be an integer from 1 to 65535/],
      [{ syslog: { host: 'arr', port: 514, facility: 'security' } }, /^configuration: audit\.syslog\.facility/],
      [{ syslog: { host: 'arr', port: 514, facility: 24 } }, /^configuration: audit\.syslog\.facility/],
      [{ syslog: { host: 'arr', port: 514, tls: { ca: '/nonexistent/ca.pem' } } }, /^configuration: audit\.syslog\.tls\.ca names a file that cannot be read/],
      [{ syslog: { host: 'arr', port: 514, tls: { cert: ca } } }, /^configuration: audit\.syslog\.tls needs both cert and key/],
      [{ syslog: { host: 'arr', port: 514, tls: { verify: false } } }, /^configuration: audit\.syslog\.tls\.verify is not an audit setting/],
      [{ sourceId: 'has space' }, /^configuration: audit\.sourceId/],
    ];
    for (const [raw, message] of bad) expect(() => validateAuditConfig(raw)).toThrow(message);
  });
});

