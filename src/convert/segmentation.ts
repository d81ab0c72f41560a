/**
 * A label volume → a DICOM Segmentation (PS3.3 A.51, C.8.20), BINARY, on its source's slices:
 * same Rows/Columns and planes as the source images (a viewer overlays only a SEG that matches
 * its source's grid), one frame per segment and slice that has any voxel of it, with
 * PlanePosition, DerivationImage and SegmentIdentification per frame.
 */
import { Dataset } from '../dicom/dataset';
import { DicomJson } from '../dicom/json';
import { fromDicomJson } from '../dicom/from-json';
import { Tags } from '../dicom/tags';
import { VeilgateError } from '../errors';
import { randomUid } from '../dicom/uid';
import { LabelVolume } from '../processing/volume';
import { indexMap, resampleLabels } from '../processing/resample';
import { SegmentInfo } from '../processing/operations';
import { dicomLab, segmentRgb } from './segment-colour';
import { flipXY } from './geometry';
import { SliceStack } from './series-geometry';

const SEGMENTATION_STORAGE = '1.2.840.10008.5.1.4.1.1.66.4';

/** Attributes of the patient and study carried over from the source, as JSON. */
const FROM_SOURCE = [
  '00080020', '00080030', '00080050', '00080090', '00081030', '00100010', '00100020', '00100030', '00100040', '00101010',
  '00101020', '00101030', '00120062', '00120063', '00120064', '0020000D', '00200010', '00200052', '00201040', '00280303',
];

const code = (value: string, scheme: string, meaning: string): DicomJson => ({
  '00080100': { vr: 'SH', Value: [value] },
  '00080102': { vr: 'SH', Value: [scheme] },
  '00080104': { vr: 'LO', Value: [meaning] },
});

const ds = (n: number): number => Number(n.toPrecision(10));

export interface SegmentationInput {
  labels: LabelVolume;
  segments: SegmentInfo[];
  stack: SliceStack;
  /** The source's first instance as JSON metadata (de-identified): patient and study are copied. */
  sourceMetadata: DicomJson;
  sourceSeriesUID: string;
  seriesDescription: string;
  seriesNumber: number;
}

/** Whether a label volume lies on the grid exactly (then it needs no resampling). */
function sameGrid(labels: LabelVolume, grid: { dims: [number, number, number]; affine: number[][] }): boolean {
  if (labels.dims.some((d, i) => d !== grid.dims[i])) return false;
  let m: number[][];
  try {
    m = indexMap(labels, grid);
  } catch {
    return false;
  }
  return m.every((row, r) => row.every((v, c) => Math.abs(v - (r === c ? 1 : 0)) < 1e-6));
}

/**
 * Set bit `bit + i` of `out` (least significant bit first, PS3.5 8.1.1) for each pixel i in
 * [0, count) of `labels` from `from` that equals `segment`. Whole bytes at a time where the
 * frame starts on a byte.
 */
/** Byte labels [from, from + count) as 32-bit words, when they are bytes and aligned so. */
function wordsOf(labels: ArrayLike<number>, from: number, count: number): Uint32Array | undefined {
  if (!(labels instanceof Uint8Array) || (labels.byteOffset + from) % 4 !== 0) return undefined;
  return new Uint32Array(labels.buffer, labels.byteOffset + from, count >> 2);
}

function packFrame(labels: ArrayLike<number>, from: number, count: number, segment: number, out: Uint8Array, bit: number): void {
  let i = 0;
  // Up to the first whole byte.
  for (; i < count && (bit + i) & 7; i++) if (labels[from + i] === segment) out[(bit + i) >> 3] |= 1 << ((bit + i) & 7);
  const i0 = i;
  let byte = (bit + i) >> 3;
  const words = wordsOf(labels, from + i, count - i);
  for (; i + 8 <= count; i += 8, byte++) {
    const p = from + i;
    // Eight background labels (segment numbers start at 1) leave the byte 0.
    if (words && (words[(p - from - i0) >> 2] | words[((p - from - i0) >> 2) + 1]) === 0) continue;
    out[byte] =
      (labels[p] === segment ? 1 : 0) |
      (labels[p + 1] === segment ? 2 : 0) |
      (labels[p + 2] === segment ? 4 : 0) |
      (labels[p + 3] === segment ? 8 : 0) |
      (labels[p + 4] === segment ? 16 : 0) |
      (labels[p + 5] === segment ? 32 : 0) |
      (labels[p + 6] === segment ? 64 : 0) |
      (labels[p + 7] === segment ? 128 : 0);
  }
  for (; i < count; i++) if (labels[from + i] === segment) out[(bit + i) >> 3] |= 1 << ((bit + i) & 7);
}

export function labelsToSegmentation(input: SegmentationInput): Dataset {
  const { stack, segments } = input;
  const cols = stack.columns;
  const rows = stack.rows;
  const n = stack.slices.length;
  // The labels on the source stack's own grid: nearest neighbour, exact where the grids
  // coincide (as they do for a job's own result, which is then used as it is).
  const stackGrid = { dims: [cols, rows, n] as [number, number, number], affine: flipXY(stack.affine) };
  const onStack = sameGrid(input.labels, stackGrid) ? input.labels : resampleLabels(input.labels, stackGrid);
  const perSlice = cols * rows;
  const labels = onStack.data;

  // Which segment numbers occur on which slice: one pass over the labels.
  const seen = new Uint8Array(65536);
  const present = new Uint8Array(n * segments.length); // [slice][segment index]
  for (let k = 0; k < n; k++) {
    const base = k * perSlice;
    seen.fill(0);
    const words = wordsOf(labels, base, perSlice);
    if (words) {
      // Background is most of a slice: four labels at a time, looked at only when one is set.
      for (let w = 0; w < words.length; w++) {
        if (words[w] === 0) continue;
        const i = base + 4 * w;
        seen[labels[i]] = seen[labels[i + 1]] = seen[labels[i + 2]] = seen[labels[i + 3]] = 1;
      }
      for (let i = base + 4 * words.length; i < base + perSlice; i++) seen[labels[i]] = 1;
    } else {
      for (let i = 0; i < perSlice; i++) seen[labels[base + i]] = 1;
    }
    segments.forEach((s, j) => (present[k * segments.length + j] = s.number < 65536 ? seen[s.number] : 0));
  }
  const frames: { segment: number; slice: number }[] = [];
  segments.forEach((s, j) => {
    for (let k = 0; k < n; k++) if (present[k * segments.length + j]) frames.push({ segment: s.number, slice: k });
  });
  // A segment with no voxel still needs a frame for the object to be valid: an empty one on the first slice.
  for (const s of segments) if (!frames.some((f) => f.segment === s.number)) frames.push({ segment: s.number, slice: 0 });
  frames.sort((a, b) => a.segment - b.segment || a.slice - b.slice);
  if (frames.length > 2 ** 31) throw new VeilgateError('unprocessable', 'too many frames');

  // BINARY pixels: one bit per pixel, frames packed back to back (PS3.5 8.1.1), padded to even length.
  const bits = frames.length * perSlice;
  const pixels = new Uint8Array(Math.ceil(Math.ceil(bits / 8) / 2) * 2);
  frames.forEach((f, fi) => packFrame(labels, f.slice * perSlice, perSlice, f.segment, pixels, fi * perSlice));

  const src = input.sourceMetadata;
  const json: DicomJson = {};
  for (const t of FROM_SOURCE) if (src[t]) json[t] = src[t];
  const sourceDate = (src['00080023'] ?? src['00080020'])?.Value?.[0];
  const sourceTime = (src['00080033'] ?? src['00080030'])?.Value?.[0];
  const dimensionOrganization = randomUid();
  const iop = [...stack.rowDirection, ...stack.columnDirection];
  const spacing = src['00280030']?.Value ?? [1, 1];
  const referenced = stack.slices.map((s) => ({
    '00081150': { vr: 'UI', Value: [s.sopClassUID] },
    '00081155': { vr: 'UI', Value: [s.sopInstanceUID] },
  }));
  Object.assign(json, {
    '00080008': { vr: 'CS', Value: ['DERIVED', 'PRIMARY'] },
    '00080016': { vr: 'UI', Value: [SEGMENTATION_STORAGE] },
    '00080018': { vr: 'UI', Value: [randomUid()] },
    '00080023': { vr: 'DA', Value: [sourceDate ?? '19000101'] },
    '00080033': { vr: 'TM', Value: [sourceTime ?? '000000'] },
    '00080060': { vr: 'CS', Value: ['SEG'] },
    '00080070': { vr: 'LO', Value: ['Veilgate'] },
    '00081090': { vr: 'LO', Value: ['Veilgate gateway'] },
    '0008103E': { vr: 'LO', Value: [input.seriesDescription.slice(0, 64)] },
    '00081115': { vr: 'SQ', Value: [{ '0008114A': { vr: 'SQ', Value: referenced }, '0020000E': { vr: 'UI', Value: [input.sourceSeriesUID] } }] },
    '00181000': { vr: 'LO', Value: ['0'] },
    '00181020': { vr: 'LO', Value: ['veilgate'] },
    '0020000E': { vr: 'UI', Value: [randomUid()] },
    '00200011': { vr: 'IS', Value: [input.seriesNumber] },
    '00200013': { vr: 'IS', Value: [1] },
    '00201040': src['00201040'] ?? { vr: 'LO' },
    '00209221': { vr: 'SQ', Value: [{ '00209164': { vr: 'UI', Value: [dimensionOrganization] } }] },
    '00209222': {
      vr: 'SQ',
      Value: [
        { '00209164': { vr: 'UI', Value: [dimensionOrganization] }, '00209165': { vr: 'AT', Value: ['0062000B'] }, '00209167': { vr: 'AT', Value: ['0062000A'] }, '00209421': { vr: 'LO', Value: ['Segment Number'] } },
        { '00209164': { vr: 'UI', Value: [dimensionOrganization] }, '00209165': { vr: 'AT', Value: ['00200032'] }, '00209167': { vr: 'AT', Value: ['00209113'] }, '00209421': { vr: 'LO', Value: ['Image Position Patient'] } },
      ],
    },
    '00280002': { vr: 'US', Value: [1] },
    '00280004': { vr: 'CS', Value: ['MONOCHROME2'] },
    '00280008': { vr: 'IS', Value: [frames.length] },
    '00280010': { vr: 'US', Value: [rows] },
    '00280011': { vr: 'US', Value: [cols] },
    '00280100': { vr: 'US', Value: [1] },
    '00280101': { vr: 'US', Value: [1] },
    '00280102': { vr: 'US', Value: [0] },
    '00280103': { vr: 'US', Value: [0] },
    '00282110': { vr: 'CS', Value: ['00'] },
    '00620001': { vr: 'CS', Value: ['BINARY'] },
    '00620002': {
      vr: 'SQ',
      Value: segments.map((s) => ({
        '00620003': { vr: 'SQ', Value: [code(s.category.value, 'SCT', s.category.meaning)] },
        '00620004': { vr: 'US', Value: [s.number] },
        '00620005': { vr: 'LO', Value: [s.label] },
        '00620007': {
          vr: 'SQ',
          Value: [{ '0066002F': { vr: 'SQ', Value: [code('123109', 'DCM', 'Manual Processing')] }, '00660031': { vr: 'LO', Value: ['1'] }, '00660036': { vr: 'LO', Value: [s.algorithmName] } }],
        },
        '00620008': { vr: 'CS', Value: [s.algorithm] },
        '00620009': { vr: 'LO', Value: [s.algorithmName] },
        '0062000D': { vr: 'US', Value: dicomLab(segmentRgb(s.structure, s.number)) },
        '0062000F': { vr: 'SQ', Value: [code(s.type.value, 'SCT', s.type.meaning)] },
      })),
    },
    '00620013': { vr: 'CS', Value: ['NO'] },
    '00700080': { vr: 'CS', Value: ['SEGMENTATION'] },
    '00700081': { vr: 'LO', Value: [input.seriesDescription.slice(0, 64)] },
    '00700084': { vr: 'PN' },
    '52009229': {
      vr: 'SQ',
      Value: [
        {
          '00209116': { vr: 'SQ', Value: [{ '00200037': { vr: 'DS', Value: iop.map(ds) } }] },
          '00289110': {
            vr: 'SQ',
            Value: [{ '00180050': src['00180050'] ?? { vr: 'DS', Value: [1] }, '00280030': { vr: 'DS', Value: spacing } }],
          },
        },
      ],
    },
    '52009230': {
      vr: 'SQ',
      Value: frames.map((f) => {
        const s = stack.slices[f.slice];
        return {
          '00089124': {
            vr: 'SQ',
            Value: [
              {
                '00082112': {
                  vr: 'SQ',
                  Value: [
                    {
                      '00081150': { vr: 'UI', Value: [s.sopClassUID] },
                      '00081155': { vr: 'UI', Value: [s.sopInstanceUID] },
                      '0028135A': { vr: 'CS', Value: ['YES'] },
                      '0040A170': { vr: 'SQ', Value: [code('121322', 'DCM', 'Source image for image processing operation')] },
                    },
                  ],
                },
                '00089215': { vr: 'SQ', Value: [code('113076', 'DCM', 'Segmentation')] },
              },
            ],
          },
          '00209111': { vr: 'SQ', Value: [{ '00209157': { vr: 'UL', Value: [f.segment, f.slice + 1] } }] },
          '00209113': { vr: 'SQ', Value: [{ '00200032': { vr: 'DS', Value: s.position.map(ds) } }] },
          '0062000A': { vr: 'SQ', Value: [{ '0062000B': { vr: 'US', Value: [f.segment] } }] },
        };
      }),
    },
  });
  json['00080005'] = { vr: 'CS', Value: ['ISO_IR 192'] };
  const dataset = fromDicomJson(json);
  dataset.set(Tags.PixelData, { tag: Tags.PixelData, vr: 'OB', value: pixels });
  return dataset;
}
