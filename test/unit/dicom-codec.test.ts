import { deflateRawSync } from 'node:zlib';
import { parsePart10, parseDataset, DicomParseError, readUidValue } from '../../src/dicom/parse';
import { writePart10 } from '../../src/dicom/write';
import { Dataset, tag } from '../../src/dicom/dataset';
import { Tags } from '../../src/dicom/tags';
import { TS } from '../../src/dicom/transfer-syntax';
import { numberValues, rawString } from '../../src/dicom/values';
import { syntheticDataset, syntheticInstance } from '../../src/synthetic/instances';

/** Explicit VR little endian element bytes. */
function explicitLE(group: number, element: number, vr: string, value: Buffer): Buffer {
  const long = ['OB', 'OW', 'SQ', 'UN', 'UT'].includes(vr);
  const h = Buffer.alloc(long ? 12 : 8);
  h.writeUInt16LE(group, 0);
  h.writeUInt16LE(element, 2);
  h.write(vr, 4, 'latin1');
  if (long) h.writeUInt32LE(value.length, 8);
  else h.writeUInt16LE(value.length, 6);
  return Buffer.concat([h, value]);
}

function implicitLE(group: number, element: number, value: Buffer, length = value.length): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16LE(group, 0);
  h.writeUInt16LE(element, 2);
  h.writeUInt32LE(length >>> 0, 4);
  return Buffer.concat([h, value]);
}

function bytesOf(ds: Dataset): Buffer {
  const written = writePart10(ds, { sopClassUID: '1.2.3', sopInstanceUID: '1.2.3.4', transferSyntaxUID: TS.ExplicitVRLittleEndian });
  return Buffer.concat(written.chunks);
}

describe('DICOM reader and writer', () => {
  test('a written file reads back to the same elements and values', () => {
    const { dataset } = syntheticDataset({ rows: 16, columns: 8, frames: 2 });
    const parsed = parsePart10(bytesOf(dataset));
    expect([...parsed.dataset.keys()].sort()).toEqual([...dataset.keys()].sort());
    for (const [t, el] of dataset) {
      expect(parsed.dataset.get(t)?.vr).toBe(el.vr);
      expect(Buffer.from(parsed.dataset.get(t)!.value!)).toEqual(Buffer.from(el.value!));
    }
    expect(parsed.transferSyntaxUID).toBe(TS.ExplicitVRLittleEndian);
    expect(readUidValue(parsed.meta.get(Tags.MediaStorageSOPInstanceUID))).toBe('1.2.3.4');
  });

  test('the written preamble is zero and the meta group length is right', () => {
    const bytes = bytesOf(syntheticDataset().dataset);
    expect(bytes.subarray(0, 128).every((b) => b === 0)).toBe(true);
    expect(bytes.subarray(128, 132).toString('latin1')).toBe('DICM');
    const groupLength = bytes.readUInt32LE(140);
    // The first element after the meta group is in group 0008.
    expect(bytes.readUInt16LE(144 + groupLength)).toBe(0x0008);
  });

  test('implicit VR takes VRs from the dictionary, including sequences of undefined length', () => {
    const item = Buffer.concat([implicitLE(0x0008, 0x1155, Buffer.from('1.2.840.99\0'.padEnd(10, '\0')))]);
    const seq = Buffer.concat([
      implicitLE(0x0008, 0x1140, Buffer.alloc(0), 0xffffffff),
      implicitLE(0xfffe, 0xe000, Buffer.alloc(0), 0xffffffff),
      item,
      implicitLE(0xfffe, 0xe00d, Buffer.alloc(0)),
      implicitLE(0xfffe, 0xe0dd, Buffer.alloc(0)),
    ]);
    const rows = Buffer.alloc(2);
    rows.writeUInt16LE(512);
    const ds = parseDataset(Buffer.concat([implicitLE(0x0008, 0x0060, Buffer.from('CT')), seq, implicitLE(0x0028, 0x0010, rows)]), TS.ImplicitVRLittleEndian);
    expect(ds.get(Tags.Modality)?.vr).toBe('CS');
    expect(ds.get(Tags.Rows)?.vr).toBe('US');
    expect(numberValues(ds.get(Tags.Rows))).toEqual([512]);
    const sq = ds.get(tag(0x0008, 0x1140))!;
    expect(sq.vr).toBe('SQ');
    expect(sq.items).toHaveLength(1);
    expect(readUidValue(sq.items![0].get(tag(0x0008, 0x1155)))).toBe('1.2.840.99');
  });

  test('big endian values are turned little endian by VR', () => {
    const be = (g: number, e: number, vr: string, v: Buffer) => {
      const h = Buffer.alloc(8);
      h.writeUInt16BE(g, 0);
      h.writeUInt16BE(e, 2);
      h.write(vr, 4, 'latin1');
      h.writeUInt16BE(v.length, 6);
      return Buffer.concat([h, v]);
    };
    const rows = Buffer.alloc(2);
    rows.writeUInt16BE(300);
    const ds = parseDataset(Buffer.concat([be(0x0008, 0x0060, 'CS', Buffer.from('MR')), be(0x0028, 0x0010, 'US', rows)]), TS.ExplicitVRBigEndian);
    expect(numberValues(ds.get(Tags.Rows))).toEqual([300]);
    expect(rawString(ds.get(Tags.Modality))).toBe('MR');
  });

  test('a deflated data set inflates', () => {
    const body = explicitLE(0x0008, 0x0060, 'CS', Buffer.from('US'));
    const ds = parseDataset(deflateRawSync(body), TS.DeflatedExplicitVRLittleEndian);
    expect(rawString(ds.get(Tags.Modality))).toBe('US');
  });

  test('a public element sent as UN gets its real VR back, and a UN sequence is read as implicit VR', () => {
    const seqValue = Buffer.concat([
      implicitLE(0xfffe, 0xe000, Buffer.alloc(0), 0xffffffff),
      implicitLE(0x0008, 0x0100, Buffer.from('T-1234')),
      implicitLE(0xfffe, 0xe00d, Buffer.alloc(0)),
    ]);
    const ds = parseDataset(
      Buffer.concat([explicitLE(0x0008, 0x0060, 'UN', Buffer.from('CT')), explicitLE(0x0008, 0x1032, 'UN', seqValue)]),
      TS.ExplicitVRLittleEndian,
    );
    expect(ds.get(Tags.Modality)?.vr).toBe('CS');
    const sq = ds.get(tag(0x0008, 0x1032))!;
    expect(sq.vr).toBe('SQ');
    expect(rawString(sq.items![0].get(tag(0x0008, 0x0100)))).toBe('T-1234');
  });

  test('a truncated file is an error, never a shorter instance', () => {
    const bytes = syntheticInstance({ rows: 32, columns: 32 }).bytes;
    for (const cut of [bytes.length - 1, bytes.length - 100, 400, 150]) {
      expect(() => parsePart10(bytes.subarray(0, cut))).toThrow(DicomParseError);
    }
  });

  test('text is not DICOM', () => {
    expect(() => parsePart10(Buffer.from('Copyright (c) 2020, all rights reserved.\nRedistribution...'))).toThrow(/not DICOM/);
  });

  test('a value too long for a 16-bit length is written as UN', () => {
    const ds: Dataset = new Map();
    const long = Buffer.alloc(70000, 0x41);
    ds.set(tag(0x0008, 0x0016), { tag: tag(0x0008, 0x0016), vr: 'UI', value: Buffer.from('1.2.3\0') });
    ds.set(tag(0x0010, 0x4000), { tag: tag(0x0010, 0x4000), vr: 'LT', value: long });
    const back = parsePart10(bytesOf(ds)).dataset.get(tag(0x0010, 0x4000))!;
    expect(back.value!.length).toBe(70000);
  });
});

describe('frame locations', () => {
  const { locateFrames } = require('../../src/dicom/frames');

  function encapsulated(fragments: Uint8Array[], frames: number, bot: Uint8Array = new Uint8Array(0)) {
    const { dataset } = syntheticDataset({ frames });
    dataset.set(Tags.PixelData, { tag: Tags.PixelData, vr: 'OB', fragments: [bot, ...fragments] });
    const written = writePart10(dataset, { sopClassUID: '1.2.3', sopInstanceUID: '1.2.3.4', transferSyntaxUID: '1.2.840.10008.1.2.4.50' });
    return { file: Buffer.concat(written.chunks), frames: locateFrames(dataset, written) as { offset: number; length: number }[][] };
  }
  const frameBytes = (file: Buffer, ranges: { offset: number; length: number }[]) =>
    Buffer.concat(ranges.map((r) => file.subarray(r.offset, r.offset + r.length)));

  test('without an offset table, JPEG start-of-image markers split fragments into frames', () => {
    const a1 = Buffer.from([0xff, 0xd8, 1, 2]);
    const a2 = Buffer.from([3, 4, 0xff, 0xd9]);
    const b1 = Buffer.from([0xff, 0xd8, 5, 6, 0xff, 0xd9]);
    const { file, frames } = encapsulated([a1, a2, b1], 2);
    expect(frames).toHaveLength(2);
    expect(frameBytes(file, frames[0])).toEqual(Buffer.concat([a1, a2]));
    expect(frameBytes(file, frames[1])).toEqual(b1);
  });

  test('the Basic Offset Table groups fragments even when they do not start with a marker', () => {
    const f = [Buffer.from([1, 2]), Buffer.from([3, 4]), Buffer.from([5, 6, 7, 8])];
    const bot = Buffer.alloc(8);
    bot.writeUInt32LE(0, 0);
    bot.writeUInt32LE(8 + 2 + 8 + 2, 4); // second frame starts at the third fragment's item tag
    const { file, frames } = encapsulated(f, 2, bot);
    expect(frameBytes(file, frames[0])).toEqual(Buffer.from([1, 2, 3, 4]));
    expect(frameBytes(file, frames[1])).toEqual(Buffer.from([5, 6, 7, 8]));
  });
});

describe('DICOM JSON model', () => {
  const { toDicomJson } = require('../../src/dicom/json');
  const { fromDicomJson } = require('../../src/dicom/from-json');

  test('from JSON and back gives the same attributes, with UIDs padded by NUL', () => {
    const json = {
      '00080016': { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.2'] },
      '00080061': { vr: 'CS', Value: ['CT', 'MR'] },
      '00100010': { vr: 'PN', Value: [{ Alphabetic: 'Doe^Jane', Ideographic: '山田^太郎' }] },
      '0020000D': { vr: 'UI', Value: ['2.25.1234'] }, // odd length: padded
      '00201208': { vr: 'IS', Value: [28] },
      '00280010': { vr: 'US', Value: [512] },
      '00281052': { vr: 'DS', Value: [-1024.5] },
      '00209165': { vr: 'AT', Value: ['00200032'] },
      '00400275': { vr: 'SQ', Value: [{ '00400009': { vr: 'SH', Value: ['S1'] } }] },
    };
    const ds = fromDicomJson(json);
    expect(Buffer.from(ds.get(Tags.StudyInstanceUID)!.value!).toString('latin1')).toBe('2.25.1234\0');
    const back = toDicomJson(new Map([...ds, [Tags.SpecificCharacterSet, { tag: Tags.SpecificCharacterSet, vr: 'CS', value: Buffer.from('ISO_IR 192') }]]), { bulkDataUri: () => undefined });
    delete back['00080005'];
    expect(back).toEqual(json);
  });
});

describe('character sets', () => {
  const { encodingFor, decodeText } = require('../../src/dicom/charset');
  test('defined terms name their decoders', () => {
    expect(encodingFor('ISO_IR 192')).toBe('utf-8');
    expect(encodingFor('ISO_IR 100')).toBe('latin1');
    expect(encodingFor('ISO_IR 144')).toBe('iso-8859-5');
    expect(encodingFor('\\ISO 2022 IR 87')).toBe('iso-2022-jp');
    expect(encodingFor(undefined)).toBe('latin1');
    expect(decodeText(Buffer.from('Müller^Jürgen', 'utf8'), encodingFor('ISO_IR 192'))).toBe('Müller^Jürgen');
    // ISO 8859-5: 0xBB 0xD5 0xDF 0xD5 is "Лепе" (Cyrillic).
    expect(decodeText(Buffer.from([0xbb, 0xd5, 0xdf, 0xd5]), encodingFor('ISO_IR 144'))).toBe('Лепе');
  });
});
