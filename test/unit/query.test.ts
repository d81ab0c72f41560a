import { compileCondition, normaliseDate, normaliseTime } from '../../src/query/compile-sql';
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

  test('a date range becomes a parameterised comparison', () => {
    expect(compileCondition({ key: key('StudyDate'), value: '20200101-20201231' }, false)).toEqual({
      sql: 's.study_date >= ? AND s.study_date <= ?',
      params: ['20200101', '20201231'],
    });
    expect(compileCondition({ key: key('StudyDate'), value: '-20201231' }, false)?.params).toEqual(['20201231']);
    expect(() => compileCondition({ key: key('StudyDate'), value: '2020' }, false)).toThrow(/not a valid/);
  });

  test('a time value matches the whole span it names', () => {
    expect(compileCondition({ key: key('StudyTime'), value: '10' }, false)).toEqual({
      sql: 's.study_time BETWEEN ? AND ?',
      params: ['100000000000', '105959999999'],
    });
  });

  test('wildcards: GLOB for case-sensitive strings, LIKE for person names, with metacharacters escaped', () => {
    expect(compileCondition({ key: key('PatientID'), value: 'AB*[1]?' }, false)).toEqual({ sql: 's.patient_id GLOB ?', params: ['AB*[[]1]?'] });
    expect(compileCondition({ key: key('PatientName'), value: 'do%_e*' }, false)).toEqual({
      sql: "s.patient_name LIKE ? ESCAPE '\\'",
      params: ['do\\%\\_e%'],
    });
  });

  test('UID lists are validated, and a universal match adds no condition', () => {
    expect(compileCondition({ key: key('StudyInstanceUID'), value: '1.2.3,1.2.4' }, false)?.params).toEqual(['1.2.3', '1.2.4']);
    expect(() => compileCondition({ key: key('StudyInstanceUID'), value: "1.2.3' OR 1=1" }, false)).toThrow(/not a valid UID/);
    expect(compileCondition({ key: key('PatientName'), value: '' }, false)).toBeUndefined();
  });
});

describe('QIDO parameters', () => {
  test('keywords, tags and sequence paths name match keys; includefield accepts keywords and tags', () => {
    const { query } = parseQido('series', {}, { PatientName: 'x*', '00080060': 'CT', '00400275.00400009': 'S1', includefield: 'SeriesDate,00081030' }, limits);
    expect(query.conditions.map((c) => c.key.keyword)).toEqual(['PatientName', 'Modality', 'RequestAttributesSequence.ScheduledProcedureStepID']);
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
