/**
 * The Index contract: every implementation (SQLite, PostgreSQL) behaves the same on the same
 * rows. One suite runs against each; the search table runs the same queries on the same records
 * on both, each result checked against the expected matches, and the full result rows of the two
 * backends compared with each other at the end.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import type { Index, InstanceRecord, QueryResult } from '../../src/index/index';
import { SqliteIndex } from '../../src/index/sqlite-index';
import { openPostgres } from '../../src/index/postgres/open';
import type { PostgresIndex } from '../../src/index/postgres/index';
import { Level, matchKeyByName } from '../../src/query/attributes';
import { parseConstraint } from '../../src/query/constraints';
import type { Query } from '../../src/query/query';
import { ALL_PROJECTS } from '../../src/auth/principal';
import { VeilgateError } from '../../src/errors';
import { startPostgres, TestPostgres } from '../support/postgres';
import type { KeyStore } from '../../src/auth/keys';
import { SqliteKeyStore } from '../../src/auth/sqlite-key-store';
import { migrate, postgresMigrations } from '../../src/index/postgres/migrations';
import { PgDatabase } from '../../src/index/postgres/database';
import { parsePostgresUrl, redactedIndexUrl } from '../../src/index/postgres/url';
import { Pool } from 'pg';
import { setLogLevel } from '../../src/log';

jest.setTimeout(120_000);
setLogLevel('warn');

// ---------------------------------------------------------------------------------------------
// Backends

interface Opened {
  index: Index;
  /** The API keys kept in the same database. */
  keys: KeyStore;
  /** A second node on the same database (another connection pool, another SQLite handle). */
  second(): Promise<Index>;
  /** PostgreSQL only: its URL, for direct SQL in tests of plans. */
  url?: string;
  close(): Promise<void>;
}

async function openSqlite(): Promise<Opened> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'veilgate-contract-'));
  const opened: SqliteIndex[] = [new SqliteIndex(dir)];
  return {
    index: opened[0],
    keys: new SqliteKeyStore(opened[0].database),
    second: async () => opened[opened.push(new SqliteIndex(dir)) - 1],
    close: async () => {
      for (const i of opened) await i.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function openPg(): Promise<Opened> {
  const server: TestPostgres = await startPostgres();
  const opened = [await openPostgres(server.url, { poolSize: 4 })];
  return {
    index: opened[0].index,
    keys: opened[0].keys,
    second: async () => opened[opened.push(await openPostgres(server.url, { poolSize: 4 })) - 1].index,
    url: server.url,
    close: async () => {
      for (const o of opened) await o.close();
      await server.stop();
    },
  };
}

const BACKENDS: [string, () => Promise<Opened>][] = [
  ['SQLite', openSqlite],
  ['PostgreSQL', openPg],
];

// ---------------------------------------------------------------------------------------------
// Records

const json = (o: Record<string, [string, unknown] | undefined>) =>
  JSON.stringify(
    Object.fromEntries(
      Object.entries(o)
        .filter(([, v]) => v !== undefined && v[1] !== null)
        .map(([tag, [vr, value]]) => [tag, vr === 'PN' ? { vr, Value: [{ Alphabetic: value }] } : { vr, Value: [value] }]),
    ),
  );

interface StudySpec {
  name: string | null;
  id: string | null;
  date: string | null;
  time: string | null;
  accession: string | null;
  studyID: string | null;
  referring: string | null;
  description: string | null;
  sex: string | null;
  birth: string | null;
  projects: string[];
  /** Per series: modality, series number, instance numbers. */
  series: { modality: string | null; number: number | null; description?: string; date?: string; time?: string; instances: (number | null)[] }[];
}

const STUDIES: StudySpec[] = [
  { name: 'Doe^John', id: 'PID1', date: '20200115', time: '101500.000000', accession: 'ACC1', studyID: 'SID1', referring: 'Smith^Anne^Marie', description: 'Chest CT', sex: 'M', birth: '19700101', projects: ['default'],
    series: [{ modality: 'CT', number: 1, description: 'axial', date: '20200115', time: '101600', instances: [2, 1] }, { modality: 'SEG', number: 2, description: 'seg', instances: [null] }] },
  { name: 'doe^jane', id: 'pid1', date: '20200220', time: '083000', accession: 'ACC2', studyID: 'SID2', referring: null, description: 'Head MR', sex: 'F', birth: '19800505', projects: ['p1'],
    series: [{ modality: 'MR', number: null, description: 'Axial T1', instances: [1] }, { modality: 'MR', number: 1, description: 'sag', date: '20200220', instances: [3, null, 1] }] },
  { name: 'DOE^J', id: 'PID12', date: '20191231', time: '235959.999999', accession: 'A*B', studyID: 'S_1', referring: 'Doe^Referrer', description: 'chest ct', sex: 'F', birth: null, projects: ['p2'],
    series: [{ modality: 'ct', number: 5, instances: [1] }] },
  { name: "O'Brien^Pat", id: 'AB[1]C', date: '20210301', time: null, accession: 'X?Y', studyID: 'S%1', referring: null, description: 'PET', sex: 'O', birth: '19551231', projects: ['p1', 'p2'],
    series: [{ modality: 'PT', number: 1, instances: [1] }, { modality: 'CT', number: 2, description: 'ax low dose', instances: [1, 2] }] },
  { name: 'Müller^Jürgen', id: 'XzY', date: '20210302', time: '120000', accession: 'ACC5', studyID: 'SID5', referring: null, description: null, sex: 'M', birth: null, projects: ['default', 'p1'],
    series: [{ modality: 'MR', number: 1, instances: [1] }] },
  { name: 'MÜLLER^JÜRGEN', id: 'X?Y', date: '20210303', time: '1200', accession: 'ACC6', studyID: 'SID6', referring: null, description: null, sex: 'M', birth: null, projects: ['default'],
    series: [{ modality: 'CR', number: 1, instances: [1] }, { modality: 'MT', number: 2, instances: [1] }] },
  { name: 'müller^anna', id: 'PID7', date: '20220101', time: null, accession: null, studyID: null, referring: null, description: null, sex: 'F', birth: null, projects: ['default'],
    series: [{ modality: 'C', number: 1, instances: [1] }, { modality: 'X', number: 2, instances: [1] }] },
  { name: 'Yamada^Tarou=山田^太郎=やまだ^たろう', id: 'PID8', date: '20220102', time: null, accession: null, studyID: null, referring: null, description: null, sex: null, birth: null, projects: ['default'],
    series: [{ modality: 'OT', number: 1, instances: [1] }] },
  { name: 'A_B%C\\D^X', id: 'PID9', date: null, time: null, accession: null, studyID: null, referring: null, description: null, sex: null, birth: null, projects: ['default'],
    series: [{ modality: 'OT', number: 1, instances: [1] }] },
  { name: '[bracket]^name', id: 'PID10', date: null, time: null, accession: null, studyID: null, referring: null, description: null, sex: null, birth: null, projects: ['default'],
    series: [{ modality: 'OT', number: 1, instances: [1] }] },
  { name: 'Li Wei^', id: 'PID11', date: null, time: null, accession: null, studyID: null, referring: null, description: null, sex: null, birth: null, projects: ['default'],
    series: [{ modality: 'OT', number: 1, instances: [1] }] },
  { name: null, id: null, date: null, time: null, accession: null, studyID: null, referring: null, description: null, sex: null, birth: null, projects: ['default'],
    series: [{ modality: null, number: null, instances: [1] }] },
  { name: 'de la Cruz^Maria', id: 'PID13', date: '20230101', time: null, accession: null, studyID: null, referring: 'Cruz^Jo', description: null, sex: 'F', birth: null, projects: ['default'],
    series: [{ modality: 'MR', number: 1, instances: [1] }] },
];

const SOP_CT = '1.2.840.10008.5.1.4.1.1.2';
const SOP_SEG = '1.2.840.10008.5.1.4.1.1.66.4';
const studyUID = (s: number) => `1.2.826.0.1.3680043.9.${s + 1}`;
const seriesUID = (s: number, se: number) => `${studyUID(s)}.${se + 1}`;
const instanceUID = (s: number, se: number, i: number) => `${seriesUID(s, se)}.${i + 1}`;

/** Labels for expectations: study 3 is "3", its second series "3b", that series' first instance "3b1". */
function labelOf(uid: string): string {
  const [s, se, i] = uid.slice(studyUID(0).length - 1).split('.').map(Number);
  return `${s - 1}${se ? String.fromCharCode(96 + se) : ''}${i ? i : ''}`;
}

function record(s: number, se: number, i: number, over: Partial<InstanceRecord> = {}): InstanceRecord {
  const st = STUDIES[s];
  const sr = st.series[se];
  const inst = sr.instances[i];
  const sop = sr.modality === 'SEG' ? SOP_SEG : SOP_CT;
  const uid = instanceUID(s, se, i);
  return {
    studyUID: studyUID(s),
    seriesUID: seriesUID(s, se),
    sopInstanceUID: uid,
    sopClassUID: sop,
    transferSyntaxUID: '1.2.840.10008.1.2.1',
    instanceNumber: inst,
    blobKey: `blobs/${uid}`,
    size: 1000 + i,
    frames: [[{ offset: 500, length: 256 }]],
    bulk: { '7FE00010': { offset: 500, length: 256 } },
    metadataJson: JSON.stringify({
      ...JSON.parse(json({ '00080018': ['UI', uid], '00080060': ['CS', sr.modality], '00100010': ['PN', st.name], '00180050': ['DS', 1.25], '00081030': ['LO', st.description], '00200013': ['IS', inst] })),
      '7FE00010': { vr: 'OW', BulkDataURI: 'bulk/7FE00010' },
    }),
    study: {
      patientName: st.name,
      patientID: st.id,
      patientBirthDate: st.birth,
      patientSex: st.sex,
      studyDate: st.date,
      studyTime: st.time === null ? null : st.time.replace(/\..*/, '').padEnd(6, '0') + (st.time.split('.')[1] ?? '').padEnd(6, '0'),
      accessionNumber: st.accession,
      studyID: st.studyID,
      referringPhysicianName: st.referring,
      studyDescription: st.description,
      attributesJson: json({
        '0020000D': ['UI', studyUID(s)],
        '00100010': ['PN', st.name],
        '00100020': ['LO', st.id],
        '00080020': ['DA', st.date],
        '00080050': ['SH', st.accession],
        '00081030': ['LO', st.description],
      }),
    },
    series: {
      modality: sr.modality,
      seriesNumber: sr.number,
      seriesDescription: sr.description ?? null,
      performedStartDate: sr.date ?? null,
      performedStartTime: sr.time ? sr.time.padEnd(12, '0') : null,
      scheduledStepID: se === 0 ? `STEP${s}` : null,
      requestedProcedureID: se === 0 ? `RP_${s}` : null,
      attributesJson: json({ '0020000E': ['UI', seriesUID(s, se)], '00080060': ['CS', sr.modality], '00200011': ['IS', sr.number] }),
    },
    instanceAttributesJson: json({ '00080018': ['UI', uid], '00080016': ['UI', sop], '00200013': ['IS', inst] }),
    identifierFingerprints: [`fp-${s}`, `fp-${s}-${se}`],
    contentSha256: `${'0'.repeat(60)}${String(s).padStart(2, '0')}${se}${i}`,
    projects: st.projects,
    joiner: ALL_PROJECTS,
    ...over,
  };
}

/** Every record, in the order both backends get them (row ids, hence result order, follow it). */
function allRecords(): InstanceRecord[] {
  const out: InstanceRecord[] = [];
  STUDIES.forEach((st, s) => st.series.forEach((sr, se) => sr.instances.forEach((_, i) => out.push(record(s, se, i)))));
  return out;
}

// ---------------------------------------------------------------------------------------------
// The search table

type Params = Record<string, string>;

interface SearchCase {
  name: string;
  level: Level;
  params?: Params;
  fuzzy?: boolean;
  scope?: Query['scope'];
  projects?: string[];
  includeFields?: Query['includeFields'];
  limit?: number;
  offset?: number;
  /** The labels of the matches, in result order; `more` when more lie beyond the page. */
  expect: string[];
  more?: boolean;
}

function query(c: SearchCase): Query {
  const constraints = Object.entries(c.params ?? {}).flatMap(([k, v]) => {
    const con = parseConstraint(matchKeyByName(k)!, v, c.fuzzy ?? false);
    return con ? [con] : [];
  });
  return { level: c.level, scope: c.scope ?? {}, constraints, includeFields: c.includeFields ?? [], limit: c.limit ?? 100, offset: c.offset ?? 0, projects: c.projects };
}

const ALL_STUDIES = STUDIES.map((_, s) => String(s));

const CASES: SearchCase[] = [
  // Person names: case-insensitive for ASCII only, wildcards, every other character literal.
  { name: 'PN exact', level: 'study', params: { PatientName: 'Doe^John' }, expect: ['0'] },
  { name: 'PN exact other case', level: 'study', params: { PatientName: 'doe^JOHN' }, expect: ['0'] },
  { name: 'PN prefix', level: 'study', params: { PatientName: 'DOE*' }, expect: ['0', '1', '2'] },
  { name: 'PN lower prefix', level: 'study', params: { PatientName: 'doe*' }, expect: ['0', '1', '2'] },
  { name: 'PN ? is one character', level: 'study', params: { PatientName: 'DOE^?' }, expect: ['2'] },
  { name: 'PN inner wildcard', level: 'study', params: { PatientName: '*^J*' }, expect: ['0', '1', '2', '4', '5'] },
  { name: 'PN non-ASCII case kept', level: 'study', params: { PatientName: 'müller*' }, expect: ['4', '6'] },
  { name: 'PN non-ASCII upper', level: 'study', params: { PatientName: 'MÜLLER*' }, expect: ['5'] },
  { name: 'PN LIKE characters literal', level: 'study', params: { PatientName: 'a_b%c\\d^x' }, expect: ['8'] },
  { name: 'PN _ is not a wildcard', level: 'study', params: { PatientName: 'A_B*' }, expect: ['8'] },
  { name: 'PN ? matches _', level: 'study', params: { PatientName: 'A?B*' }, expect: ['8'] },
  { name: 'PN brackets literal', level: 'study', params: { PatientName: '[bracket]*' }, expect: ['9'] },
  { name: 'PN ideographic', level: 'study', params: { PatientName: '*山田*' }, expect: ['7'] },
  // Fuzzy: from the start of any name component or word.
  { name: 'fuzzy word start', level: 'study', fuzzy: true, params: { PatientName: 'jo' }, expect: ['0'] },
  { name: 'fuzzy one letter', level: 'study', fuzzy: true, params: { PatientName: 'j' }, expect: ['0', '1', '2', '4', '5'] },
  { name: 'fuzzy later word', level: 'study', fuzzy: true, params: { PatientName: 'cruz' }, expect: ['12'] },
  { name: 'fuzzy across a space', level: 'study', fuzzy: true, params: { PatientName: 'la cr' }, expect: ['12'] },
  { name: 'fuzzy after =', level: 'study', fuzzy: true, params: { PatientName: '山田' }, expect: ['7'] },
  { name: 'fuzzy leading wildcard', level: 'study', fuzzy: true, params: { PatientName: '*ann' }, expect: ['6'] },
  { name: 'fuzzy not inside a word', level: 'study', fuzzy: true, params: { PatientName: 'ohn' }, expect: [] },
  { name: 'fuzzy referring', level: 'study', fuzzy: true, params: { ReferringPhysicianName: 'marie' }, expect: ['0'] },
  { name: 'referring prefix', level: 'study', params: { ReferringPhysicianName: 'smith*' }, expect: ['0'] },
  // Case-sensitive strings.
  { name: 'ID exact', level: 'study', params: { PatientID: 'PID1' }, expect: ['0'] },
  { name: 'ID prefix', level: 'study', params: { PatientID: 'PID1*' }, expect: ['0', '2', '9', '10', '12'] },
  { name: 'ID brackets exact', level: 'study', params: { PatientID: 'AB[1]C' }, expect: ['3'] },
  { name: 'ID brackets wildcard', level: 'study', params: { PatientID: 'AB[1]*' }, expect: ['3'] },
  { name: 'ID ? wildcard', level: 'study', params: { PatientID: 'X?Y' }, expect: ['4', '5'] },
  { name: 'ID case-sensitive wildcard', level: 'study', params: { PatientID: 'pid*' }, expect: ['1'] },
  { name: 'accession * wildcard', level: 'study', params: { AccessionNumber: 'A*B' }, expect: ['2'] },
  { name: 'study ID _ literal', level: 'study', params: { StudyID: 'S_*' }, expect: ['2'] },
  { name: 'study ID % literal', level: 'study', params: { StudyID: 'S%*' }, expect: ['3'] },
  { name: 'description leading wildcard', level: 'study', params: { StudyDescription: '*ct' }, expect: ['2'] },
  { name: 'sex', level: 'study', params: { PatientSex: 'F' }, expect: ['1', '2', '6', '12'] },
  { name: 'study UID list', level: 'study', params: { StudyInstanceUID: `${studyUID(3)},${studyUID(1)}` }, expect: ['1', '3'] },
  // Dates and times.
  { name: 'date exact', level: 'study', params: { StudyDate: '20200115' }, expect: ['0'] },
  { name: 'date old form', level: 'study', params: { StudyDate: '2020.01.15' }, expect: ['0'] },
  { name: 'date range', level: 'study', params: { StudyDate: '20200101-20201231' }, expect: ['0', '1'] },
  { name: 'date open low', level: 'study', params: { StudyDate: '-20191231' }, expect: ['2'] },
  { name: 'date open high', level: 'study', params: { StudyDate: '20210302-' }, expect: ['4', '5', '6', '7', '12'] },
  { name: 'time hour-minute', level: 'study', params: { StudyTime: '1015' }, expect: ['0'] },
  { name: 'time range', level: 'study', params: { StudyTime: '080000-090000' }, expect: ['1'] },
  { name: 'time fraction edge', level: 'study', params: { StudyTime: '2359' }, expect: ['2'] },
  { name: 'birth date open low', level: 'study', params: { PatientBirthDate: '-19700101' }, expect: ['0', '3'] },
  // ModalitiesInStudy.
  { name: 'modalities one', level: 'study', params: { ModalitiesInStudy: 'CT' }, expect: ['0', '2', '3'] },
  { name: 'modalities list', level: 'study', params: { ModalitiesInStudy: 'ct,MR' }, expect: ['0', '1', '2', '3', '4', '12'] },
  { name: 'modalities prefix', level: 'study', params: { ModalitiesInStudy: 'C*' }, expect: ['0', '2', '3', '5', '6'] },
  { name: 'modalities ? over the list', level: 'study', params: { ModalitiesInStudy: 'C??' }, expect: ['6'] },
  { name: 'modalities SEG', level: 'study', params: { ModalitiesInStudy: 'SEG' }, expect: ['0'] },
  // Several constraints.
  { name: 'name and date', level: 'study', params: { PatientName: 'doe*', StudyDate: '20200101-' }, expect: ['0', '1'] },
  // Series level.
  { name: 'series modality case-sensitive', level: 'series', params: { Modality: 'CT' }, expect: ['0a', '3b'] },
  { name: 'series modality ?', level: 'series', params: { Modality: 'C?' }, expect: ['0a', '3b', '5a'] },
  { name: 'series number', level: 'series', params: { SeriesNumber: '2' }, expect: ['0b', '3b', '5b', '6b'] },
  { name: 'series description prefix', level: 'series', params: { SeriesDescription: 'ax*' }, expect: ['0a', '3b'] },
  { name: 'series UID list', level: 'series', params: { SeriesInstanceUID: `${seriesUID(1, 1)}\\${seriesUID(0, 0)}` }, expect: ['0a', '1b'] },
  { name: 'series by study name', level: 'series', params: { PatientName: 'doe*' }, expect: ['0a', '0b', '1a', '1b', '2a'] },
  { name: 'series fuzzy name', level: 'series', fuzzy: true, params: { PatientName: 'jane' }, expect: ['1a', '1b'] },
  { name: 'series by modalities in study', level: 'series', params: { ModalitiesInStudy: 'PT' }, expect: ['3a', '3b'] },
  { name: 'series in a study', level: 'series', scope: { study: studyUID(1) }, expect: ['1a', '1b'] },
  { name: 'series performed date', level: 'series', params: { PerformedProcedureStepStartDate: '20200101-20200131' }, expect: ['0a'] },
  { name: 'series performed time', level: 'series', params: { PerformedProcedureStepStartTime: '1016' }, expect: ['0a'] },
  { name: 'series scheduled step', level: 'series', params: { 'RequestAttributesSequence.ScheduledProcedureStepID': 'STEP1*' }, expect: ['1a', '10a', '11a', '12a'] },
  { name: 'series requested procedure _', level: 'series', params: { 'RequestAttributesSequence.RequestedProcedureID': 'RP_1' }, expect: ['1a'] },
  // Instance level.
  { name: 'instance SOP class', level: 'instance', params: { SOPClassUID: SOP_SEG }, expect: ['0b1'] },
  { name: 'instance number', level: 'instance', params: { InstanceNumber: '3' }, expect: ['1b1'] },
  { name: 'instance in a series', level: 'instance', scope: { study: studyUID(1), series: seriesUID(1, 1) }, expect: ['1b1', '1b2', '1b3'] },
  { name: 'instance by study and series keys', level: 'instance', params: { PatientID: 'AB*', Modality: 'CT' }, expect: ['3b1', '3b2'] },
  { name: 'instance UID', level: 'instance', params: { SOPInstanceUID: instanceUID(3, 1, 1) }, expect: ['3b2'] },
  // Extra attributes.
  { name: 'includefield all, study', level: 'study', params: { PatientID: 'PID1' }, includeFields: 'all', expect: ['0'] },
  { name: 'includefield list, instance', level: 'instance', params: { SOPInstanceUID: instanceUID(0, 0, 0) }, includeFields: ['00180050', '7FE00010'], expect: ['0a1'] },
  { name: 'includefield all, series', level: 'series', scope: { study: studyUID(0) }, includeFields: 'all', expect: ['0a', '0b'] },
  // Paging: by id order, `more` when the page is not the last.
  { name: 'page 1', level: 'study', limit: 5, expect: ALL_STUDIES.slice(0, 5), more: true },
  { name: 'page 2', level: 'study', limit: 5, offset: 5, expect: ALL_STUDIES.slice(5, 10), more: true },
  { name: 'page 3', level: 'study', limit: 5, offset: 10, expect: ALL_STUDIES.slice(10) },
  { name: 'page exact end', level: 'study', limit: 13, expect: ALL_STUDIES },
  { name: 'page beyond', level: 'study', offset: 50, expect: [] },
  { name: 'instance page', level: 'instance', params: { Modality: 'MR' }, limit: 2, offset: 1, expect: ['1b1', '1b2'], more: true },
  // Projects.
  { name: 'project p1', level: 'study', projects: ['p1'], expect: ['1', '3', '4'] },
  { name: 'projects p1 or p2', level: 'study', projects: ['p2', 'p1'], expect: ['1', '2', '3', '4'] },
  { name: 'no projects', level: 'study', projects: [], expect: [] },
  { name: 'project and name', level: 'study', projects: ['p2'], params: { PatientName: 'DOE*' }, expect: ['2'] },
  { name: 'project at series level', level: 'series', projects: ['p2'], params: { Modality: 'CT' }, expect: ['3b'] },
  { name: 'project at instance level', level: 'instance', projects: ['p1'], params: { InstanceNumber: '1' }, expect: ['1a1', '1b3', '3a1', '3b1', '4a1'] },
];

const labels = (r: QueryResult) => r.rows.map((row) => labelOf(row.sopInstanceUID ?? row.seriesUID ?? row.studyUID));

/** Each backend's result of each case, compared across backends at the end. */
const resultsByBackend = new Map<string, Map<string, QueryResult>>();

// ---------------------------------------------------------------------------------------------

describe.each(BACKENDS)('Index contract: %s', (backend, open) => {
  let opened: Opened;
  let index: Index;

  beforeAll(async () => {
    opened = await open();
    index = opened.index;
    const outcomes = await index.insertMany(allRecords());
    expect(outcomes.every((o) => o === 'inserted')).toBe(true);
  });
  afterAll(async () => opened?.close());

  describe('search', () => {
    const results = new Map<string, QueryResult>();
    resultsByBackend.set(backend, results);

    test.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
      const r = await index.search(query(c));
      results.set(c.name, r);
      expect(labels(r)).toEqual(c.expect);
      expect(r.more).toBe(c.more ?? false);
    });

    test('results carry counts, modalities and extra fields', async () => {
      const [study] = (await index.search(query({ name: '', level: 'study', params: { PatientID: 'PID1' }, includeFields: ['00180050'], expect: [] }))).rows;
      expect(study.json['00201206']).toEqual({ vr: 'IS', Value: [2] });
      expect(study.json['00201208']).toEqual({ vr: 'IS', Value: [3] });
      expect(study.json['00080061']).toEqual({ vr: 'CS', Value: ['CT', 'SEG'] });
      expect(study.json['00180050']).toEqual({ vr: 'DS', Value: [1.25] });
      const [mixed] = (await index.search(query({ name: '', level: 'study', params: { PatientID: 'pid1' }, expect: [] }))).rows;
      expect(mixed.json['00080061']).toEqual({ vr: 'CS', Value: ['MR'] });
      expect(mixed.json['00201208']).toEqual({ vr: 'IS', Value: [4] });
      const [none] = (await index.search(query({ name: '', level: 'series', params: { SeriesInstanceUID: seriesUID(11, 0) }, expect: [] }))).rows;
      expect(none.json['00080061']).toEqual({ vr: 'CS' });
      expect(none.json['00201209']).toEqual({ vr: 'IS', Value: [1] });
      const [instance] = (await index.search(query({ name: '', level: 'instance', params: { SOPInstanceUID: instanceUID(0, 0, 0) }, includeFields: ['7FE00010'], expect: [] }))).rows;
      expect(instance.json['7FE00010']).toBeUndefined(); // bulk data is never returned by a search
    });
  });

  describe('reads', () => {
    test('instances and metadata in series then instance-number order, unnumbered last', async () => {
      const got = await index.instances({ study: studyUID(1) });
      // Series 1b (number 1) before 1a (no number); in 1b: 1, 3, then the unnumbered one.
      expect(got.map((i) => labelOf(i.sopInstanceUID))).toEqual(['1b3', '1b1', '1b2', '1a1']);
      const docs = await index.metadata({ study: studyUID(1) });
      expect(docs.map((d) => JSON.parse(d)['00080018'].Value[0])).toEqual(got.map((i) => i.sopInstanceUID));
      expect((await index.metadata({ study: studyUID(0), series: seriesUID(0, 0) })).length).toBe(2);
      expect((await index.metadata({ study: studyUID(0), series: seriesUID(0, 0), instance: instanceUID(0, 0, 1) })).length).toBe(1);
    });

    test('a stored instance comes back whole', async () => {
      const r = record(0, 0, 1);
      const got = await index.findInstance(r.sopInstanceUID);
      expect(got).toEqual({
        studyUID: r.studyUID,
        seriesUID: r.seriesUID,
        sopInstanceUID: r.sopInstanceUID,
        sopClassUID: r.sopClassUID,
        transferSyntaxUID: r.transferSyntaxUID,
        blobKey: r.blobKey,
        size: r.size,
        frames: r.frames,
        bulk: r.bulk,
        contentSha256: r.contentSha256,
      });
      expect(await index.findInstance('1.2.3.999')).toBeUndefined();
      expect((await index.instances({ study: r.studyUID, series: r.seriesUID, instance: r.sopInstanceUID }))[0]).toEqual(got);
    });

    test('projects limit every read', async () => {
      const s1 = { study: studyUID(1) }; // project p1
      expect((await index.instances(s1, ['p2'])).length).toBe(0);
      expect((await index.instances(s1, ['p2', 'p1'])).length).toBe(4);
      expect(await index.metadata(s1, [])).toEqual([]);
      expect(await index.metadataStamp(s1, ['p2'])).toBeUndefined();
      expect(await index.metadataStamp(s1, ['p1'])).toBeDefined();
      expect(await index.metadataWithStamp(s1, ['default'])).toEqual({ stamp: undefined, docs: [] });
      expect(await index.exists('study', s1, ['p2'])).toBe(false);
      expect(await index.exists('study', s1, ['p1'])).toBe(true);
      expect(await index.exists('study', s1)).toBe(true);
    });

    test('exists at each level', async () => {
      expect(await index.exists('series', { study: studyUID(0), series: seriesUID(0, 1) })).toBe(true);
      expect(await index.exists('series', { study: studyUID(1), series: seriesUID(0, 1) })).toBe(false);
      expect(await index.exists('instance', { study: studyUID(0), series: seriesUID(0, 1), instance: instanceUID(0, 1, 0) })).toBe(true);
      expect(await index.exists('instance', { study: studyUID(0), series: seriesUID(0, 0), instance: instanceUID(0, 1, 0) })).toBe(false);
      expect(await index.exists('study', { study: '1.2.3.4' })).toBe(false);
    });

    test('projects, patients, counts, fingerprints, blobs', async () => {
      expect(await index.studyProjects(studyUID(3))).toEqual(['p1', 'p2']);
      expect(await index.studyProjects('1.2.3.4')).toEqual([]);
      const patients = await index.studyPatients([studyUID(0), studyUID(11), studyUID(0), '1.2.3.4']);
      expect([...patients.entries()].sort()).toEqual([
        [studyUID(0), 'PID1'],
        [studyUID(11), ''],
      ]);
      expect(await index.counts()).toEqual({ studies: 13, series: 18, instances: allRecords().length });
      expect([...(await index.identifierFingerprints(studyUID(0)))].sort()).toEqual(['fp-0', 'fp-0-0', 'fp-0-1']);
      expect(await index.hasBlob(record(2, 0, 0).blobKey)).toBe(true);
      expect(await index.hasBlob('blobs/none')).toBe(false);
      await expect(index.checkWritable()).resolves.toBeUndefined();
    });
  });

  describe('writes', () => {
    /** A study of its own for each test: s, with series and instance numbers from 100 up. */
    const fresh = (n: number, se = 0, i = 0, over: Partial<InstanceRecord> = {}) => {
      const base = record(0, 0, 0);
      const study = `1.2.826.0.1.3680043.8.${n}`;
      return {
        ...base,
        studyUID: study,
        seriesUID: `${study}.${se}`,
        sopInstanceUID: `${study}.${se}.${i}`,
        blobKey: `blobs/${study}.${se}.${i}`,
        study: { ...base.study, patientName: `Fresh^${n}`, patientID: `F${n}` },
        series: { ...base.series, seriesNumber: se, modality: ['CT', 'MR', 'CT', 'PT'][se % 4] },
        instanceNumber: i,
        projects: ['p9'],
        ...over,
      };
    };

    test('a duplicate is told, and changes nothing', async () => {
      const r = fresh(1);
      expect(await index.insert(r)).toBe('inserted');
      const before = await index.counts();
      expect(await index.insert(r)).toBe('duplicate');
      expect(await index.insert({ ...r, contentSha256: 'f'.repeat(64) })).toBe('duplicate');
      expect(await index.counts()).toEqual(before);
      expect((await index.findInstance(r.sopInstanceUID))?.contentSha256).toBe(r.contentSha256);
    });

    test('a series already under another study is refused', async () => {
      await index.insert(fresh(2));
      const before = await index.counts();
      const stray = fresh(3, 0, 1, { seriesUID: fresh(2).seriesUID });
      await expect(index.insert(stray)).rejects.toMatchObject({ kind: 'refused' });
      expect(await index.counts()).toEqual(before);
      expect(await index.exists('study', { study: stray.studyUID })).toBe(false);
    });

    test('an existing study takes instances only from a source it is open to', async () => {
      await index.insert(fresh(4, 0, 0, { projects: ['p9'], joiner: 'p9' }));
      const other = fresh(4, 0, 1, { projects: ['p8'], joiner: 'p8' });
      const err = await index.insert(other).catch((e) => e);
      expect(err).toBeInstanceOf(VeilgateError);
      expect(err.kind).toBe('forbidden');
      expect(await index.findInstance(other.sopInstanceUID)).toBeUndefined();
      expect(await index.insert(fresh(4, 0, 2, { projects: ['p8'], joiner: 'p9' }))).toBe('inserted');
      expect(await index.insert(fresh(4, 1, 3, { projects: ['p8'], joiner: ALL_PROJECTS }))).toBe('inserted');
      // Projects are those of the first instance: later ones do not add theirs.
      expect(await index.studyProjects(fresh(4).studyUID)).toEqual(['p9']);
    });

    test('insertMany keeps all but the refused, each as insert() would', async () => {
      await index.insert(fresh(5, 0, 0, { projects: ['p9'], joiner: 'p9' }));
      const before = await index.counts();
      const outcomes = await index.insertMany([
        fresh(6, 0, 0),
        fresh(7, 0, 0, { seriesUID: fresh(6).seriesUID }), // the series is under study 6 now
        fresh(6, 0, 0), // a duplicate within the batch
        fresh(5, 0, 1, { joiner: 'p8' }), // not open to p8
        fresh(6, 1, 1),
        fresh(5, 0, 0), // a duplicate of a stored one
      ]);
      expect(outcomes.map((o) => (o instanceof Error ? (o as VeilgateError).kind : o))).toEqual(['inserted', 'refused', 'duplicate', 'forbidden', 'inserted', 'duplicate']);
      expect(await index.counts()).toEqual({ studies: before.studies + 1, series: before.series + 2, instances: before.instances + 2 });
      expect(await index.exists('study', { study: fresh(7).studyUID })).toBe(false);
    });

    test('inserts at once each learn their own outcome, and every stored one is counted', async () => {
      // A study's parts arriving together (STOW-RS ingests a request's parts at once) share
      // transactions on PostgreSQL (insert-groups.ts); each caller must still get its own answer.
      await index.insert(fresh(62, 0, 0, { projects: ['p9'], joiner: 'p9' }));
      const inserts = [
        ...Array.from({ length: 30 }, (_, k) => fresh(61, k % 2, k)),
        fresh(61, 0, 0), // the same instance as the first
        fresh(62, 0, 1, { joiner: 'p8' }), // not open to p8
        fresh(63, 0, 0, { seriesUID: fresh(61).seriesUID }), // series 0 of study 61
        ...Array.from({ length: 5 }, (_, k) => fresh(62, 0, k + 2, { joiner: 'p9' })),
      ].map((r) => index.insert(r).catch((e: VeilgateError) => e.kind));
      const outcomes = await Promise.all(inserts);
      const ofStudy61 = outcomes.slice(0, 31);
      expect(ofStudy61.filter((o) => o === 'inserted')).toHaveLength(30);
      expect(ofStudy61.filter((o) => o === 'duplicate')).toHaveLength(1);
      expect(outcomes.slice(31)).toEqual(['forbidden', 'refused', 'inserted', 'inserted', 'inserted', 'inserted', 'inserted']);
      const count = async (n: number) => {
        const [row] = (await index.search({ level: 'study', scope: { study: fresh(n).studyUID }, constraints: [], includeFields: [], limit: 10, offset: 0 })).rows;
        return [row?.json['00201206']?.Value?.[0], row?.json['00201208']?.Value?.[0]];
      };
      expect(await count(61)).toEqual([2, 30]);
      expect(await count(62)).toEqual([1, 6]);
      expect(await index.exists('study', { study: fresh(63).studyUID })).toBe(false);
    });

    test('counters and the modality list follow every series and instance', async () => {
      const n = 8;
      await index.insertMany([fresh(n, 1, 0), fresh(n, 0, 0), fresh(n, 1, 1), fresh(n, 2, 0), fresh(n, 3, 0)]);
      const [row] = (await index.search({ level: 'study', scope: { study: fresh(n).studyUID }, constraints: [], includeFields: [], limit: 10, offset: 0 })).rows;
      expect(row.json['00201206']).toEqual({ vr: 'IS', Value: [4] });
      expect(row.json['00201208']).toEqual({ vr: 'IS', Value: [5] });
      // In the order their series first came: MR (series 1), CT (series 0), PT (series 3).
      expect(row.json['00080061']).toEqual({ vr: 'CS', Value: ['MR', 'CT', 'PT'] });
      const series = (await index.search({ level: 'series', scope: { study: fresh(n).studyUID }, constraints: [], includeFields: [], limit: 10, offset: 0 })).rows;
      expect(series.map((s) => s.json['00201209'])).toEqual([2, 1, 1, 1].map((v) => ({ vr: 'IS', Value: [v] })));
    });

    test('a metadata stamp changes with every change to its scope, never to an old value', async () => {
      const n = 9;
      const scope = { study: fresh(n).studyUID };
      const seriesScope = { study: scope.study, series: fresh(n, 0).seriesUID };
      expect(await index.metadataStamp(scope)).toBeUndefined();
      expect(await index.metadataStamp({ ...seriesScope, instance: 'x' })).toBeUndefined();
      const stamps: string[] = [];
      for (let i = 0; i < 4; i++) {
        await index.insert(fresh(n, 0, i));
        stamps.push((await index.metadataStamp(scope))!);
      }
      expect(new Set(stamps).size).toBe(4);
      const seriesStamp = await index.metadataStamp(seriesScope);
      await index.insert(fresh(n, 1, 9)); // another series of the study
      expect(await index.metadataStamp(seriesScope)).toBe(seriesStamp);
      const after = await index.metadataStamp(scope);
      expect(stamps).not.toContain(after);
      // A duplicate changes nothing.
      await index.insert(fresh(n, 1, 9));
      expect(await index.metadataStamp(scope)).toBe(after);
      expect(await index.metadataWithStamp(scope)).toEqual({ stamp: after, docs: await index.metadata(scope) });
      expect((await index.metadataWithStamp(seriesScope)).docs.length).toBe(4);
    });

    test('the site secret fingerprint is the first one recorded', async () => {
      expect(await index.siteSecretFingerprint('aaaa')).toBe('aaaa');
      expect(await index.siteSecretFingerprint('bbbb')).toBe('aaaa');
      const second = await opened.second();
      expect(await second.siteSecretFingerprint('cccc')).toBe('aaaa');
    });

    test('two nodes adding instances of the same new study and series at once', async () => {
      const second = await opened.second();
      const n = 10;
      const records = Array.from({ length: 40 }, (_, i) => fresh(n, i % 3, i));
      const outcomes = await Promise.all(records.map((r, i) => (i % 2 ? second : index).insert(r)));
      expect(outcomes.every((o) => o === 'inserted')).toBe(true);
      // The same instances again from both nodes at once: each a duplicate, none an error.
      const again = await Promise.all(records.flatMap((r) => [index.insert(r), second.insert(r)]));
      expect(again.every((o) => o === 'duplicate')).toBe(true);
      const [row] = (await index.search({ level: 'study', scope: { study: fresh(n).studyUID }, constraints: [], includeFields: [], limit: 10, offset: 0 })).rows;
      expect(row.json['00201206']).toEqual({ vr: 'IS', Value: [3] });
      expect(row.json['00201208']).toEqual({ vr: 'IS', Value: [40] });
      // Which node's series came first is a race: either order of the two modalities.
      expect((row.json['00080061'].Value as string[]).sort()).toEqual(['CT', 'MR']);
      expect((await index.instances({ study: fresh(n).studyUID })).length).toBe(40);
    });

    test('two nodes storing the same batches in opposite orders: each instance stored once, no error', async () => {
      const second = await opened.second();
      // Five studies in each batch: one node locks them first to last, the other last to first,
      // so transactions may deadlock; the one PostgreSQL aborts runs again and finds duplicates.
      const batch = Array.from({ length: 5 }, (_, s) => [0, 1].map((i) => fresh(20 + s, 0, i))).flat();
      const [one, other] = await Promise.all([index.insertMany(batch), second.insertMany([...batch].reverse())]);
      const otherInOrder = [...other].reverse();
      batch.forEach((_, n) => expect([one[n], otherInOrder[n]].sort()).toEqual(['duplicate', 'inserted']));
    });
  });


  describe('delete and reject', () => {
    /** A study of its own: series 0 (CT, instances 0 and 1), series 1 (MR, instance 2), patient "Gone^Name<n>". */
    const made = (n: number, se: number, i: number, over: Partial<InstanceRecord> = {}): InstanceRecord => {
      const base = record(0, 0, 0);
      const study = `1.2.826.0.1.3680043.7.${n}`;
      return {
        ...base,
        studyUID: study,
        seriesUID: `${study}.${se}`,
        sopInstanceUID: `${study}.${se}.${i}`,
        blobKey: `blobs/${study}.${se}.${i}`,
        study: { ...base.study, patientName: `Gone^Name${n}`, patientID: `G${n}` },
        series: { ...base.series, seriesNumber: se, modality: se ? 'MR' : 'CT' },
        instanceNumber: i,
        projects: ['p7'],
        ...over,
      };
    };
    const twoSeries = async (n: number) => {
      const records = [made(n, 0, 0), made(n, 0, 1), made(n, 1, 2)];
      expect(await index.insertMany(records)).toEqual(['inserted', 'inserted', 'inserted']);
      return records;
    };
    const studyRow = async (study: string) =>
      (await index.search({ level: 'study', scope: { study }, constraints: [], includeFields: [], limit: 10, offset: 0 })).rows[0];
    const byName = async (name: string, fuzzy = false) => labelsOf(await index.search(query({ name: '', level: 'study', fuzzy, params: { PatientName: name }, expect: [] })));
    const labelsOf = (r: QueryResult) => r.rows.map((row) => row.studyUID);

    test('an instance, then a series, then the study: counters, modalities, stamps and words follow', async () => {
      const [a, b, c] = await twoSeries(40);
      const study = { study: a.studyUID };
      const stamp0 = (await index.metadataStamp(study))!;
      const seriesStamp0 = (await index.metadataStamp({ study: a.studyUID, series: a.seriesUID }))!;
      const gone = await index.remove({ study: a.studyUID, series: a.seriesUID, instance: a.sopInstanceUID });
      expect(gone).toEqual({ instances: [await expectStored(a)], patientID: 'G40', studyRemoved: false });
      expect((await studyRow(a.studyUID)).json['00201208']).toEqual({ vr: 'IS', Value: [2] });
      const stamp1 = (await index.metadataStamp(study))!;
      expect(stamp1).not.toBe(stamp0);
      expect(await index.metadataStamp({ study: a.studyUID, series: a.seriesUID })).not.toBe(seriesStamp0);
      expect(await index.findInstance(a.sopInstanceUID)).toBeUndefined();
      expect(await index.hasBlob(a.blobKey)).toBe(false);

      // Deleting one series of a two-series study: a QIDO shows one series and the right counts.
      const series = await index.remove({ study: b.studyUID, series: b.seriesUID });
      expect(series?.instances.map((i) => i.sopInstanceUID)).toEqual([b.sopInstanceUID]);
      const row = await studyRow(a.studyUID);
      expect(row.json['00201206']).toEqual({ vr: 'IS', Value: [1] });
      expect(row.json['00201208']).toEqual({ vr: 'IS', Value: [1] });
      expect(row.json['00080061']).toEqual({ vr: 'CS', Value: ['MR'] });
      const seriesRows = (await index.search({ level: 'series', scope: study, constraints: [], includeFields: [], limit: 10, offset: 0 })).rows;
      expect(seriesRows.map((r) => r.seriesUID)).toEqual([c.seriesUID]);
      expect(await index.exists('series', { study: a.studyUID, series: a.seriesUID })).toBe(false);
      expect(await index.metadataStamp({ study: a.studyUID, series: a.seriesUID })).toBeUndefined();
      const stamp2 = (await index.metadataStamp(study))!;
      expect([stamp0, stamp1]).not.toContain(stamp2);
      expect(await byName('Gone^Name40')).toEqual([a.studyUID]);

      // The study: every row of it goes, words and projects too; a second time finds nothing.
      const whole = await index.remove(study);
      expect(whole).toMatchObject({ patientID: 'G40', studyRemoved: true });
      expect(whole?.instances.map((i) => i.sopInstanceUID)).toEqual([c.sopInstanceUID]);
      expect(await index.exists('study', study)).toBe(false);
      expect(await index.metadataStamp(study)).toBeUndefined();
      expect(await index.instances(study)).toEqual([]);
      expect(await byName('Gone^Name40')).toEqual([]);
      expect(await byName('name40', true)).toEqual([]);
      expect(await index.studyProjects(a.studyUID)).toEqual([]);
      expect([...(await index.identifierFingerprints(a.studyUID))]).toEqual([]);
      expect(await index.remove(study)).toBeUndefined();
      expect(await index.remove({ study: a.studyUID, series: c.seriesUID })).toBeUndefined();

      // Stored again: a new study, with a stamp never seen before.
      expect(await index.insert(made(40, 0, 0))).toBe('inserted');
      expect([stamp0, stamp1, stamp2]).not.toContain(await index.metadataStamp(study));
      expect(await byName('name40', true)).toEqual([a.studyUID]);
      expect(await index.remove(study)).toMatchObject({ studyRemoved: true });
    });

    const expectStored = async (r: InstanceRecord) => ({
      studyUID: r.studyUID,
      seriesUID: r.seriesUID,
      sopInstanceUID: r.sopInstanceUID,
      sopClassUID: r.sopClassUID,
      transferSyntaxUID: r.transferSyntaxUID,
      blobKey: r.blobKey,
      size: r.size,
      frames: r.frames,
      bulk: r.bulk,
      contentSha256: r.contentSha256,
    });

    test('the last instance of a study takes the study with it; another project cannot delete it', async () => {
      const [a] = await twoSeries(41);
      const before = await index.counts();
      expect(await index.remove({ study: a.studyUID }, ['p1'])).toBeUndefined();
      expect(await index.remove({ study: a.studyUID }, [])).toBeUndefined();
      expect(await index.counts()).toEqual(before);
      const gone = await index.remove({ study: a.studyUID }, ['p7']);
      expect(gone?.instances.length).toBe(3);
      expect(await index.counts()).toEqual({ studies: before.studies - 1, series: before.series - 2, instances: before.instances - 3 });
      // An instance UID under the wrong series is not that scope.
      const [b] = await twoSeries(42);
      expect(await index.remove({ study: b.studyUID, series: `${b.studyUID}.1`, instance: b.sopInstanceUID })).toBeUndefined();
      expect(await index.remove({ study: b.studyUID, series: `${b.studyUID}.1`, instance: `${b.studyUID}.1.2` })).toMatchObject({ studyRemoved: false });
      expect(await index.remove({ study: b.studyUID, series: b.seriesUID })).toMatchObject({ studyRemoved: true });
    });

    test('a rejection hides its instances from every read at once, keeps them until the grace period ends', async () => {
      const [a, b, c] = await twoSeries(43);
      const late = made(43, 0, 5); // arrived after the note was made: not listed, stays
      await index.insert(late);
      const at = 1_700_000_000_000;
      const rejected = await index.reject({ study: a.studyUID, series: a.seriesUID, instances: [a.sopInstanceUID, b.sopInstanceUID, '1.2.3.999'], code: '113001', scheme: 'DCM', at });
      expect(rejected?.instances.map((i) => i.sopInstanceUID)).toEqual([a.sopInstanceUID, b.sopInstanceUID]);
      expect(rejected).toMatchObject({ patientID: 'G43', studyRemoved: false });
      const series = { study: a.studyUID, series: a.seriesUID };
      expect((await index.instances(series)).map((i) => i.sopInstanceUID)).toEqual([late.sopInstanceUID]);
      expect((await index.metadata(series)).length).toBe(1);
      expect(await index.exists('instance', { ...series, instance: a.sopInstanceUID })).toBe(false);
      const found = await index.search({ level: 'instance', scope: { study: a.studyUID }, constraints: [], includeFields: [], limit: 10, offset: 0 });
      expect(found.rows.map((r) => r.sopInstanceUID).sort()).toEqual([late.sopInstanceUID, c.sopInstanceUID].sort());
      expect((await studyRow(a.studyUID)).json['00201208']).toEqual({ vr: 'IS', Value: [2] });
      // Known still (a re-send is a duplicate, never stored over it), its blob still referenced.
      expect(await index.findInstance(a.sopInstanceUID)).toEqual(await expectStored(a));
      expect(await index.hasBlob(a.blobKey)).toBe(true);
      expect(await index.insert(a)).toBe('duplicate');
      // Again: nothing left to reject.
      expect(await index.reject({ study: a.studyUID, series: a.seriesUID, instances: [a.sopInstanceUID], code: '113001', scheme: 'DCM', at })).toBeUndefined();
      // The grace period: nothing before it ends, then the blob keys to delete, once.
      expect(await index.purgeRejected(at - 1)).toEqual([]);
      expect((await index.purgeRejected(at)).sort()).toEqual([a.blobKey, b.blobKey].sort());
      expect(await index.purgeRejected(at)).toEqual([]);
      expect(await index.findInstance(a.sopInstanceUID)).toBeUndefined();
      expect(await index.hasBlob(b.blobKey)).toBe(false);
      // The whole series: it goes from the study's counts and modalities.
      expect(await index.reject({ study: a.studyUID, series: c.seriesUID, instances: [c.sopInstanceUID], code: '113039', scheme: 'DCM', at: at + 1 })).toMatchObject({ studyRemoved: false });
      const row = await studyRow(a.studyUID);
      expect(row.json['00201206']).toEqual({ vr: 'IS', Value: [1] });
      expect(row.json['00080061']).toEqual({ vr: 'CS', Value: ['CT'] });
      expect(await index.purgeRejected(at + 1, 10)).toEqual([c.blobKey]);
      // Another project's principal cannot reject it.
      expect(await index.reject({ study: a.studyUID, series: a.seriesUID, instances: [late.sopInstanceUID], code: '113001', scheme: 'DCM' }, ['p1'])).toBeUndefined();
      expect(await index.remove({ study: a.studyUID })).toMatchObject({ studyRemoved: true });
    });
  });

  describe('API keys', () => {
    test('a key verifies as its principal until revoked; names are unique among live keys', async () => {
      const keys = opened.keys;
      const { key, record } = await keys.add('ci-bot', ['read', 'ingest'], ['p1']);
      expect(key).toMatch(/^vgk_[0-9a-f]{32}_/);
      expect(record).toEqual({ id: expect.any(String), name: 'ci-bot', roles: ['read', 'ingest'], projects: ['p1'], createdAt: expect.any(String) });
      expect(JSON.stringify(await keys.list())).not.toContain('secret');
      const principal = await keys.verify(key);
      expect(principal).toMatchObject({ id: 'ci-bot', via: 'key' });
      expect([...principal!.roles]).toEqual(['read', 'ingest']);
      expect([...principal!.projects]).toEqual(['p1']);
      // A wrong secret for a known id, an unknown id, a malformed key: all the same.
      expect(await keys.verify(key.slice(0, -1) + (key.endsWith('A') ? 'B' : 'A'))).toBeUndefined();
      expect(await keys.verify(`vgk_${'0'.repeat(32)}_${key.slice(-43)}`)).toBeUndefined();
      expect(await keys.verify('vgk_nonsense')).toBeUndefined();
      await expect(keys.add('ci-bot', ['read'], [])).rejects.toThrow(/exists/);
      await expect(keys.add('bad name!', ['read'], [])).rejects.toThrow(/key name/);
      expect(await keys.revoke('ci-bot')).toBe(true);
      expect(await keys.verify(key)).toBeUndefined();
      expect(await keys.revoke('ci-bot')).toBe(false);
      const again = await keys.add('ci-bot', ['read'], []);
      expect(await keys.verify(again.key)).toMatchObject({ id: 'ci-bot' });
      const listed = await keys.list();
      expect(listed.map((k) => k.name)).toEqual([expect.stringMatching(/^ci-bot#revoked-/), 'ci-bot']);
      expect(listed[0].revokedAt).toBeDefined();
      expect(await keys.revoke('nobody')).toBe(false);
    });
  });

  if (backend === 'PostgreSQL') {
    describe('PostgreSQL only', () => {
      test('a person-name prefix search is served by an index, not a scan of studies', async () => {
        const db = new Client(opened.url!);
        await db.connect();
        try {
          // Thousands of studies, few of them DOE (as in a real index), then fresh statistics.
          await db.query(`INSERT INTO studies (study_uid, patient_name, patient_name_key, patient_id, attrs)
            SELECT '2.25.' || n, CASE WHEN n % 500 = 0 THEN 'Doe^' ELSE 'Name' || n || '^' END,
                   CASE WHEN n % 500 = 0 THEN 'DOE^' ELSE 'NAME' || n || '^' END, 'ID' || n, '{}'
            FROM generate_series(1, 20000) n`);
          await db.query(`INSERT INTO person_name_words (attr, word, study_uid)
            SELECT 0, replace(patient_name_key, '^', ' '), study_uid FROM studies WHERE study_uid LIKE '2.25.%'`);
          await db.query('ANALYZE');
        } finally {
          await db.end();
        }
        const pg = index as PostgresIndex;
        const q = query({ name: '', level: 'study', params: { PatientName: 'DOE*' }, expect: [] });
        const plan = (await pg.explainSearch(q)).join('\n');
        expect(plan).toMatch(/(Index Scan using|Index Only Scan using|Bitmap Index Scan on) studies_patient_name_key/);
        expect(plan).not.toMatch(/Seq Scan on studies/);
        expect((await pg.search(q)).rows.length).toBe(43); // 3 of the table, 40 made here
        const fuzzy = (await pg.explainSearch({ ...q, constraints: [parseConstraint(matchKeyByName('PatientName')!, 'doe', true)!] })).join('\n');
        expect(fuzzy).toMatch(/(Index Scan using|Index Only Scan using|Bitmap Index Scan on) person_name_words_pkey/);
      });

      test("a study's instances inserted at once share transactions, and one study's records wait for its commit", async () => {
        const pg = index as PostgresIndex;
        const groups = jest.spyOn(pg, 'insertMany');
        try {
          const study = '1.2.826.0.1.3680043.8.72';
          const base = record(0, 0, 0);
          const records = Array.from({ length: 40 }, (_, i): InstanceRecord => ({
            ...base,
            studyUID: study,
            seriesUID: `${study}.1`,
            sopInstanceUID: `${study}.1.${i}`,
            blobKey: `blobs/${study}.${i}`,
          }));
          expect(await Promise.all(records.map((r) => pg.insert(r)))).toEqual(records.map(() => 'inserted'));
          // The first goes alone at once; the rest queue behind its commit and go in one more.
          expect(groups.mock.calls.map((c) => c[0].length)).toEqual([1, 39]);
        } finally {
          groups.mockRestore();
        }
      });

      test('a record the database cannot take fails alone: the others inserted with it are stored', async () => {
        // PostgreSQL's text holds no NUL (ingest drops it from match keys; this record skips ingest):
        // the error aborts the shared transaction, and each record then goes alone.
        const study = '1.2.826.0.1.3680043.8.71';
        const base = record(0, 0, 0);
        const at = (i: number, over: Partial<InstanceRecord['study']> = {}): InstanceRecord => ({
          ...base,
          studyUID: `${study}.${i}`,
          seriesUID: `${study}.${i}.1`,
          sopInstanceUID: `${study}.${i}.1.1`,
          blobKey: `blobs/${study}.${i}`,
          study: { ...base.study, ...over },
        });
        const outcomes = await index.insertMany([at(1), at(2, { studyDescription: 'A\u0000B' }), at(3)]);
        expect(outcomes[0]).toBe('inserted');
        expect(outcomes[1]).toBeInstanceOf(Error);
        expect(outcomes[2]).toBe('inserted');
        expect(await index.exists('study', { study: `${study}.2` })).toBe(false);
        const alone = await Promise.all([at(4), at(5, { studyDescription: 'C\u0000D' }), at(6)].map((r) => index.insert(r).then(String, () => 'failed')));
        expect(alone).toEqual(['inserted', 'failed', 'inserted']);
      });

      test('nodes starting at once migrate once; a newer schema is refused', async () => {
        const admin = new Client(opened.url!.replace(/\/[^/]+$/, '/postgres'));
        await admin.connect();
        await admin.query('CREATE DATABASE migrate_race');
        await admin.end();
        const url = opened.url!.replace(/\/[^/]+$/, '/migrate_race');
        const nodes = await Promise.all([1, 2, 3].map(() => openPostgres(url, { poolSize: 2 })));
        expect(await nodes[1].index.counts()).toEqual({ studies: 0, series: 0, instances: 0 });
        const db = new PgDatabase(new Pool({ connectionString: url, max: 1 }));
        try {
          expect(await migrate(db)).toEqual([]); // current: nothing to apply
          expect((await db.query('SELECT version FROM schema_version')).rows).toEqual([{ version: postgresMigrations().at(-1)!.version }]);
          await db.query('UPDATE schema_version SET version = 99');
        } finally {
          await db.close();
        }
        for (const n of nodes) await n.close();
        await expect(openPostgres(url)).rejects.toThrow(`version 99, newer than this gateway knows (${postgresMigrations().at(-1)!.version})`);
      });

      test('an unreachable or stopped database is out of resources, and no password is told', async () => {
        const password = 'sekret-pw-' + Date.now();
        const err = await openPostgres('postgres://veilgate@127.0.0.1:1/veilgate', { password }).catch((e) => e);
        expect(err).toBeInstanceOf(VeilgateError);
        expect(err.kind).toBe('out-of-resources');
        expect(String(err.message) + String(err.stack)).not.toContain(password);
        // A server that goes away under a running node.
        const other = await startPostgres();
        const node = await openPostgres(other.url, { poolSize: 2 });
        expect(await node.index.insert(record(0, 0, 0))).toBe('inserted');
        await other.stop();
        for (const call of [() => node.index.insert(record(0, 0, 1)), () => node.index.checkWritable(), () => node.jobs.claimNext('n', 1000), () => node.keys.verify(`vgk_${'a'.repeat(32)}_${'b'.repeat(43)}`)]) {
          const e = await call().catch((x) => x);
          expect(e).toMatchObject({ kind: 'out-of-resources' });
        }
        await node.close();
      });

      test('INDEX_URL: parsed, never with a password, printed redacted', () => {
        expect(parsePostgresUrl('postgres://vg@db.example:6432/veil')).toEqual({ host: 'db.example', port: 6432, user: 'vg', database: 'veil', ssl: false });
        expect(parsePostgresUrl('postgresql://vg@[::1]/veil?sslmode=verify-full')).toEqual({ host: '::1', port: 5432, user: 'vg', database: 'veil', ssl: true });
        const withPassword = 'postgres://vg:hunter2@db/veil';
        expect(() => parsePostgresUrl(withPassword)).toThrow(/must not hold the password/);
        expect(() => parsePostgresUrl(withPassword)).not.toThrow(/hunter2/);
        expect(redactedIndexUrl(withPassword)).toBe('postgres://vg:***@db/veil');
        expect(() => parsePostgresUrl('postgres://db/veil')).toThrow(/names no user/);
        expect(() => parsePostgresUrl('postgres://vg@db/')).toThrow(/names no database/);
        expect(() => parsePostgresUrl('postgres://vg@db/veil?sslmode=prefer')).toThrow(/unknown option/);
        expect(() => parsePostgresUrl('mysql://vg@db/veil')).toThrow(/not a postgres/);
      });

      test('every value is a parameter, never part of the statement', async () => {
        const { compileSearch } = await import('../../src/index/postgres/search');
        const nasty = "x'); DROP TABLE studies; --";
        const compiled = compileSearch(query({ name: '', level: 'instance', params: { PatientID: nasty + '*', StudyInstanceUID: '1.2.3' }, projects: [nasty], expect: [] }))!;
        expect(compiled.text).not.toContain('DROP');
        expect(compiled.text).not.toContain('1.2.3');
        expect(compiled.values).toContainEqual(['1.2.3']);
      });
    });
  }
});

describe('Index contract: SQLite and PostgreSQL agree', () => {
  test.each(CASES.map((c) => [c.name] as const))('%s: the same rows', (name) => {
    const sqlite = resultsByBackend.get('SQLite')?.get(name);
    const postgres = resultsByBackend.get('PostgreSQL')?.get(name);
    expect(sqlite).toBeDefined();
    expect(postgres).toEqual(sqlite);
  });
});
