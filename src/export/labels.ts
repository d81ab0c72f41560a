/**
 * A stored DICOM Segmentation → a NIfTI label map on its source image series' grid: segment
 * numbers as labels (0 background), written with the image NIfTI's own header (same dims, sform
 * and qform), so a reader gets the image's affine bit for bit. The inverse of
 * convert/segmentation.ts (labelsToSegmentation): frames are placed on the source's slice stack
 * by their DerivationImage (the referenced SOP Instance) or, failing that, their
 * ImagePositionPatient, then carried onto the image grid (exact where the grids coincide, as
 * they do for Veilgate's own SEGs; nearest neighbour otherwise).
 *
 * Pure: the export's worker thread runs it (labels-worker.ts); nothing here reads a store.
 */
import { gzipSync } from 'node:zlib';
import type { DicomJson } from '../dicom/json';
import type { SliceStack } from '../convert/series-geometry';
import { Affine, Vec3, cross, dot, flipXY, norm } from '../convert/geometry';
import { resampleLabels } from '../processing/resample';
import type { LabelVolume } from '../processing/volume';

export interface LabelMapInput {
  /** The SEG instances' metadata (PS3.18 JSON, PixelData as a BulkDataURI), in stored order. */
  segments: { metadata: DicomJson; pixels: Uint8Array }[];
  /** The referenced image series' slice stack (sliceStack of its metadata). */
  stack: SliceStack;
  /** The first 348 bytes (or more) of the image's uncompressed NIfTI-1: its header. */
  imageHeader: Uint8Array;
}

export interface CodeView {
  code: string;
  scheme: string;
  meaning: string;
}

export interface LabelEntry {
  label: number;
  segmentLabel: string;
  segmentedPropertyCategory?: CodeView;
  segmentedPropertyType?: CodeView;
  algorithmType?: string;
  /** Voxels of the label map holding this label. */
  voxels: number;
}

export interface LabelMapOutput {
  /** The label map, .nii.gz. */
  niiGz: Uint8Array;
  labels: LabelEntry[];
  /** Voxels claimed by more than one segment (the higher segment number wins). */
  overlappingVoxels: number;
}

const first = (j: DicomJson | undefined, tag: string): unknown => j?.[tag]?.Value?.[0];
const item = (j: DicomJson | undefined, tag: string): DicomJson | undefined => first(j, tag) as DicomJson | undefined;
const numbers = (j: DicomJson | undefined, tag: string): number[] => (j?.[tag]?.Value ?? []).map(Number);

function codeOf(j: DicomJson | undefined): CodeView | undefined {
  if (!j) return undefined;
  return { code: String(first(j, '00080100') ?? first(j, '00080119') ?? ''), scheme: String(first(j, '00080102') ?? ''), meaning: String(first(j, '00080104') ?? '') };
}

export class LabelMapError extends Error {}

/** The image grid the header states: dims and the sform (the affine readers use). */
function headerGrid(h: Uint8Array): { dims: [number, number, number]; affine: Affine } {
  const view = new DataView(h.buffer, h.byteOffset, h.byteLength);
  if (h.byteLength < 348 || view.getInt32(0, true) !== 348) throw new LabelMapError('the image NIfTI header is not little-endian NIfTI-1');
  const dims = [1, 2, 3].map((i) => view.getInt16(40 + 2 * i, true)) as [number, number, number];
  if (view.getInt16(254, true) <= 0) throw new LabelMapError('the image NIfTI has no sform');
  const affine = [0, 1, 2].map((r) => [0, 1, 2, 3].map((c) => view.getFloat32(280 + 16 * r + 4 * c, true)));
  affine.push([0, 0, 0, 1]);
  return { dims, affine };
}

/** The label voxels behind the image's own header: a 3-D NIFTI_INTENT_LABEL volume, integer labels, no scaling. */
function labelNifti(imageHeader: Uint8Array, labels: Uint8Array | Uint16Array, max: number): Uint8Array {
  const header = Buffer.alloc(352);
  header.set(imageHeader.subarray(0, 348));
  const view = new DataView(header.buffer, header.byteOffset, 352);
  view.setInt16(40, 3, true); // dim[0]
  view.setInt16(48, 1, true); // dim[4]
  for (let i = 5; i < 8; i++) view.setInt16(40 + 2 * i, 1, true);
  view.setFloat32(56, 0, true); // intent_p1..p3
  view.setFloat32(60, 0, true);
  view.setFloat32(64, 0, true);
  view.setInt16(68, 1002, true); // intent_code: NIFTI_INTENT_LABEL
  const u16 = labels instanceof Uint16Array;
  view.setInt16(70, u16 ? 512 : 2, true); // datatype: uint16 / uint8
  view.setInt16(72, u16 ? 16 : 8, true); // bitpix
  view.setFloat32(108, 352, true); // vox_offset
  view.setFloat32(112, 1, true); // scl_slope
  view.setFloat32(116, 0, true); // scl_inter
  view.setFloat32(124, max, true); // cal_max
  view.setFloat32(128, 0, true); // cal_min
  header.fill(0, 148, 228);
  header.write('Veilgate SEG label map', 148, 'latin1');
  header.fill(0, 228, 252); // aux_file
  header.fill(0, 348, 352); // no extensions
  const voxels = Buffer.from(labels.buffer, labels.byteOffset, labels.byteLength);
  return gzipSync(Buffer.concat([header, voxels]), { level: 6 });
}

export function segmentationLabelMap(input: LabelMapInput): LabelMapOutput {
  const { stack } = input;
  const cols = stack.columns;
  const rows = stack.rows;
  const n = stack.slices.length;
  const perSlice = cols * rows;
  const bySop = new Map(stack.slices.map((s, k) => [s.sopInstanceUID, k]));
  const normal = cross(stack.rowDirection, stack.columnDirection);
  const step = n > 1 ? norm([stack.slices[1].position[0] - stack.slices[0].position[0], stack.slices[1].position[1] - stack.slices[0].position[1], stack.slices[1].position[2] - stack.slices[0].position[2]]) : 1;
  const heights = stack.slices.map((s) => dot(s.position, normal));
  const table = new Map<number, LabelEntry>();
  let maxLabel = 0;
  for (const seg of input.segments) {
    for (const s of seg.metadata['00620002']?.Value ?? []) {
      const j = s as DicomJson;
      const label = Number(first(j, '00620004'));
      if (!Number.isInteger(label) || label < 1 || label > 65535) continue;
      maxLabel = Math.max(maxLabel, label);
      table.set(label, {
        label,
        segmentLabel: String(first(j, '00620005') ?? ''),
        segmentedPropertyCategory: codeOf(item(j, '00620003')),
        segmentedPropertyType: codeOf(item(j, '0062000F')),
        algorithmType: first(j, '00620008') === undefined ? undefined : String(first(j, '00620008')),
        voxels: 0,
      });
    }
  }
  if (!table.size) throw new LabelMapError('the segmentation names no segment');
  const onStack = maxLabel > 255 ? new Uint16Array(perSlice * n) : new Uint8Array(perSlice * n);
  let overlapping = 0;

  for (const seg of input.segments) {
    const m = seg.metadata;
    const segRows = Number(first(m, '00280010'));
    const segCols = Number(first(m, '00280011'));
    if (segRows !== rows || segCols !== cols) throw new LabelMapError(`the segmentation's frames are ${segCols}×${segRows}, its source's slices ${cols}×${rows}`);
    const frames = Number(first(m, '00280008') ?? 1);
    const type = String(first(m, '00620001') ?? 'BINARY');
    const bits = Number(first(m, '00280100') ?? 1);
    if (type === 'BINARY' && bits !== 1) throw new LabelMapError('a BINARY segmentation must have 1 bit per pixel');
    if (type === 'FRACTIONAL' && bits !== 8) throw new LabelMapError('a FRACTIONAL segmentation must have 8 bits per pixel');
    if (type !== 'BINARY' && type !== 'FRACTIONAL') throw new LabelMapError(`segmentation type ${type} is not supported`);
    const threshold = type === 'FRACTIONAL' ? Math.max(1, Math.ceil(Number(first(m, '00620014') ?? 255) / 2)) : 1;
    const need = type === 'BINARY' ? Math.ceil((frames * perSlice) / 8) : frames * perSlice;
    if (seg.pixels.length < need) throw new LabelMapError('the segmentation\'s pixel data is shorter than its frames');
    const shared = item(m, '52009229');
    const perFrame = (m['52009230']?.Value ?? []) as DicomJson[];
    for (let f = 0; f < frames; f++) {
      const pf = perFrame[f];
      const segment = Number(first(item(pf, '0062000A'), '0062000B') ?? first(item(shared, '0062000A'), '0062000B'));
      if (!table.has(segment)) throw new LabelMapError(`frame ${f + 1} names segment ${segment}, which the segmentation does not describe`);
      // The slice: the referenced source image, else the plane position along the stack's normal.
      const source = first(item(item(pf, '00089124'), '00082112'), '00081155') as string | undefined;
      let k = source === undefined ? undefined : bySop.get(source);
      if (k === undefined) {
        const ipp = numbers(item(pf, '00209113'), '00200032') as Vec3;
        if (ipp.length !== 3) throw new LabelMapError(`frame ${f + 1} has neither a source image of the series nor a plane position`);
        const h = dot(ipp, normal);
        let best = 0;
        for (let i = 1; i < n; i++) if (Math.abs(heights[i] - h) < Math.abs(heights[best] - h)) best = i;
        const d = [0, 1, 2].map((a) => ipp[a] - stack.slices[best].position[a]) as Vec3;
        if (Math.abs(heights[best] - h) > step / 2 || Math.abs(dot(d, stack.rowDirection)) > 1e-2 || Math.abs(dot(d, stack.columnDirection)) > 1e-2) {
          throw new LabelMapError(`frame ${f + 1} lies on no slice of the source series`);
        }
        k = best;
      }
      const base = k * perSlice;
      const bit0 = f * perSlice;
      for (let p = 0; p < perSlice; p++) {
        const on = type === 'BINARY' ? (seg.pixels[(bit0 + p) >> 3] >> ((bit0 + p) & 7)) & 1 : seg.pixels[bit0 + p] >= threshold ? 1 : 0;
        if (!on) continue;
        const was = onStack[base + p];
        if (was && was !== segment) overlapping++;
        if (segment > was) onStack[base + p] = segment;
      }
    }
  }

  // Stack voxel (column, row, slice) → RAS: the stack's LPS affine flipped, as labelsToSegmentation reads it.
  const image = headerGrid(input.imageHeader);
  const labels: LabelVolume = { dims: [cols, rows, n], affine: flipXY(stack.affine), data: onStack };
  const onImage = resampleLabels(labels, image);
  for (let i = 0; i < onImage.data.length; i++) {
    const v = onImage.data[i];
    if (v) table.get(v)!.voxels++;
  }
  return { niiGz: labelNifti(input.imageHeader, onImage.data, maxLabel), labels: [...table.values()].sort((a, b) => a.label - b.label), overlappingVoxels: overlapping };
}
