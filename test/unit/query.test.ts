import { normaliseDate, normaliseTime } from '../../src/query/normalise';
import { parseConstraint } from '../../src/query/constraints';
import { compileConstraint } from '../../src/index/sqlite-constraints';
import { SQLITE_COLUMN } from '../../src/index/sqlite-search';
import { MATCH_KEYS } from '../../src/query/attributes';
import { parseQido } from '../../src/dicomweb/qido-params';
import { parseAccept, parseMediaType } from '../../src/dicomweb/media-types';

const key = (kw: string) => MATCH_KEYS.find((k) => k.keyword === kw)!;
const limits = { defaultLimit: 100, maxLimit: 1000 };

describe('matching values', () => {
  test('dates and times normalise for range comparison', () => {
    expect(normaliseDate('2024.01.02')).toBe('20240102');
    expect(normaliseDate('2024-1-2')).toBeUndefined();
    expect(normaliseTime('1015')).toBe('101500000000');
    expect(normaliseTime('1015', '9')).toBe('101559999999');
    expect(normaliseTime('10:15:30.5')).toBe('101530500000');
    expect(normaliseTime('25x')).toBeUndefined();
  });

  const sql = (keyword: string, value: string, fuzzy = false) => {
    const c = parseConstraint(key(keyword), value, fuzzy);
    return c && compileConstraint(c, SQLITE_COLUMN[keyword]);
  };

  test('a date range becomes a typed range, then a parameterised comparison', () => {
    expect(parseConstraint(key('StudyDate'), '20200101-20201231', false)).toEqual({ kind: 'range', key: key('StudyDate'), low: '20200101', high: '20201231' });
    expect(sql('StudyDate', '20200101-20201231')).toEqual({ sql: 's.study_date BETWEEN ? AND ?', params: ['20200101', '20201231'] });
    expect(sql('StudyDate', '-20201231')).toEqual({ sql: 's.study_date <= ?', params: ['20201231'] });
    expect(() => sql('StudyDate', '2020')).toThrow(/not a valid/);
  });

  test('a time value matches the whole span it names', () => {
    expect(sql('StudyTime', '10')).toEqual({ sql: 's.study_time BETWEEN ? AND ?', params: ['100000000000', '105959999999'] });
  });

  test('wildcards: GLOB for case-sensitive strings, LIKE for person names, with metacharacters escaped', () => {
    expect(parseConstraint(key('PatientID'), 'AB*[1]?', false)?.kind).toBe('wildcard');
    expect(sql('PatientID', 'AB*[1]?')).toEqual({ sql: 's.patient_id GLOB ?', params: ['AB*[[]1]?'] });
    expect(sql('PatientName', 'do%_e*')).toEqual({ sql: "s.patient_name LIKE ? ESCAPE '\\'", params: ['do\\%\\_e%'] });
    expect(parseConstraint(key('PatientName'), 'doe', true)).toEqual({ kind: 'person-name', key: key('PatientName'), pattern: 'doe', wordStart: true });
  });

  test('UID lists are validated, and a universal match adds no constraint', () => {
    expect(sql('StudyInstanceUID', '1.2.3,1.2.4')?.params).toEqual(['1.2.3', '1.2.4']);
    expect(() => sql('StudyInstanceUID', "1.2.3' OR 1=1")).toThrow(/not a valid UID/);
    expect(parseConstraint(key('PatientName'), '', false)).toBeUndefined();
    expect(parseConstraint(key('PatientID'), '*', false)).toBeUndefined();
  });

  test('no constraint carries SQL: each backend compiles it', () => {
    const all = MATCH_KEYS.map((k) => parseConstraint(k, k.type === 'uid' ? '1.2.3' : k.type === 'integer' ? '4' : k.type === 'date' ? '20200101' : k.type === 'time' ? '10' : 'A*', false));
    expect(JSON.stringify(all)).not.toMatch(/GLOB|LIKE|SELECT|\bs\.|\bse\.|\bi\./);
  });
});

describe('QIDO parameters', () => {
  test('keywords, tags and sequence paths name match keys; includefield accepts keywords and tags', () => {
    const { query } = parseQido('series', {}, { PatientName: 'x*', '00080060': 'CT', '00400275.00400009': 'S1', includefield: 'SeriesDate,00081030' }, limits);
    expect(query.constraints.map((c) => c.key.keyword)).toEqual(['PatientName', 'Modality', 'RequestAttributesSequence.ScheduledProcedureStepID']);
    expect(query.includeFields).toEqual(['00080021', '00081030']);
  });

  test('unknown or malformed parameters are errors', () => {
    expect(() => parseQido('study', {}, { bogus: '1' }, limits)).toThrow(/unknown query parameter "bogus"/);
    expect(() => parseQido('study', {}, { limit: '-1' }, limits)).toThrow(/limit/);
    expect(() => parseQido('study', {}, { fuzzymatching: 'maybe' }, limits)).toThrow(/fuzzymatching/);
    expect(() => parseQido('study', {}, { includefield: 'NotAnAttribute' }, limits)).toThrow(/includefield/);
    expect(() => parseQido('study', {}, { Modality: 'CT' }, limits)).toThrow(/series-level attribute/);
    expect(() => parseQido('study', {}, { PatientID: ['a', 'b'] }, limits)).toThrow(/more than once/);
  });

  test('a known attribute the index cannot match is reported, not ignored', () => {
    expect(parseQido('study', {}, { InstitutionName: 'X' }, limits).unsupported).toEqual(['InstitutionName']);
  });

  test('limit is capped and offset kept', () => {
    const { query } = parseQido('study', {}, { limit: '5000', offset: '20' }, limits);
    expect(query.limit).toBe(1000);
    expect(query.offset).toBe(20);
  });
});

describe('media types', () => {
  test('quoted and unquoted parameters, q-values, several ranges', () => {
    const ranges = parseAccept('multipart/related; type=application/dicom; transfer-syntax=*;q=0.5, multipart/related; type="image/jpeg"');
    expect(ranges.map((r) => r.params.type)).toEqual(['image/jpeg', 'application/dicom']);
    expect(ranges[1].params['transfer-syntax']).toBe('*');
    expect(parseMediaType('multipart/related; type="application/dicom"; boundary="a;b"').params.boundary).toBe('a;b');
    expect(parseAccept(undefined)[0].type).toBe('*/*');
  });
});
