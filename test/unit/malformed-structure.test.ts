/**
 * Item and delimiter tags where a data element should be (PS3.5 7.5), on real files: an Item
 * appended after the last element, an item duplicated inside a defined-length sequence, an
 * item length doubled. Each makes the lengths around it stop nesting, so the parser refuses the
 * instance (ingest answers "cannot understand") instead of storing the Item as an element, and
 * the writer never emits a group FFFE tag as an element whatever it is given.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DicomParseError, parsePart10 } from '../../src/dicom/parse';
import { DicomWriteError, writePart10 } from '../../src/dicom/write';
import { Dataset, tag } from '../../src/dicom/dataset';
import { Tags } from '../../src/dicom/tags';
import { TS } from '../../src/dicom/transfer-syntax';
import { identify } from '../../src/ingest/validate';
import { LayoutNode, Sample, encodeMeta, loadSample } from '../support/mutations';

const DATA = path.resolve(__dirname, '../../../shared/data');
const UNDEFINED = 0xffffffff;

/** The sample as a Part 10 file again, with another data set body. */
function part10(s: Sample, body: Buffer): Buffer {
  const preamble = Buffer.alloc(132);
  preamble.write('DICM', 128, 'latin1');
  return Buffer.concat([preamble, encodeMeta(s.meta), body]);
}

function u32(n: number, le: boolean): Buffer {
  const b = Buffer.alloc(4);
  if (le) b.writeUInt32LE(n);
  else b.writeUInt32BE(n);
  return b;
}

/** A defined-length item inside a defined-length sequence, and that sequence. */
function itemInDefinedSequence(s: Sample): { item: LayoutNode; seq: LayoutNode } {
  for (const item of s.nodes) {
    if (item.kind !== 'item' || item.length === UNDEFINED) continue;
    const seq = s.nodes.find((n) => n.kind === 'element' && n.length !== UNDEFINED && n.valueOffset <= item.offset && item.offset < n.end && n.depth === item.depth - 1);
    if (seq) return { item, seq };
  }
  throw new Error(`${s.name} has no defined-length item in a defined-length sequence`);
}

function refused(bytes: Buffer): DicomParseError {
  try {
    parsePart10(bytes);
  } catch (e) {
    expect(e).toBeInstanceOf(DicomParseError);
    return e as DicomParseError;
  }
  throw new Error('parsed, but it should have been refused');
}

describe('an Item tag outside a sequence', () => {
  const ITEM_ABCD = Buffer.from([0xfe, 0xff, 0x00, 0xe0, 0x04, 0x00, 0x00, 0x00, 0x41, 0x42, 0x43, 0x44]);

  test('appended to an implicit VR file (MR_small_implicit.dcm): refused, not stored as an element', () => {
    const file = fs.readFileSync(path.join(DATA, 'pydicom/MR_small_implicit.dcm'));
    expect(() => parsePart10(file)).not.toThrow(); // the file itself is fine
    const e = refused(Buffer.concat([file, ITEM_ABCD]));
    expect(e.message).toMatch(/Item \(FFFE,E000\) outside a sequence/);
  });

  test('appended to an explicit VR file (CT_small.dcm): refused', () => {
    const file = fs.readFileSync(path.join(DATA, 'pydicom/CT_small.dcm'));
    expect(refused(Buffer.concat([file, ITEM_ABCD])).message).toMatch(/outside a sequence/);
  });

  test('another group FFFE tag where an element should be: refused', () => {
    const file = fs.readFileSync(path.join(DATA, 'pydicom/MR_small_implicit.dcm'));
    const odd = Buffer.from([0xfe, 0xff, 0x34, 0x12, 0x02, 0x00, 0x00, 0x00, 0x41, 0x42]);
    expect(refused(Buffer.concat([file, odd])).message).toMatch(/\(FFFE,1234\)/);
  });

  test('stray delimiters (no value) are still skipped, as some writers emit them', () => {
    const file = fs.readFileSync(path.join(DATA, 'pydicom/MR_small_implicit.dcm'));
    const seqDelim = Buffer.from([0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0]);
    const parsed = parsePart10(Buffer.concat([file, seqDelim]));
    expect([...parsed.dataset.keys()].some((t) => t >>> 16 === 0xfffe)).toBe(false);
  });
});

describe('lengths that do not nest', () => {
  test('an item duplicated in a defined-length sequence (rtdose.dcm, implicit VR): refused', () => {
    const s = loadSample(DATA, 'pydicom/rtdose.dcm');
    const { item } = itemInDefinedSequence(s);
    const body = Buffer.concat([s.body.subarray(0, item.end), s.body.subarray(item.offset, item.end), s.body.subarray(item.end)]);
    expect(() => parsePart10(part10(s, s.body))).not.toThrow();
    refused(part10(s, body));
  });

  test('an item duplicated in a defined-length sequence (test-SR.dcm, explicit VR): refused', () => {
    const s = loadSample(DATA, 'pydicom/test-SR.dcm');
    const { item } = itemInDefinedSequence(s);
    const body = Buffer.concat([s.body.subarray(0, item.end), s.body.subarray(item.offset, item.end), s.body.subarray(item.end)]);
    refused(part10(s, body));
  });

  test('an item length doubled (seg_image_ct_binary.dcm, depth 3 as the fuzzer found it): refused', () => {
    const s = loadSample(DATA, 'highdicom/data/test_files/seg_image_ct_binary.dcm');
    const items = s.nodes.filter((n) => n.kind === 'item' && n.length !== UNDEFINED && n.length > 0 && n.depth >= 3);
    expect(items.length).toBeGreaterThan(0);
    for (const item of items.slice(0, 5)) {
      const body = Buffer.from(s.body);
      u32(item.length * 2, s.enc.littleEndian).copy(body, item.lengthOffset);
      refused(part10(s, body));
    }
  });

  test('an item running past the end of its defined-length sequence: refused', () => {
    const s = loadSample(DATA, 'pydicom/rtdose.dcm');
    const { seq } = itemInDefinedSequence(s);
    const body = Buffer.from(s.body);
    // The sequence now claims 8 bytes less than its items take.
    u32(seq.length - 8, s.enc.littleEndian).copy(body, seq.lengthOffset);
    refused(part10(s, body));
  });

  test('every shipped sample whose lengths nest still parses and identifies', () => {
    for (const name of ['pydicom/rtdose.dcm', 'highdicom/data/test_files/seg_image_ct_binary.dcm', 'dcmqi/data/segmentations/liver.dcm', 'pydicom/nested_priv_SQ.dcm', 'pydicom/test-SR.dcm']) {
      const parsed = parsePart10(fs.readFileSync(path.join(DATA, name)));
      if (parsed.dataset.has(Tags.SOPInstanceUID)) expect(() => identify(parsed.dataset)).not.toThrow();
    }
  });
});

describe('the writer', () => {
  const file = () => parsePart10(fs.readFileSync(path.join(DATA, 'pydicom/CT_small.dcm')));
  const meta = (ds: Dataset) => ({ ...identify(ds), transferSyntaxUID: TS.ExplicitVRLittleEndian });

  test('refuses a group FFFE tag as an element, at the top and inside an item', () => {
    const top = file().dataset;
    top.set(Tags.Item, { tag: Tags.Item, vr: 'UN', value: new Uint8Array([0x41, 0x42, 0x43, 0x44]) });
    expect(() => writePart10(top, meta(top))).toThrow(DicomWriteError);

    const nested = file().dataset;
    const inner: Dataset = new Map([[Tags.SequenceDelimitationItem, { tag: Tags.SequenceDelimitationItem, vr: 'UN', value: new Uint8Array(0) }]]);
    const seqTag = tag(0x0008, 0x1140); // ReferencedImageSequence
    nested.set(seqTag, { tag: seqTag, vr: 'SQ', items: [inner] });
    expect(() => writePart10(nested, meta(nested))).toThrow(/item or delimiter tag/);
  });

  test('still writes the real file, which parses back', () => {
    const ds = file().dataset;
    const out = Buffer.concat(writePart10(ds, meta(ds)).chunks);
    expect(parsePart10(out).dataset.size).toBe(ds.size);
  });
});
