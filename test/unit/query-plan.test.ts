/**
 * Searches at scale (src/index/sqlite-search.ts, db/sqlite/004): every bench query shape, at every
 * level, with and without project filters, is served by indexes (EXPLAIN QUERY PLAN), and every
 * search returns exactly what the searches before version 4 returned (their SQL is kept below as
 * the reference), whichever index drives it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { SqliteIndex } from '../../src/index/sqlite-index';
import { InstanceRecord } from '../../src/index/index';
import { migrate, sqliteMigrations } from '../../src/index/sqlite-migrations';
import { PROBE_CAP, SQLITE_COLUMN, pageQuery, planSearch, queryTerms } from '../../src/index/sqlite-search';
import { personNameWords, prefixEnd } from '../../src/query/patterns';
import { compileConstraint } from '../../src/index/sqlite-constraints';
import { buildResult } from '../../src/query/results';
import { Level } from '../../src/query/attributes';
import { Query } from '../../src/query/query';
import { parseQido } from '../../src/dicomweb/qido-params';

// ---------------------------------------------------------------------------------------------
// The searches of schema version 3, verbatim but for the connection: the reference.

function referenceSearch(db: Database.Database, q: Query) {
  const projectClause = (column: string, projects: readonly string[] | undefined) => {
    if (projects === undefined) return undefined;
    if (projects.length === 0) return { sql: '0', params: [] as string[] };
    return { sql: `${column} IN (SELECT study_uid FROM study_projects WHERE project IN (${projects.map(() => '?').join(', ')}))`, params: [...projects] };
  };
  const where: string[] = [];
  const params: (string | number)[] = [];
  if (q.scope.study) {
    where.push(q.level === 'study' ? 's.study_uid = ?' : q.level === 'series' ? 'se.study_uid = ?' : 'i.study_uid = ?');
    params.push(q.scope.study);
  }
  if (q.scope.series) {
    where.push('i.series_uid = ?');
    params.push(q.scope.series);
  }
  const visible = projectClause(q.level === 'study' ? 's.study_uid' : q.level === 'series' ? 'se.study_uid' : 'i.study_uid', q.projects);
  if (visible) {
    where.push(visible.sql);
    params.push(...visible.params);
  }
  for (const c of q.constraints) {
    const f = compileConstraint(c, SQLITE_COLUMN[c.key.keyword]);
    where.push(f.sql);
    params.push(...f.params);
  }
  const wantsExtras = q.includeFields === 'all' || q.includeFields.length > 0;
  const unscoped = !q.scope.study;
  let select: string;
  let from: string;
  let order: string;
  if (q.level === 'study') {
    select = 's.attrs AS studyAttrs, s.modalities, s.num_series AS studySeriesCount, s.num_instances AS studyInstanceCount, s.study_uid AS studyUID';
    if (wantsExtras) select += ', (SELECT metadata FROM instances WHERE study_uid = s.study_uid ORDER BY id LIMIT 1) AS metadata';
    from = 'studies s';
    order = 'ORDER BY s.id';
  } else if (q.level === 'series') {
    select = 'se.attrs AS seriesAttrs, se.num_instances AS seriesInstanceCount, se.study_uid AS studyUID, se.series_uid AS seriesUID';
    if (unscoped) select += ', s.attrs AS studyAttrs, s.modalities, s.num_series AS studySeriesCount, s.num_instances AS studyInstanceCount';
    if (wantsExtras) select += ', (SELECT metadata FROM instances WHERE series_uid = se.series_uid ORDER BY id LIMIT 1) AS metadata';
    from = 'series se JOIN studies s ON s.study_uid = se.study_uid';
    order = 'ORDER BY se.id';
  } else {
    select = 'i.attrs AS instanceAttrs, i.study_uid AS studyUID, i.series_uid AS seriesUID, i.sop_instance_uid AS sopInstanceUID';
    if (!q.scope.series) select += ', se.attrs AS seriesAttrs, se.num_instances AS seriesInstanceCount';
    if (unscoped) select += ', s.attrs AS studyAttrs, s.modalities, s.num_series AS studySeriesCount, s.num_instances AS studyInstanceCount';
    if (wantsExtras) select += ', i.metadata AS metadata';
    from = 'instances i JOIN series se ON se.series_uid = i.series_uid JOIN studies s ON s.study_uid = i.study_uid';
    order = 'ORDER BY i.id';
  }
  const sql = `SELECT ${select} FROM ${from} ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ${order} LIMIT ? OFFSET ?`;
  const rows = db.prepare(sql).all(...params, q.limit + 1, q.offset) as Record<string, string | number | undefined>[];
  return {
    more: rows.length > q.limit,
    rows: rows.slice(0, q.limit).map((r) => ({
      json: buildResult({ level: q.level, ...(r as object) }, q.includeFields),
      studyUID: r.studyUID as string,
      seriesUID: r.seriesUID as string | undefined,
      sopInstanceUID: r.sopInstanceUID as string | undefined,
    })),
  };
}

// ---------------------------------------------------------------------------------------------
// A small index with awkward values

/** A deterministic pseudo-random sequence (mulberry32). */
function rng(seed: number) {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NAMES = [
  'Doe^John', 'doe^jane', 'DOE^J', "O'Brien^Pat", 'Müller^Jürgen', 'MÜLLER^JÜRGEN', 'müller^anna', 'Smith^Anne^Marie',
  'Yamada^Tarou=山田^太郎=やまだ^たろう', 'Li Wei^', 'de la Cruz^Maria', 'A_B%C\\D^X', '[bracket]^name', 'Zed', 'zed^', '^Given', 'VG-5KEW', 'VG-5XYZ', 'vg-6abc', null,
];
const IDS = ['PID1', 'pid1', 'PID12', 'AB[1]C', 'A*B', 'X?Y', 'XzY', 'VG-5KEW', null];
const MODALITIES = ['CT', 'MR', 'ct', 'SEG', 'PT', 'OT', 'CR', 'MT', 'C', 'X', null];
const SOP_CLASSES = ['1.2.840.10008.5.1.4.1.1.2', '1.2.840.10008.5.1.4.1.1.4', '1.2.840.10008.5.1.4.1.1.66.4'];
const PROJECT_SETS = [['default'], ['p1'], ['p2'], ['p1', 'p2'], ['default', 'p1']];

const attrs = (o: Record<string, unknown>) => JSON.stringify(Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null && v !== undefined).map(([t, v]) => [t, { vr: 'LO', Value: [v] }])));

function records(count: number): InstanceRecord[] {
  const r = rng(42);
  const pick = <T>(list: T[]) => list[Math.floor(r() * list.length)];
  const out: InstanceRecord[] = [];
  let uid = 1000;
  for (let s = 0; s < count; s++) {
    const studyUID = `1.2.826.0.1.${uid++}`;
    const patientName = pick(NAMES);
    const patientID = pick(IDS);
    const studyDate = r() < 0.1 ? null : `20${10 + Math.floor(r() * 15)}${String(1 + Math.floor(r() * 12)).padStart(2, '0')}${String(1 + Math.floor(r() * 28)).padStart(2, '0')}`;
    const studyTime = r() < 0.2 ? null : `${String(Math.floor(r() * 24)).padStart(2, '0')}${String(Math.floor(r() * 60)).padStart(2, '0')}00000000`;
    const study = {
      patientName, patientID, patientBirthDate: r() < 0.5 ? '19700101' : null, patientSex: pick(['M', 'F', 'O', null]), studyDate, studyTime,
      accessionNumber: r() < 0.3 ? null : `ACC${Math.floor(r() * 50)}`, studyID: pick(['S1', 'S2', null]),
      referringPhysicianName: pick(['Ref^Rita', 'ref^robert', 'Jones^Rita', null]), studyDescription: pick(['Chest CT', 'Brain MR', 'chest ct', null]),
      attributesJson: attrs({ '00100010': patientName, '00100020': patientID, '0020000D': studyUID }),
    };
    const projects = pick(PROJECT_SETS);
    const seriesCount = 1 + Math.floor(r() * 3);
    for (let se = 0; se < seriesCount; se++) {
      const seriesUID = `1.2.826.0.1.${uid++}`;
      const modality = pick(MODALITIES);
      const series = {
        modality, seriesNumber: r() < 0.1 ? null : se + 1, seriesDescription: pick(['Axial', 'axial 2', 'Sag', null]),
        performedStartDate: studyDate, performedStartTime: studyTime, scheduledStepID: pick(['SPS1', 'SPS2', null]), requestedProcedureID: pick(['RP1', null]),
        attributesJson: attrs({ '00080060': modality, '0020000E': seriesUID }),
      };
      const instanceCount = 1 + Math.floor(r() * 4);
      for (let i = 0; i < instanceCount; i++) {
        const sopInstanceUID = `1.2.826.0.1.${uid++}`;
        out.push({
          studyUID, seriesUID, sopInstanceUID, sopClassUID: pick(SOP_CLASSES), transferSyntaxUID: '1.2.840.10008.1.2.1', instanceNumber: r() < 0.1 ? null : i + 1,
          blobKey: `${studyUID}/${seriesUID}/${sopInstanceUID}.dcm`, size: 1000, bulk: {},
          metadataJson: attrs({ '00080018': sopInstanceUID, '00081030': study.studyDescription, '0008103E': series.seriesDescription, '00100010': patientName }),
          study, series, instanceAttributesJson: attrs({ '00080018': sopInstanceUID }), projects, joiner: '*',
        });
      }
    }
  }
  // Instances arrive interleaved across studies, as they do from several senders.
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    if (out[i].studyUID !== out[j].studyUID && r() < 0.3) [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

const limits = { defaultLimit: 1000, maxLimit: 10000 };
const query = (level: Level, params: Record<string, string>, scope: Query['scope'] = {}, projects?: string[]): Query => {
  const q = parseQido(level, scope, params, limits).query;
  return projects === undefined ? q : { ...q, projects };
};

/** Values every level may match on (study-level keys), then per level. */
const STUDY_KEYS: Record<string, string>[] = [
  {}, { limit: '5' }, { limit: '5', offset: '7' }, { limit: '3', offset: '1000' },
  { PatientName: 'doe*' }, { PatientName: 'DOE^J*' }, { PatientName: 'doe^john' }, { PatientName: 'Doe^John' }, { PatientName: 'müller*' },
  { PatientName: 'MÜLLER*' }, { PatientName: 'm?ller*' }, { PatientName: '*an*' }, { PatientName: '*' }, { PatientName: '' }, { PatientName: 'Yamada*' },
  { PatientName: '*=山田*' }, { PatientName: 'a_b%c\\d*' }, { PatientName: 'A?B?C*' }, { PatientName: 'zed' }, { PatientName: '[bracket]*' }, { PatientName: 'vg-5*', limit: '2' },
  { PatientName: 'name5*' }, { PatientName: '^*' }, { PatientName: "o'brien*" },
  { PatientName: 'john', fuzzymatching: 'true' }, { PatientName: 'jo*', fuzzymatching: 'true' }, { PatientName: 'anne', fuzzymatching: 'true' },
  { PatientName: 'marie', fuzzymatching: 'true' }, { PatientName: 'cruz', fuzzymatching: 'true' }, { PatientName: 'la', fuzzymatching: 'true' },
  { PatientName: '太郎', fuzzymatching: 'true' }, { PatientName: '*ar*', fuzzymatching: 'true' }, { PatientName: 'j?hn', fuzzymatching: 'true' },
  { PatientName: 'doe^j', fuzzymatching: 'true' }, { PatientName: 'wei', fuzzymatching: 'true' }, { PatientName: 'JÜRGEN', fuzzymatching: 'true' },
  { ReferringPhysicianName: 'rita', fuzzymatching: 'true' }, { ReferringPhysicianName: 'ref*' }, { ReferringPhysicianName: 'REF^RITA' },
  { PatientID: 'PID1' }, { PatientID: 'pid*' }, { PatientID: 'PID*' }, { PatientID: 'AB[1]*' }, { PatientID: 'A*' }, { PatientID: '*1' }, { PatientID: 'X?Y' },
  { StudyDate: '20200101-20201231' }, { StudyDate: '-20150101' }, { StudyDate: '20210101-' }, { StudyDate: '20200315' }, { StudyDate: '19000101-', limit: '4' },
  { StudyTime: '10' }, { StudyTime: '1000-1200' }, { AccessionNumber: 'ACC1*' }, { AccessionNumber: 'ACC12' },
  { ModalitiesInStudy: 'CT' }, { ModalitiesInStudy: 'ct' }, { ModalitiesInStudy: 'CT,MR' }, { ModalitiesInStudy: 'C*' }, { ModalitiesInStudy: 'C*T' },
  { ModalitiesInStudy: 'C??' }, { ModalitiesInStudy: '*T' }, { ModalitiesInStudy: 'SEG\\PT' }, { ModalitiesInStudy: 'C' }, { ModalitiesInStudy: 'XX' },
  { PatientSex: 'F' }, { PatientBirthDate: '19700101' }, { StudyID: 'S1' }, { StudyDescription: 'Chest*' }, { StudyDescription: '*ct' },
  { PatientName: 'doe*', StudyDate: '20150101-' }, { PatientID: 'PID*', ModalitiesInStudy: 'CT', limit: '4' }, { PatientSex: 'M', StudyDescription: 'Brain MR' },
];
const SERIES_KEYS: Record<string, string>[] = [
  { Modality: 'CT' }, { Modality: 'C*' }, { Modality: 'ct' }, { SeriesNumber: '1' }, { SeriesDescription: 'Ax*' }, { SeriesDescription: '*x*' },
  { PerformedProcedureStepStartDate: '20200101-' }, { PerformedProcedureStepStartTime: '10-12' },
  { 'RequestAttributesSequence.ScheduledProcedureStepID': 'SPS1' }, { 'RequestAttributesSequence.RequestedProcedureID': 'RP*' },
  { Modality: 'MR', PatientName: 'doe*' }, { Modality: 'CT', StudyDate: '20200101-20221231', limit: '3', offset: '2' },
];
const INSTANCE_KEYS: Record<string, string>[] = [
  { SOPClassUID: `${SOP_CLASSES[0]},${SOP_CLASSES[2]}` }, { InstanceNumber: '2' }, { InstanceNumber: '2', Modality: 'CT' }, { SOPClassUID: SOP_CLASSES[1], PatientName: 'm*' },
];

describe('searches at scale', () => {
  let dir: string;
  let index: SqliteIndex;
  let db: Database.Database;
  let stored: InstanceRecord[];

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'veilgate-plan-'));
    index = new SqliteIndex(dir);
    stored = records(400);
    const outcomes = await index.insertMany(stored.slice(0, 600));
    for (const r of stored.slice(600)) outcomes.push(await index.insert(r));
    expect(outcomes.every((o) => o === 'inserted')).toBe(true);
    db = new Database(path.join(dir, 'index.sqlite'), { readonly: true });
  });

  afterAll(async () => {
    db.close();
    await index.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const uidsOf = (level: Level, rows: { studyUID: string; seriesUID?: string; sopInstanceUID?: string }[]) =>
    rows.map((r) => (level === 'study' ? r.studyUID : level === 'series' ? r.seriesUID : r.sopInstanceUID));

  function shapes(): { level: Level; params: Record<string, string>; scope: Query['scope'] }[] {
    const some = stored[17];
    const out: { level: Level; params: Record<string, string>; scope: Query['scope'] }[] = [];
    for (const p of STUDY_KEYS) for (const level of ['study', 'series', 'instance'] as Level[]) out.push({ level, params: p, scope: {} });
    for (const p of [...STUDY_KEYS.slice(0, 12), ...SERIES_KEYS]) out.push({ level: 'series', params: p, scope: {} }, { level: 'instance', params: p, scope: {} });
    for (const p of [...SERIES_KEYS.slice(0, 6), ...INSTANCE_KEYS]) out.push({ level: 'instance', params: p, scope: {} }, { level: 'instance', params: p, scope: { study: some.studyUID } });
    for (const p of [{}, { Modality: 'CT' }, { limit: '1' }]) out.push({ level: 'series', params: p, scope: { study: some.studyUID } });
    for (const p of [{}, { InstanceNumber: '1' }, { limit: '1', offset: '1' }]) out.push({ level: 'instance', params: p, scope: { study: some.studyUID, series: some.seriesUID } });
    out.push({ level: 'study', params: { StudyInstanceUID: `${some.studyUID},${stored[5].studyUID},1.2.3` }, scope: {} });
    out.push({ level: 'series', params: { SeriesInstanceUID: some.seriesUID }, scope: {} });
    out.push({ level: 'instance', params: { SOPInstanceUID: `${some.sopInstanceUID},${stored[9].sopInstanceUID}` }, scope: {} });
    out.push({ level: 'study', params: { PatientName: 'doe*', includefield: 'all' }, scope: {} });
    out.push({ level: 'series', params: { Modality: 'CT', includefield: '00081030' }, scope: {} });
    return out;
  }

  test('every search returns what the searches before version 4 returned, with and without projects', async () => {
    let compared = 0;
    let nonEmpty = 0;
    for (const { level, params, scope } of shapes()) {
      for (const projects of [undefined, [], ['p1'], ['p1', 'p2'], ['nobody']]) {
        const q = query(level, params, scope, projects);
        const expected = referenceSearch(db, q);
        const actual = await index.search(q);
        expect({ level, params, scope, projects, ...actual }).toEqual({ level, params, scope, projects, ...expected });
        compared++;
        if (expected.rows.length) nonEmpty++;
      }
    }
    expect(compared).toBeGreaterThan(1400);
    expect(nonEmpty).toBeGreaterThan(compared / 3);
  }, 240_000);

  test('whichever term drives, and in id order, the page is the same', () => {
    const stmt = (sql: string) => db.prepare(sql);
    let plans = 0;
    for (const { level, params, scope } of shapes()) {
      for (const projects of [undefined, ['p1', 'p2']]) {
        const q = query(level, params, scope, projects);
        const expected = uidsOf(level, referenceSearch(db, q).rows);
        const terms = queryTerms(q)!;
        const drivers: (number | 'sqlite' | 'id-order')[] = ['id-order', 'sqlite', ...terms.map((t, n) => (t.unindexed && !t.scan ? undefined : n)).filter((n): n is number => n !== undefined)];
        for (const d of drivers) {
          const page = pageQuery(q, terms, d);
          const ids = stmt(page.sql).pluck().all(...page.params, q.limit + 1, q.offset) as number[];
          const table = level === 'study' ? 'studies' : level;
          const uidColumn = level === 'study' ? 'study_uid' : level === 'series' ? 'series_uid' : 'sop_instance_uid';
          const uids = ids.slice(0, q.limit).map((id) => stmt(`SELECT ${uidColumn} FROM ${table === 'instance' ? 'instances' : table} WHERE id = ?`).pluck().get(id));
          expect({ params, scope, projects, d, uids }).toEqual({ params, scope, projects, d, uids: expected });
          plans++;
        }
      }
    }
    expect(plans).toBeGreaterThan(1000);
  }, 240_000);

  test('a broad condition (every probe at the cap) reads in id order, and still matches the same', async () => {
    const stmt = (sql: string) => db.prepare(sql);
    for (const params of [{ StudyDate: '19000101-', limit: '4' }, { PatientName: 'd*', limit: '3' }, { ModalitiesInStudy: 'C*', limit: '3' }]) {
      for (const level of ['study', 'series', 'instance'] as Level[]) {
        const q = query(level, params);
        const planned = planSearch(stmt, q, 5)!;
        expect(planned.plan).toBe('id-order');
        // Walked by the level's narrow id index (the walk stops when the page is full).
        const steps = (stmt(`EXPLAIN QUERY PLAN ${planned.sql}`).all(...planned.params) as { detail: string }[]).map((r) => r.detail);
        expect(steps).toContainEqual(expect.stringMatching(new RegExp(`^SCAN ${level === 'study' ? 's' : level === 'series' ? 'se' : 'i'} USING (COVERING )?INDEX ${level === 'study' ? 'studies' : level === 'series' ? 'series' : 'instances'}_by_id`)));
        for (const step of steps.filter((x) => /^(SCAN|SEARCH) (s|se|i)\b/.test(x))) expect(step).toMatch(/ USING (COVERING )?INDEX | USING INTEGER PRIMARY KEY /);
        const rows = stmt(planned.sql).all(...planned.params) as { studyUID: string; seriesUID?: string; sopInstanceUID?: string }[];
        expect(uidsOf(level, rows.slice(0, q.limit))).toEqual(uidsOf(level, referenceSearch(db, q).rows));
      }
    }
  });

  /** The bench's query shapes (bench/core.ts), at every level. */
  function benchShapes(): { name: string; level: Level; params: Record<string, string>; scope: Query['scope'] }[] {
    const some = stored[3];
    const base: Record<string, Record<string, string>> = {
      'limit=25': { limit: '25' },
      'PatientID=x': { PatientID: 'PID1' },
      'PatientName=prefix*&limit=25': { PatientName: 'vg-5*', limit: '25' },
      'PatientName=name5*&limit=25': { PatientName: 'name5*', limit: '25' },
      'StudyDate=range&limit=100': { StudyDate: '20200101-20200131', limit: '100' },
      'PatientName fuzzy': { PatientName: 'anne', fuzzymatching: 'true', limit: '25' },
      'ModalitiesInStudy=MR': { ModalitiesInStudy: 'MR', limit: '25' },
      'limit=25&offset=200': { limit: '25', offset: '200' },
    };
    const out: { name: string; level: Level; params: Record<string, string>; scope: Query['scope'] }[] = [];
    for (const [name, params] of Object.entries(base)) for (const level of ['study', 'series', 'instance'] as Level[]) out.push({ name, level, params, scope: {} });
    out.push({ name: 'series of a study', level: 'series', params: {}, scope: { study: some.studyUID } });
    out.push({ name: 'instances of a study', level: 'instance', params: { limit: '25' }, scope: { study: some.studyUID } });
    out.push({ name: 'instances of a series', level: 'instance', params: {}, scope: { study: some.studyUID, series: some.seriesUID } });
    out.push({ name: 'Modality at the series level', level: 'series', params: { Modality: 'MR', limit: '25' }, scope: {} });
    out.push({ name: 'SOPClassUID at the instance level', level: 'instance', params: { SOPClassUID: SOP_CLASSES[2], limit: '25' }, scope: {} });
    return out;
  }

  test('EXPLAIN QUERY PLAN: every bench shape, at every level, with and without projects, reads indexes only', () => {
    const main = /^(SCAN|SEARCH) (s|se|i|studies|series|instances)\b/;
    for (const { name, level, params, scope } of benchShapes()) {
      for (const projects of [undefined, ['default'], ['p1', 'p2']]) {
        const explained = index.explainSearch(query(level, params, scope, projects))!;
        const context = { name, level, projects, plan: explained.plan, steps: explained.steps };
        const tableSteps = explained.steps.filter((s) => main.test(s));
        expect({ ...context, tableSteps: tableSteps.length > 0 }).toEqual({ ...context, tableSteps: true });
        for (const step of tableSteps) {
          // A main table is only ever searched by an index or its integer key, or scanned by a (covering) index.
          expect({ ...context, step, indexed: / USING (COVERING )?INDEX | USING INTEGER PRIMARY KEY | USING PRIMARY KEY /.test(step) }).toEqual({ ...context, step, indexed: true });
        }
        // Conditions drive the search from their index; only the unconditioned shapes read in id order.
        const conditioned = Object.keys(params).some((k) => !['limit', 'offset', 'fuzzymatching'].includes(k));
        if (conditioned) expect({ ...context, idOrder: explained.plan === 'id-order' }).toEqual({ ...context, idOrder: false });
      }
    }
  });

  test('the bench shapes drive from the index of their condition', () => {
    const expectDriver = (level: Level, params: Record<string, string>, index_: string) =>
      expect(index.explainSearch(query(level, params))!.steps.join('\n')).toContain(index_);
    for (const level of ['study', 'series', 'instance'] as Level[]) {
      expectDriver(level, { PatientName: 'vg-5*' }, 'studies_patient_name_key (patient_name_key>? AND patient_name_key<?)');
      expectDriver(level, { PatientID: 'PID1' }, 'studies_patient_id (patient_id=?)');
      expectDriver(level, { StudyDate: '20200101-20200131' }, 'studies_study_date (study_date>? AND study_date<?)');
      expectDriver(level, { PatientName: 'anne', fuzzymatching: 'true' }, 'SEARCH w USING PRIMARY KEY (attr=? AND word>? AND word<?)');
    }
  });

  test('the probe cap is what the bench assumes', () => {
    expect(PROBE_CAP).toBe(10_000);
  });
});

describe('normalised matching keys', () => {
  test('prefix ranges end just past every string with the prefix', () => {
    expect(prefixEnd('DOE')).toBe('DOF');
    expect(prefixEnd('A\u{10FFFF}')).toBe('B');
    expect(prefixEnd('\u{10FFFF}')).toBeUndefined();
    expect(prefixEnd('Z\uD7FF')).toBe('Z\uE000');
    expect(prefixEnd('MÜ')).toBe('MÝ');
  });

  test('person-name words: every word start, uppercased as SQLite does (ASCII only)', () => {
    expect(personNameWords('Smith^Anne^Marie')).toEqual(['SMITH ANNE MARIE', 'ANNE MARIE', 'MARIE']);
    expect(personNameWords('müller^jürgen')).toEqual(['MüLLER JüRGEN', 'JüRGEN']);
    expect(personNameWords('Li  Wei^')).toEqual(['LI  WEI ', ' WEI ', 'WEI ', '']);
    expect(personNameWords(null)).toEqual([]);
  });

  test('migration 004 back-fills an index of version 3: keys, words, projects by id, searches as before', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'veilgate-migrate-'));
    try {
      const file = path.join(dir, 'index.sqlite');
      const old = new Database(file);
      migrate(old, sqliteMigrations().filter((m) => m.version <= 3));
      expect(old.pragma('user_version', { simple: true })).toBe(3);
      const names = ['Smith^Anne^Marie', 'müller^jürgen', 'Li  Wei^', 'Yamada^Tarou=山田^太郎', null];
      names.forEach((name, n) => {
        old.prepare("INSERT INTO studies (study_uid, patient_name, referring_physician_name, study_date, attrs, modalities) VALUES (?, ?, ?, '20200101', '{}', 'CT')").run(`1.2.${n}`, name, n % 2 ? 'Ref^Rita' : null);
        old.prepare("INSERT INTO series (series_uid, study_uid, modality, attrs) VALUES (?, ?, 'CT', '{}')").run(`1.3.${n}`, `1.2.${n}`);
        old.prepare("INSERT INTO instances (sop_instance_uid, series_uid, study_uid, sop_class_uid, transfer_syntax_uid, blob_key, size, bulk, metadata, attrs, stored_at) VALUES (?, ?, ?, '1.2.840.10008.5.1.4.1.1.2', '1.2.840.10008.1.2.1', ?, 1, '{}', '{}', '{}', '')").run(`1.4.${n}`, `1.3.${n}`, `1.2.${n}`, `k${n}`);
        old.prepare('INSERT INTO study_projects (study_uid, project) VALUES (?, ?)').run(`1.2.${n}`, n % 2 ? 'p1' : 'default');
      });
      old.close();

      const index = new SqliteIndex(dir);
      const db = new Database(file, { readonly: true });
      try {
        expect(db.pragma('user_version', { simple: true })).toBeGreaterThanOrEqual(4);
        const studies = db.prepare('SELECT id, patient_name, patient_name_key, referring_physician_name_key FROM studies ORDER BY id').all() as { id: number; patient_name: string | null; patient_name_key: string | null; referring_physician_name_key: string | null }[];
        for (const s of studies) {
          expect(s.patient_name_key).toBe(s.patient_name === null ? null : db.prepare('SELECT upper(?)').pluck().get(s.patient_name));
          const words = (db.prepare('SELECT word FROM person_name_words WHERE attr = 0 AND study_id = ? ORDER BY word').pluck().all(s.id) as string[]);
          expect(words).toEqual(personNameWords(s.patient_name).sort());
        }
        expect(studies[1].referring_physician_name_key).toBe('REF^RITA');
        expect(db.prepare('SELECT count(*) FROM study_project_ids').pluck().get()).toBe(5);
        expect(db.prepare('SELECT count(*) FROM series WHERE metadata_version = 0').pluck().get()).toBe(5);
        for (const params of [{ PatientName: 'smith*' }, { PatientName: 'anne', fuzzymatching: 'true' }, { PatientName: 'MüLLER*' }, { ModalitiesInStudy: 'ct' }, {}]) {
          for (const projects of [undefined, ['p1']]) {
            const q = query('study', params, {}, projects);
            expect(await index.search(q)).toEqual(referenceSearch(db, q));
          }
        }
      } finally {
        db.close();
        await index.close();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('every change to a series gives it and its study a new metadata version, never an old one', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'veilgate-stamp-'));
    const index = new SqliteIndex(dir);
    try {
      const [a, b] = records(2);
      await index.insert(a);
      const scope = { study: a.studyUID, series: a.seriesUID };
      const first = await index.metadataStamp(scope);
      const firstStudy = await index.metadataStamp({ study: a.studyUID });
      expect(first).toBeDefined();
      expect(await index.metadataStamp(scope, ['nobody'])).toBeUndefined();
      expect(await index.metadataStamp(scope, a.projects)).toBe(first);
      await index.insert({ ...b, studyUID: a.studyUID, seriesUID: a.seriesUID, study: a.study, series: a.series, projects: a.projects });
      const second = await index.metadataStamp(scope);
      expect(second).not.toBe(first);
      expect(await index.metadataStamp({ study: a.studyUID })).not.toBe(firstStudy);
      const read = await index.metadataWithStamp(scope);
      expect(read).toEqual({ stamp: second, docs: await index.metadata(scope) });
      expect(read.docs).toHaveLength(2);
      expect(await index.metadataStamp({ study: a.studyUID, series: '1.2.999' })).toBeUndefined();
    } finally {
      await index.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
