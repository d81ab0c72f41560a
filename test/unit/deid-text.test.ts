/**
 * Coded entries as text, the last sweep, client text, value lengths and the cleaner's cost on
 * hostile input: the pure functions behind issue 10's privacy guarantees.
 */
import { deidentify, DeidParams } from '../../src/deid/deidentify';
import { DEFAULT_DEID_OPTIONS } from '../../src/deid/options';
import { IdentifierMatcher, cleanClientText } from '../../src/deid/clean-text';
import { isRegisteredScheme } from '../../src/deid/coding-schemes';
import { cleanDerivedText } from '../../src/deid/derived-text';
import { fitValueLengths } from '../../src/dicom/vr-limits';
import { formatDS } from '../../src/dicom/numbers';
import { Dataset, DataElement } from '../../src/dicom/dataset';
import { Tags } from '../../src/dicom/tags';
import { decodeText } from '../../src/dicom/charset';
import { encodeText, rawString } from '../../src/dicom/values';
import { syntheticDataset } from '../../src/synthetic/instances';
import { validateOperation, describeOperation } from '../../src/processing/operations';

const secret = Buffer.alloc(32, 9);
const params: DeidParams = { secret, options: DEFAULT_DEID_OPTIONS, acceptBurnedIn: false };
const el = (t: number, vr: string, text: string): DataElement => ({ tag: t, vr, value: encodeText(text, vr) });
const item = (...els: DataElement[]): Dataset => new Map(els.map((e) => [e.tag, e]));
const seq = (t: number, ...items: Dataset[]): DataElement => ({ tag: t, vr: 'SQ', items });
const str = (ds: Dataset | undefined, t: number) => rawString(ds?.get(t))?.trim();
const first = (ds: Dataset, ...path: number[]): Dataset => path.reduce((d, t) => d.get(t)!.items![0], ds);

const CodeValue = 0x00080100;
const CodingSchemeDesignator = 0x00080102;
const CodeMeaning = 0x00080104;
const code = (value: string, scheme: string, meaning: string) => item(el(CodeValue, 'SH', value), el(CodingSchemeDesignator, 'SH', scheme), el(CodeMeaning, 'LO', meaning));
const ProcedureCodeSequence = 0x00081032;
const RequestAttributesSequence = 0x00400275;
const RequestedProcedureCodeSequence = 0x00321064;
const AnatomicRegionSequence = 0x00082218;
const ContentSequence = 0x0040a730;
const ConceptNameCodeSequence = 0x0040a043;
const OtherPatientIDsSequence = 0x00101002;

function patient(extra: DataElement[] = []) {
  return syntheticDataset({ patientName: 'Kowalczyk^Agnieszka', patientID: '48213377', accessionNumber: 'ACC99871', extra }).dataset;
}

describe('coded entries are text', () => {
  test('PS3.16 Table 8-1 schemes are registered; 99*, L, LOCAL and unknown ones are not', () => {
    for (const s of ['DCM', 'SCT', 'SRT', 'LN', 'UCUM', 'FMA', 'NCIt', 'RADLEX']) expect([s, isRegisteredScheme(s)]).toEqual([s, true]);
    for (const s of ['99LOCAL', '99SDM', 'L', 'LOCAL', 'XYZHOSP', '', undefined]) expect([s, isRegisteredScheme(s)]).toEqual([s, false]);
  });

  test('a local code meaning holding the surname is cleaned at depths 1, 2 and 3; registered codes keep their meaning', () => {
    const ds = patient([
      seq(ProcedureCodeSequence, code('CTCH', '99LOCAL', 'CT chest Kowalczyk'), code('77477000', 'SCT', 'Computerized axial tomography')),
      seq(RequestAttributesSequence, item(el(0x00401001, 'SH', 'RP77'), seq(RequestedProcedureCodeSequence, code('48213377', 'L', 'Kowalczyk follow-up abdomen')))),
      seq(AnatomicRegionSequence, item(seq(0x00082220, item(seq(0x00082228, code('X1', 'XYZHOSP', 'Knee of Agnieszka 48213377')))))),
    ]);
    const out = deidentify(ds, params).dataset;
    const procedures = out.get(ProcedureCodeSequence)!.items!;
    expect(str(procedures[0], CodeMeaning)).toBe('CT chest');
    expect(str(procedures[1], CodeMeaning)).toBe('Computerized axial tomography');
    expect(str(procedures[1], CodeValue)).toBe('77477000');
    const requested = first(out, RequestAttributesSequence, RequestedProcedureCodeSequence);
    expect(str(requested, CodeMeaning)).toBe('follow-up abdomen');
    expect(str(requested, CodeValue)).toBe('ANONYMIZED'); // the MRN as a local code value: cleaned to nothing, Type 1 → dummy
    const deep = first(out, AnatomicRegionSequence, 0x00082220, 0x00082228);
    expect(str(deep, CodeMeaning)).toBe('Knee of');
  });

  test('inside structured content (D) local codes are replaced, registered ones kept', () => {
    const ds = patient([
      seq(ContentSequence, item(el(0x0040a040, 'CS', 'CODE'), seq(ConceptNameCodeSequence, code('121071', 'DCM', 'Finding')), seq(0x0040a168, code('K1', '99LOCAL', 'Agnieszka said ouch')))),
    ]);
    const out = deidentify(ds, params).dataset;
    const content = first(out, ContentSequence);
    expect(str(first(content, ConceptNameCodeSequence), CodeMeaning)).toBe('Finding');
    expect(str(first(content, 0x0040a168), CodeMeaning)).toBe('ANONYMIZED');
  });
});

describe('the last sweep', () => {
  test('identifiers in text the rules keep are removed and the path is reported', () => {
    const ds = patient([
      el(0x00180031, 'LO', 'FDG for Kowalczyk'), // Radiopharmaceutical: not in Table E.1-1, kept
      seq(OtherPatientIDsSequence, item(el(Tags.PatientID, 'LO', 'OLD-55120'), el(0x00100021, 'LO', 'NORTH'))),
      el(0x00180015, 'CS', 'ACC99871'), // BodyPartExamined holding the accession number as a whole
    ]);
    const result = deidentify(ds, params);
    expect(str(result.dataset, 0x00180031)).toBe('FDG for');
    expect(str(result.dataset, 0x00180015) ?? '').toBe('');
    expect(result.sweptPaths).toEqual(expect.arrayContaining(['Radiopharmaceutical', 'BodyPartExamined']));
    expect(result.sweptPaths.join(' ')).not.toMatch(/Kowalczyk|ACC99871/);
  });

  test('a sender that already wrote the dummy value as the name does not make the sweep chase it', () => {
    const ds = syntheticDataset({ patientName: 'Anonymized', extra: [el(0x00181000, 'LO', '4131101')] }).dataset;
    const result = deidentify(ds, params);
    expect(str(result.dataset, 0x00181000)).toBe('ANONYMIZED'); // DeviceSerialNumber: X/Z/D → dummy
    expect(result.sweptPaths).toEqual([]);
  });

  test('an ID from OtherPatientIDsSequence is removed from descriptions, original UIDs and their roots from text', () => {
    const ds = patient([
      seq(OtherPatientIDsSequence, item(el(Tags.PatientID, 'LO', 'OLD-55120'))),
      el(Tags.StudyDescription, 'LO', 'Abdomen OLD-55120'),
    ]);
    const study = str(ds, Tags.StudyInstanceUID)!;
    ds.set(0x00204000, el(0x00204000, 'LT', `prior ${study} and ${study}.77`));
    const out = deidentify(ds, params).dataset;
    expect(str(out, Tags.StudyDescription)).toBe('Abdomen');
    expect(str(out, 0x00204000)).toBe('prior and');
  });

  test('names in scripts without spaces are found inside longer runs; ISO 2022 text ends up consistent UTF-8', () => {
    // ISO 2022 IR 87: ESC $ B switches to JIS X 0208, ESC ( B back to ASCII.
    const jis = (s: string) => Buffer.from(s, 'latin1');
    const esc = (bytes: number[]) => Buffer.from([0x1b, 0x24, 0x42, ...bytes, 0x1b, 0x28, 0x42]);
    const yamada = [0x3b, 0x33, 0x45, 0x44]; // 山田
    const ds = patient();
    ds.set(Tags.SpecificCharacterSet, el(Tags.SpecificCharacterSet, 'CS', '\\ISO 2022 IR 87'));
    ds.set(Tags.PatientName, { tag: Tags.PatientName, vr: 'PN', value: Buffer.concat([jis('Yamada^Taro='), esc(yamada), jis('^X')]) });
    ds.set(Tags.StudyDescription, { tag: Tags.StudyDescription, vr: 'LO', value: Buffer.concat([jis('CT '), esc([...yamada, 0x4d, 0x4d]), jis(' chest')]) });
    ds.set(0x00081090, { tag: 0x00081090, vr: 'LO', value: esc([0x4d, 0x4d]) }); // ManufacturerModelName: untouched text in the same set
    const out = deidentify(ds, params).dataset;
    expect(str(out, Tags.SpecificCharacterSet)).toBe('ISO_IR 192');
    const description = decodeText(out.get(Tags.StudyDescription)!.value!, 'utf-8');
    expect(description).not.toContain('山田');
    expect(description).toMatch(/^CT .* chest$/);
    expect(decodeText(out.get(0x00081090)!.value!, 'utf-8').trim()).toBe(decodeText(esc([0x4d, 0x4d]), 'iso-2022-jp'));
  });
});

describe('text a client types', () => {
  test('the STOW cleaner and the API cleaner agree on typed PHI', () => {
    expect(cleanClientText('Mr John Smith DOB 19700102 MRN 12345678')).toBe('DOB MRN');
    expect(cleanClientText('bone 300 to 3000 HU, 2024 protocol')).toBe('bone 300 to 3000 HU, 2024 protocol');
    expect(cleanClientText('call 555-123-4567 or jd@example.org on 03/04/1999')).toBe('call or on');
  });

  test('job parameters keep only what the operation uses', () => {
    const spec = validateOperation('normalize', { mask: { low: 0, high: 100, n: 'Mr John Smith DOB 19700102 MRN 12345678' }, note: 'Smith' });
    expect(spec).toEqual({ op: 'normalize', method: 'zscore', mask: { low: 0, high: 100 } });
    expect(describeOperation(spec)).toBe('normalize: method=zscore mask={low:0,high:100}');
    expect(() => validateOperation('model', { model: '../etc' })).toThrow(/model/);
  });

  test('derived objects: descriptions are cleaned, pseudonyms and registered codes left alone', () => {
    const ds: Dataset = new Map([
      [Tags.PatientID, el(Tags.PatientID, 'LO', 'VG-ABCD2345EFGH')],
      [Tags.SeriesDescription, el(Tags.SeriesDescription, 'LO', 'Derived: Dr Jane Roe 12345678')],
      [0x00082111, el(0x00082111, 'ST', 'posted for MRN 998877665 by jroe@example.org')],
      [0x00620002, seq(0x00620002, item(seq(0x0062000f, code('10200004', 'SCT', 'Liver 12345'))))],
    ]);
    const changed = cleanDerivedText(ds);
    expect(str(ds, Tags.PatientID)).toBe('VG-ABCD2345EFGH');
    expect(str(ds, Tags.SeriesDescription)).toBe('Derived');
    expect(str(ds, 0x00082111)).toBe('posted for MRN by');
    expect(str(first(ds, 0x00620002, 0x0062000f), CodeMeaning)).toBe('Liver 12345');
    expect(changed).toEqual(['SeriesDescription', 'DerivationDescription']);
  });
});

describe('value lengths (PS3.5 Table 6.2-1)', () => {
  test('free text is truncated, numbers rewritten, coded values that cannot fit refused', () => {
    const ds: Dataset = new Map([
      [Tags.StudyDescription, el(Tags.StudyDescription, 'LO', 'x'.repeat(60000))],
      [Tags.PatientName, el(Tags.PatientName, 'PN', `${'a'.repeat(70)}^b=${'c'.repeat(80)}`)],
      [0x00180050, el(0x00180050, 'DS', '0.62500000000000000001')],
      [0x00080022, el(0x00080022, 'DA', '1997.04.24')],
    ]);
    const warnings = fitValueLengths(ds);
    expect(str(ds, Tags.StudyDescription)).toHaveLength(64);
    expect(str(ds, Tags.PatientName)).toBe(`${'a'.repeat(64)}=${'c'.repeat(64)}`);
    expect(str(ds, 0x00180050)).toBe('0.625');
    expect(str(ds, 0x00080022)).toBe('19970424');
    expect(warnings).toHaveLength(4);
    const bad: Dataset = new Map([[Tags.Modality, el(Tags.Modality, 'CS', 'A_VERY_LONG_MODALITY')]]);
    expect(() => fitValueLengths(bad)).toThrow(/Modality .* 16 characters CS allows/);
    expect(formatDS(Math.PI * 1e-7)).toHaveLength(16);
    expect(Number(formatDS(-1234567.891234567))).toBeCloseTo(-1234567.891234567, 5);
  });
});

describe('the cleaner on hostile input', () => {
  // Quadratic patterns would take minutes on these; the bound only catches that, never a slow machine.
  const hostile = ['1 '.repeat(500_000), 'a'.repeat(1_000_000), '-'.repeat(999_999) + 'x', '1.'.repeat(500_000), '\n'.repeat(1_000_000) + 'x', 'a.'.repeat(500_000) + '@'];
  test.each(hostile.map((h, i) => [i, h]))('case %i: a megabyte cleans in linear time', (_i, text) => {
    const matcher = IdentifierMatcher.of(['Kowalczyk', '48213377']);
    const t0 = Date.now();
    matcher.clean(text as string);
    matcher.removeIdentifiers(text as string);
    expect(Date.now() - t0).toBeLessThan(5000);
  });
});
