import { deidentify, DeidParams } from '../../src/deid/deidentify';
import { DEFAULT_DEID_OPTIONS, parseOptionList } from '../../src/deid/options';
import { mapUid } from '../../src/deid/keyed';
import { shiftDA, shiftDT } from '../../src/deid/dates';
import { IdentifierMatcher } from '../../src/deid/clean-text';
import { Dataset, DataElement, tag } from '../../src/dicom/dataset';
import { Tags } from '../../src/dicom/tags';
import { encodeText, rawString } from '../../src/dicom/values';
import { writePart10 } from '../../src/dicom/write';
import { syntheticDataset } from '../../src/synthetic/instances';

const secret = Buffer.alloc(32, 7);
const params = (over: Partial<DeidParams> = {}): DeidParams => ({ secret, options: DEFAULT_DEID_OPTIONS, acceptBurnedIn: false, ...over });
const el = (t: number, vr: string, text: string): DataElement => ({ tag: t, vr, value: encodeText(text, vr) });
const str = (ds: Dataset, t: number) => rawString(ds.get(t))?.trim();
const item = (...els: DataElement[]): Dataset => new Map(els.map((e) => [e.tag, e]));
const seq = (t: number, ...items: Dataset[]): DataElement => ({ tag: t, vr: 'SQ', items });

const ReferencedSOPInstanceUID = tag(0x0008, 0x1155);
const ReferencedSOPClassUID = tag(0x0008, 0x1150);
const SourceImageSequence = tag(0x0008, 0x2112);
const InstitutionName = tag(0x0008, 0x0080);
const PerformingPhysicianName = tag(0x0008, 0x1050); // X in Table E.1-1
const PatientAge = tag(0x0010, 0x1010);

function instance(extra: DataElement[] = [], patientID = 'MRN-0042') {
  return syntheticDataset({ patientID, patientName: 'Doe^Jane^Q', studyDate: '20230315', extra }).dataset;
}

describe('UIDs', () => {
  test('mapped to 2.25 + 128-bit decimal, the same everywhere, class and standard UIDs untouched', () => {
    const sourceUid = '1.2.826.0.1.3680043.99.1';
    const ds = instance([
      seq(SourceImageSequence, item(el(ReferencedSOPClassUID, 'UI', '1.2.840.10008.5.1.4.1.1.2'), el(ReferencedSOPInstanceUID, 'UI', sourceUid))),
    ]);
    const out = deidentify(ds, params()).dataset;
    const sop = str(out, Tags.SOPInstanceUID)!;
    expect(sop).toMatch(/^2\.25\.\d{1,39}$/);
    expect(sop).toBe(mapUid(secret, str(ds, Tags.SOPInstanceUID)!));
    const ref = out.get(SourceImageSequence)!.items![0];
    expect(str(ref, ReferencedSOPInstanceUID)).toBe(mapUid(secret, sourceUid));
    expect(str(ref, ReferencedSOPClassUID)).toBe('1.2.840.10008.5.1.4.1.1.2');
    expect(str(out, Tags.SOPClassUID)).toBe('1.2.840.10008.5.1.4.1.1.2');
    expect(str(out, 0x00200052)).toBe(mapUid(secret, str(ds, 0x00200052)!)); // FrameOfReferenceUID
  });

  test('only registered UIDs stay: one that merely starts with the DICOM root is mapped, an instance’s own UIDs always', () => {
    const FrameOfReferenceUID = tag(0x0020, 0x0052);
    const talairach = '1.2.840.10008.1.4.1.1'; // a well-known frame of reference (PS3.6 Table A-1)
    const forged = '1.2.840.10008.777.1.1'; // under the root, registered nowhere
    const kept = deidentify(instance([el(FrameOfReferenceUID, 'UI', talairach)]), params()).dataset;
    expect(str(kept, FrameOfReferenceUID)).toBe(talairach);
    const ds = instance([el(FrameOfReferenceUID, 'UI', forged), seq(SourceImageSequence, item(el(ReferencedSOPInstanceUID, 'UI', forged)))]);
    ds.set(Tags.SOPInstanceUID, el(Tags.SOPInstanceUID, 'UI', forged));
    ds.set(Tags.StudyInstanceUID, el(Tags.StudyInstanceUID, 'UI', '1.2.840.10008.777'));
    ds.set(Tags.SeriesInstanceUID, el(Tags.SeriesInstanceUID, 'UI', '1.2.840.10008.5.1.4.1.1.2')); // a SOP class UID used as an instance's
    const out = deidentify(ds, params()).dataset;
    expect(str(out, Tags.SOPInstanceUID)).toBe(mapUid(secret, forged));
    expect(str(out, Tags.StudyInstanceUID)).toBe(mapUid(secret, '1.2.840.10008.777'));
    expect(str(out, Tags.SeriesInstanceUID)).toBe(mapUid(secret, '1.2.840.10008.5.1.4.1.1.2'));
    expect(str(out, FrameOfReferenceUID)).toBe(mapUid(secret, forged));
    expect(str(out.get(SourceImageSequence)!.items![0], ReferencedSOPInstanceUID)).toBe(mapUid(secret, forged));
  });

  test('a different secret gives different UIDs; Retain UIDs keeps them', () => {
    const ds = instance();
    expect(str(deidentify(ds, params({ secret: Buffer.alloc(32, 8) })).dataset, Tags.SOPInstanceUID)).not.toBe(
      str(deidentify(ds, params()).dataset, Tags.SOPInstanceUID),
    );
    const kept = deidentify(ds, params({ options: { ...DEFAULT_DEID_OPTIONS, retainUIDs: true } })).dataset;
    expect(str(kept, Tags.SOPInstanceUID)).toBe(str(ds, Tags.SOPInstanceUID));
  });
});

describe('patient and dates', () => {
  test('pseudonym from issuer and ID; one date offset per patient keeps intervals', () => {
    const a = deidentify(instance([el(0x00080021, 'DA', '20230320')]), params()).dataset;
    const b = deidentify(instance([el(0x00080021, 'DA', '20230320')]), params()).dataset;
    expect(str(a, Tags.PatientID)).toMatch(/^VG-[A-Z2-7]{12}$/);
    expect(str(a, Tags.PatientName)).toBe(str(a, Tags.PatientID));
    expect(str(a, Tags.PatientID)).toBe(str(b, Tags.PatientID));
    const studyDate = str(a, Tags.StudyDate)!;
    const seriesDate = str(a, 0x00080021)!;
    expect(studyDate).not.toBe('20230315');
    const days = (d: string) => Date.UTC(+d.slice(0, 4), +d.slice(4, 6) - 1, +d.slice(6, 8)) / 86400000;
    expect(days(seriesDate) - days(studyDate)).toBe(5);
    expect(days(studyDate) - days('20230315')).toBeLessThanOrEqual(-1);
    expect(days(studyDate) - days('20230315')).toBeGreaterThanOrEqual(-3650);
    const other = deidentify(instance([], 'MRN-0043'), params()).dataset;
    expect(str(other, Tags.PatientID)).not.toBe(str(a, Tags.PatientID));
    expect(str(a, Tags.PatientBirthDate) ?? '').toBe(''); // removed (Z)
    expect(str(a, 0x00280303)).toBe('MODIFIED');
  });

  test('date options: full keeps dates, off empties them', () => {
    const full = deidentify(instance(), params({ options: parseOptionList('dates=full') })).dataset;
    expect(str(full, Tags.StudyDate)).toBe('20230315');
    expect(str(full, 0x00280303)).toBe('UNMODIFIED');
    const off = deidentify(instance(), params({ options: parseOptionList('dates=off') })).dataset;
    expect(str(off, Tags.StudyDate) ?? '').toBe('');
    expect(str(off, 0x00280303)).toBe('REMOVED');
  });

  test('date arithmetic crosses months, leap days and keeps DT time and zone', () => {
    expect(shiftDA('20240301', -1)).toBe('20240229');
    expect(shiftDA('20240101-20240131', -31)).toBe('20231201-20231231');
    expect(shiftDT('20240301120000.5+0100', -1)).toBe('20240229120000.5+0100');
    expect(shiftDA('not a date', -1)).toBeUndefined();
  });
});

describe('profile actions and options', () => {
  test('identifying attributes go, patient characteristics stay by default', () => {
    const ds = instance([el(InstitutionName, 'LO', 'St Elsewhere Hospital'), el(PerformingPhysicianName, 'PN', 'Tech^Tom'), el(PatientAge, 'AS', '042Y')]);
    const out = deidentify(ds, params()).dataset;
    expect(str(out, InstitutionName)).toBe('ANONYMIZED'); // X/Z/D → dummy (Type 1 in some IODs)
    expect(out.has(PerformingPhysicianName)).toBe(false); // X
    expect(str(out, PatientAge)).toBe('042Y'); // Retain Patient Characteristics
    const noChars = deidentify(ds, params({ options: { ...DEFAULT_DEID_OPTIONS, retainPatientCharacteristics: false } })).dataset;
    expect(noChars.has(PatientAge)).toBe(false);
    const inst = deidentify(ds, params({ options: { ...DEFAULT_DEID_OPTIONS, retainInstitutionIdentity: true } })).dataset;
    expect(str(inst, InstitutionName)).toBe('St Elsewhere Hospital');
  });

  test('rules apply at every depth: a name three sequences down is removed', () => {
    const deep = seq(SourceImageSequence, item(seq(0x00089215, item(seq(0x00400260, item(el(PerformingPhysicianName, 'PN', 'Deep^Name'), el(0x00080100, 'SH', '123')))))));
    const out = deidentify(instance([deep]), params()).dataset;
    const level3 = out.get(SourceImageSequence)!.items![0].get(0x00089215)!.items![0].get(0x00400260)!.items![0];
    expect(level3.has(PerformingPhysicianName)).toBe(false);
    expect(str(level3, 0x00080100)).toBe('123'); // code values are kept
  });

  test('private attributes are removed unless listed safe and Retain Safe Private is on', () => {
    const ds = instance([
      el(0x00430010, 'LO', 'GEMS_PARM_01'),
      el(0x00431039, 'IS', '1000\\0\\0\\0'), // (0043,xx39) slope/b-value: listed safe
      el(0x00431001, 'SS', 'x'), // not listed
      el(0x00090010, 'LO', 'ACME'),
      el(0x00091001, 'LO', 'Doe Jane'),
    ]);
    const basic = deidentify(ds, params()).dataset;
    expect([...basic.keys()].some((t) => t >>> 16 === 0x0043 || t >>> 16 === 0x0009)).toBe(false);
    const safe = deidentify(ds, params({ options: { ...DEFAULT_DEID_OPTIONS, retainSafePrivate: true } })).dataset;
    expect(str(safe, 0x00431039)).toBe('1000\\0\\0\\0');
    expect(str(safe, 0x00430010)).toBe('GEMS_PARM_01');
    expect(safe.has(0x00431001)).toBe(false);
    expect(safe.has(0x00091001)).toBe(false);
    expect(safe.has(0x00090010)).toBe(false);
  });

  test('overlays and curves go whole', () => {
    const out = deidentify(instance([el(0x60000010, 'US', 'xx'), el(0x60000022, 'LO', 'Doe overlay'), el(0x50000022, 'LO', 'curve')]), params()).dataset;
    expect([...out.keys()].some((t) => t >>> 16 === 0x6000 || t >>> 16 === 0x5000)).toBe(false);
  });

  test('markers name the profile and exactly the options applied', () => {
    const out = deidentify(instance(), params()).dataset;
    expect(str(out, 0x00120062)).toBe('YES');
    const codes = out.get(0x00120064)!.items!.map((i) => str(i, 0x00080100));
    expect(codes).toEqual(['113100', '113105', '113107', '113108']);
    const more = deidentify(instance(), params({ options: parseOptionList('retainUIDs,retainSafePrivate,-cleanDescriptors') })).dataset;
    expect(more.get(0x00120064)!.items!.map((i) => str(i, 0x00080100))).toEqual(['113100', '113107', '113108', '113110', '113111']);
  });
});

describe('clean descriptors', () => {
  test('descriptions keep their words but lose the identifiers the instance carries', () => {
    const ds = instance([
      el(Tags.StudyDescription, 'LO', 'CT HEAD Doe Jane MRN-0042 15/03/2023'),
      el(Tags.SeriesDescription, 'LO', 'AX T1 jane st elsewhere'),
      el(InstitutionName, 'LO', 'St Elsewhere Hospital'),
      el(0x00204000, 'LT', 'Seen by Dr. Watson, call +44 20 7946 0958, mail doc@example.org, acc 87654321'),
    ]);
    const out = deidentify(ds, params()).dataset;
    expect(str(out, Tags.StudyDescription)).toBe('CT HEAD');
    expect(str(out, Tags.SeriesDescription)).toBe('AX T1');
    const comments = str(out, 0x00204000)!;
    for (const leak of ['Watson', '7946', 'doc@example.org', '87654321']) expect(comments).not.toContain(leak);
    expect(comments).toMatch(/^Seen by/);
  });

  test('a cleaned value with nothing left becomes a dummy where the profile allows D, else empty', () => {
    const ds = instance([el(0x30060002, 'SH', 'Doe'), el(Tags.StudyDescription, 'LO', 'Jane')]); // Structure Set Label: D/C
    const out = deidentify(ds, params()).dataset;
    expect(str(out, 0x30060002)).toBe('ANONYMIZED');
    expect(str(out, Tags.StudyDescription) ?? '').toBe('');
  });

  test('without Clean Descriptors the descriptions are removed', () => {
    const ds = instance([el(Tags.StudyDescription, 'LO', 'CT HEAD')]);
    expect(deidentify(ds, params({ options: parseOptionList('-cleanDescriptors') })).dataset.has(Tags.StudyDescription)).toBe(false);
  });

  test('the matcher removes whole words only', () => {
    expect(IdentifierMatcher.of(['Ann']).clean('Annual scan Ann')).toBe('Annual scan');
  });
});

describe('refusals and purity', () => {
  test('burned-in annotation refused unless declared absent or accepted', () => {
    const us = instance([el(Tags.Modality, 'CS', 'US')]);
    expect(() => deidentify(us, params())).toThrow(/BurnedInAnnotation/);
    const declared = instance([el(Tags.Modality, 'CS', 'US'), el(0x00280301, 'CS', 'NO')]);
    expect(() => deidentify(declared, params())).not.toThrow();
    const yes = instance([el(0x00280301, 'CS', 'YES')]);
    expect(() => deidentify(yes, params())).toThrow(/YES/);
    expect(() => deidentify(yes, params({ acceptBurnedIn: true }))).not.toThrow();
  });

  test('the same input gives byte-identical output, and the input is not changed', () => {
    const ds = instance([el(Tags.StudyDescription, 'LO', 'CT Doe')]);
    const before = Buffer.concat(writePart10(ds, { sopClassUID: '1.2', sopInstanceUID: '1.2.3', transferSyntaxUID: '1.2.840.10008.1.2.1' }).chunks);
    const bytes = () => {
      const out = deidentify(ds, params()).dataset;
      return Buffer.concat(writePart10(out, { sopClassUID: '1.2', sopInstanceUID: '1.2.3', transferSyntaxUID: '1.2.840.10008.1.2.1' }).chunks);
    };
    expect(bytes().equals(bytes())).toBe(true);
    const after = Buffer.concat(writePart10(ds, { sopClassUID: '1.2', sopInstanceUID: '1.2.3', transferSyntaxUID: '1.2.840.10008.1.2.1' }).chunks);
    expect(after.equals(before)).toBe(true);
  });
});
