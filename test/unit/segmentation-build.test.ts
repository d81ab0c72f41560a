/**
 * DICOM SEG pixel data: one frame per segment and slice with any voxel of it, bits packed
 * least significant first and frames back to back (PS3.5 8.1.1), also when a frame does not
 * start on a byte; the same object whether the labels lie on the stack's grid or on one with
 * its rows reversed (as dcm2niix writes them).
 */
import { flipXY, multiply } from '../../src/convert/geometry';
import { labelsToSegmentation } from '../../src/convert/segmentation';
import { SliceStack } from '../../src/convert/series-geometry';
import { Tags } from '../../src/dicom/tags';
import { LabelVolume } from '../../src/processing/volume';

const N = 4;
const stackOf = (COLS: number, ROWS: number): SliceStack => ({
  slices: Array.from({ length: N }, (_, k) => ({ sopInstanceUID: `2.25.${k + 1}`, sopClassUID: '1.2.840.10008.5.1.4.1.1.2', position: [-10, -20, 2 * k] })),
  rows: ROWS,
  columns: COLS,
  rowDirection: [1, 0, 0],
  columnDirection: [0, 1, 0],
  affine: [[0.5, 0, 0, -10], [0, 0.5, 0, -20], [0, 0, 2, 0], [0, 0, 0, 1]],
  uneven: false,
});

function labels(COLS: number, ROWS: number): Uint8Array {
  let s = 7;
  const data = new Uint8Array(COLS * ROWS * N).map(() => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % 7 < 4 ? 0 : s % 7 < 6 ? 1 : 2; // mostly background, runs of it too
  });
  data.fill(0, 0, 9); // eight background labels and more
  // Slice 2 has no segment 2; slice 3 has nothing.
  for (let i = 2 * COLS * ROWS; i < 3 * COLS * ROWS; i++) if (data[i] === 2) data[i] = 1;
  data.fill(0, 3 * COLS * ROWS);
  return data;
}

function build(l: LabelVolume, stack: SliceStack) {
  const segment = (number: number) => ({ number, label: `S${number}`, algorithm: 'AUTOMATIC' as const, algorithmName: 'test', category: { value: '91723000', meaning: 'Anatomical Structure' }, type: { value: '272673000', meaning: 'Bone' } });
  return labelsToSegmentation({ labels: l, segments: [segment(1), segment(2)], stack, sourceMetadata: {}, sourceSeriesUID: '2.25.99', seriesDescription: 'test', seriesNumber: 1 });
}

test.each([[5, 3], [8, 4], [16, 5]])('frames and bits on %i×%i slices, on the stack grid and on a grid with reversed rows', (COLS, ROWS) => {
  // 15 pixels a frame: frames start mid-byte; 32 and 80: whole bytes (read four labels at a time).
  const stack = stackOf(COLS, ROWS);
  const data = labels(COLS, ROWS);
  const onStack: LabelVolume = { dims: [COLS, ROWS, N], affine: flipXY(stack.affine), data };
  // The same labels with rows reversed: row j' holds row ROWS - 1 - j'.
  const reversed = new Uint8Array(data.length);
  for (let k = 0; k < N; k++) for (let j = 0; j < ROWS; j++) for (let i = 0; i < COLS; i++) reversed[i + COLS * (ROWS - 1 - j + ROWS * k)] = data[i + COLS * (j + ROWS * k)];
  const flipped: LabelVolume = { dims: [COLS, ROWS, N], affine: multiply(flipXY(stack.affine), [[1, 0, 0, 0], [0, -1, 0, ROWS - 1], [0, 0, 1, 0], [0, 0, 0, 1]]), data: reversed };

  // Expected: a frame for each segment and slice that has it, by segment then slice.
  const per = COLS * ROWS;
  const frames: number[][] = [];
  for (const s of [1, 2]) for (let k = 0; k < N; k++) if (data.subarray(k * per, (k + 1) * per).includes(s)) frames.push([s, k]);
  expect(frames.some(([s]) => s === 2)).toBe(true);
  expect(frames.some(([, k]) => k === 3)).toBe(false);
  const want = new Uint8Array(Math.ceil(Math.ceil((frames.length * per) / 8) / 2) * 2);
  frames.forEach(([s, k], f) => {
    for (let i = 0; i < per; i++) if (data[k * per + i] === s) want[(f * per + i) >> 3] |= 1 << ((f * per + i) % 8);
  });

  for (const l of [onStack, flipped]) {
    const seg = build(l, stack);
    expect(Buffer.from(seg.get(Tags.NumberOfFrames)!.value!).toString().trim()).toBe(String(frames.length));
    expect(Array.from(seg.get(Tags.PixelData)!.value!)).toEqual(Array.from(want));
    const perFrame = seg.get(0x52009230)!.items!;
    expect(perFrame).toHaveLength(frames.length);
  }
});
