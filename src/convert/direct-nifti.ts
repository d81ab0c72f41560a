/**
 * Series → NIfTI without dcm2niix, for plain stacks of single-frame slices (see
 * direct-eligibility.ts): the stored frames are streamed from the blob store into one
 * NIfTI-1 buffer, rows and slices in dcm2niix's order, under the header dcm2niix would
 * write (direct-geometry.ts reproduces its arithmetic). No file is copied into a
 * WebAssembly file system, and only the output volume is held in memory.
 */
import type { BlobStore } from '../store/blob-store';
import { Dataset, tag } from '../dicom/dataset';
import { parsePart10 } from '../dicom/parse';
import type { Dcm2niixFile } from './dcm2niix';
import { DirectStack } from './direct-eligibility';
import { FLT_EPSILON, FVec, dicom2mat, flipAxis, isSameFloatGE, lpsToRas, mat44ToQuatern, verifySliceDir } from './direct-geometry';
import { formatFixed, formatG } from './direct-format';
import { directSidecar } from './direct-sidecar';
import { FlipFramesInput, placeSlices } from './place-slices';
import { owned } from '../workers/transfer';

const f = Math.fround;

/** What dcm2niix reads from the first slice (dcmStr, atof and dcmMultiFloat semantics). */
export class RawSlice {
  constructor(readonly ds: Dataset) {}

  /** dcm2niix's dcmStr: the bytes as text, one trailing space dropped, at most max − 1 characters. */
  text(group: number, element: number, max = 66): string | undefined {
    const el = this.ds.get(tag(group, element));
    if (!el?.value || el.value.length === 0) return undefined;
    let s = Buffer.from(el.value.buffer, el.value.byteOffset, el.value.byteLength).toString('latin1');
    if (s.endsWith(' ')) s = s.slice(0, -1);
    const nul = s.indexOf('\0');
    if (nul >= 0) s = s.slice(0, nul);
    let len = s.length < max ? s.length + 1 : max;
    if (len === max && s[len - 2] === '_') len -= 2;
    return s.slice(0, len - 1);
  }

  /** dcmStrFloat: atof of the whole value, in single precision. */
  float(group: number, element: number): number | undefined {
    const s = this.text(group, element, 1 << 20);
    return s === undefined ? undefined : f(atof(s));
  }

  double(group: number, element: number): number | undefined {
    const s = this.text(group, element, 1 << 20);
    return s === undefined ? undefined : atof(s);
  }

  /** An FD value (binary double). */
  fd(group: number, element: number): number | undefined {
    const el = this.ds.get(tag(group, element));
    if (!el?.value || el.value.length < 8) return undefined;
    return new DataView(el.value.buffer, el.value.byteOffset, 8).getFloat64(0, true);
  }

  /** dcmMultiFloat: values split at '\', '/' or ' ' once a digit has been seen. */
  floats(group: number, element: number, n: number): FVec | undefined {
    const s = this.text(group, element, 1 << 20);
    if (s === undefined) return undefined;
    const out: FVec = [];
    let start = 0;
    let ok = false;
    for (let i = 0; i <= s.length; i++) {
      const c = s[i];
      if (c !== undefined && c >= '0' && c <= '9') ok = true;
      if (ok && (i === s.length || c === '/' || c === ' ' || c === '\\')) {
        if (out.length < n) out.push(f(atof(s.slice(start, i))));
        ok = false;
        start = i + 1;
      }
    }
    return out.length === n ? out : undefined;
  }

  has(group: number, element: number): boolean {
    return !!this.ds.get(tag(group, element))?.value?.length;
  }
}

/** C atof: the longest decimal prefix after leading white space (0 when there is none). */
export function atof(s: string): number {
  const m = /^[ \t\n\v\f\r]*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)/.exec(s);
  return m ? Number(m[1]) : 0;
}

export const NIFTI_INT16 = 4;
export const NIFTI_UINT8 = 2;
export const NIFTI_INT32 = 8;
export const NIFTI_UINT16 = 512;

export interface DirectHeader {
  /** The 348-byte header and the 4-byte empty extension flag. */
  bytes: Buffer;
  /** Slices are written last to first (dcm2niix's nii_flipZ). */
  flipZ: boolean;
  /** Unsigned 12-bit data stored as INT16 has its top nibble cleared (nii_mask12bit). */
  mask12: boolean;
  datatype: number;
  /** Values the sidecar needs. */
  fields: HeaderFields;
}

export interface HeaderFields {
  te: number;
  tr: number;
  isXRay: boolean;
  acquisitionTime: number;
  acquisitionDate: number;
  orient: FVec;
  phaseRC: string;
}

/** The NIfTI header dcm2niix writes for this stack, or why it cannot be reproduced. */
export function directHeader(stack: DirectStack, first: RawSlice): { ok: true; header: DirectHeader } | { ok: false; reason: string } {
  const refuse = (reason: string) => ({ ok: false as const, reason });
  const n = stack.slices.length;
  const orient = first.floats(0x0020, 0x0037, 6);
  const position = first.floats(0x0020, 0x0032, 3);
  const yx = first.floats(0x0028, 0x0030, 2);
  if (!orient || !position || !yx) return refuse('the first slice has no readable geometry');
  if (orient.every((v) => v === 0)) return refuse('zero ImageOrientationPatient');
  // JSON metadata and the stored bytes must agree (they are the same file).
  if (position.some((v, i) => Math.abs(v - stack.slices[0].position[i]) > 0)) return refuse('metadata and stored header disagree');
  const xyzMM1 = yx[1];
  const xyzMM2 = yx[0];
  let xyzMM3 = first.has(0x0018, 0x0050) ? first.float(0x0018, 0x0050)! : 1;
  const zSpacing = first.has(0x0018, 0x0088) ? first.float(0x0018, 0x0088)! : 0;
  if (zSpacing > 0) xyzMM3 = zSpacing;
  if (xyzMM3 < FLT_EPSILON) xyzMM3 = 1;
  if (xyzMM1 < FLT_EPSILON || xyzMM2 < FLT_EPSILON) return refuse('zero pixel spacing');
  const slope = first.has(0x0028, 0x1053) ? first.float(0x0028, 0x1053)! : 1;
  const intercept = first.has(0x0028, 0x1052) ? first.float(0x0028, 0x1052)! : 0;
  if (!Number.isFinite(slope) || !Number.isFinite(intercept) || slope === 0) return refuse('unusable rescale');
  const tr = first.has(0x0018, 0x0080) ? first.float(0x0018, 0x0080)! : 0;
  // Echo time as dcm2niix keeps it: the first positive of EchoTime, then XRayExposure (CT), then EffectiveEchoTime.
  let te = 0;
  let isXRay = false;
  const echo = first.float(0x0018, 0x0081);
  if (echo !== undefined && te <= 0) te = echo;
  if (first.has(0x0018, 0x1152) && te === 0) {
    isXRay = true;
    te = first.float(0x0018, 0x1152)!;
  }
  const effective = first.fd(0x0018, 0x9082);
  if (effective !== undefined && te <= 0) te = f(effective);
  let acquisitionTime = first.has(0x0008, 0x0032) ? atof(first.text(0x0008, 0x0032)!) : 0;
  let acquisitionDate = first.has(0x0008, 0x0022) ? atof(first.text(0x0008, 0x0022)!) : 0;
  const dateTime = first.text(0x0008, 0x002a) ?? '';
  if (dateTime.length > 13 && Math.abs(f(acquisitionTime)) <= FLT_EPSILON && Math.abs(f(acquisitionDate)) <= FLT_EPSILON) {
    acquisitionDate = atof(dateTime.slice(0, 8));
    acquisitionTime = atof(dateTime.slice(8));
  }
  const comments = first.text(0x0020, 0x4000, 256) ?? '';
  const phaseRC = (first.text(0x0018, 0x1312) ?? '?')[0]?.toUpperCase() ?? '?';

  // dcm2niix: pixdim[3] keeps the slice thickness unless the measured distance differs by more than 1e-4.
  let pixdim3 = xyzMM3;
  if (n > 1 && stack.dx > 0 && !isSameFloatGE(stack.dx, pixdim3)) pixdim3 = stack.dx;
  let q = dicom2mat(orient, position, [xyzMM1, xyzMM2, n > 1 ? stack.dx : xyzMM3]);
  const sliceDir = verifySliceDir(q, n, stack.slices[1]?.position, position);
  if (Number.isNaN(sliceDir)) return refuse('slice direction cannot be determined');
  lpsToRas(q);
  const flipZ = sliceDir < 0;
  if (flipZ) q = flipAxis(q, 2, n);
  q = flipAxis(q, 1, stack.rows);
  if (q.some((row) => row.some((v) => !Number.isFinite(v)))) return refuse('non-finite geometry');
  const quat = mat44ToQuatern(q);

  let datatype: number;
  if (stack.bitsAllocated === 8) datatype = NIFTI_UINT8;
  else if (stack.bitsAllocated === 32) datatype = NIFTI_INT32;
  else if (stack.signed || stack.bitsStored < 16) datatype = NIFTI_INT16;
  else datatype = NIFTI_UINT16;
  const mask12 = stack.bitsStored === 12 && stack.bitsAllocated === 16 && datatype === NIFTI_INT16;

  let descrip = stack.modality === 'MR' ? `TE=${formatG(te, 2)};Time=${formatFixed(acquisitionTime, 3)}` : `Time=${formatFixed(acquisitionTime, 3)}`;
  descrip = descrip.slice(0, 79);
  let aux = comments.slice(0, 23);
  if (aux === '\t') aux = '';

  const b = Buffer.alloc(352);
  b.writeInt32LE(348, 0);
  b[38] = 114; // regular = 'r'
  if (phaseRC === 'R') b[39] = (3 << 4) + (1 << 2) + 2;
  if (phaseRC === 'C') b[39] = (3 << 4) + (2 << 2) + 1;
  [3, stack.columns, stack.rows, n, 1, 1, 1, 1].forEach((d, i) => b.writeInt16LE(d, 40 + 2 * i));
  b.writeInt16LE(datatype, 70);
  b.writeInt16LE(stack.bitsAllocated, 72);
  [quat.qfac, xyzMM1, xyzMM2, pixdim3, f(tr / 1000), 0, 0, 0].forEach((p, i) => b.writeFloatLE(p, 76 + 4 * i));
  b.writeFloatLE(352, 108);
  b.writeFloatLE(slope, 112);
  b.writeFloatLE(intercept, 116);
  b[123] = 10; // xyzt_units: mm, s
  b.write(descrip, 148, 'latin1');
  b.write(aux, 228, 'latin1');
  b.writeInt16LE(1, 252); // qform_code: scanner anatomical
  b.writeInt16LE(1, 254); // sform_code
  [quat.b, quat.c, quat.d, quat.x, quat.y, quat.z].forEach((v, i) => b.writeFloatLE(v, 256 + 4 * i));
  for (let r = 0; r < 3; r++) for (let c = 0; c < 4; c++) b.writeFloatLE(q[r][c], 280 + 16 * r + 4 * c);
  b.write('n+1\0', 344, 'latin1');
  return { ok: true, header: { bytes: b, flipZ, mask12, datatype, fields: { te, tr, isXRay, acquisitionTime, acquisitionDate, orient, phaseRC } } };
}

/** dcm2niix's output name for "-f %s_%p": series number and protocol name. */
function outputName(first: RawSlice): string {
  const series = first.text(0x0020, 0x0011) ?? '';
  const protocol = first.text(0x0018, 0x1030) || first.text(0x0008, 0x103e) || '';
  const clean = `${atof(series) || ''}_${protocol}`.replace(/[^A-Za-z0-9._-]/g, '_').replace(/_+/g, '_').replace(/_$/, '');
  return clean || 'volume';
}

const READ_CONCURRENCY = 8;
/** Frames handed to the worker at a time. */
const PLACE_BATCH = 8;
/** Frames read and not yet copied into the volume, at most: what this thread holds beyond the output volume. */
const IN_FLIGHT = 2 * PLACE_BATCH + READ_CONCURRENCY;

/**
 * Puts frames in NIfTI row order on another thread (series-nifti.ts: the worker pool's
 * place-slices task) and answers the same frames: moved there and back, so no thread but this
 * one keeps a handle on them or on the volume.
 */
export type FrameFlipper = (input: FlipFramesInput) => Promise<Uint8Array[]>;

/**
 * Write the stack as a single-file NIfTI and its BIDS sidecar. Frames are read a few at a
 * time and placed into the output (rows reversed, as dcm2niix stores them): one at a time on
 * this thread, or put in order a batch at a time by `flip` and then copied into place here.
 */
export async function writeDirectNifti(store: BlobStore, stack: DirectStack, flip?: FrameFlipper): Promise<{ ok: true; nii: Dcm2niixFile; json: Dcm2niixFile } | { ok: false; reason: string }> {
  const n = stack.slices.length;
  const s0 = stack.slices[0];
  const firstFile = await store.read(s0.instance.blobKey, [{ start: 0, end: s0.instance.size - 1 }]);
  const raw = new RawSlice(parsePart10(firstFile).dataset);
  const made = directHeader(stack, raw);
  if (!made.ok) return made;
  const { header } = made;
  const bytesPerVoxel = stack.bitsAllocated / 8;
  const rowBytes = stack.columns * bytesPerVoxel;
  const sliceBytes = rowBytes * stack.rows;
  // Shared memory: a job's thread reads a cached volume in place.
  const out = new Uint8Array(new SharedArrayBuffer(352 + n * sliceBytes));
  out.set(header.bytes, 0);
  const zOf = (i: number) => (header.flipZ ? n - 1 - i : i);
  const common = { out, voxelOffset: 352, rows: stack.rows, rowBytes, mask12: header.mask12 };
  // The first file stays readable here (its header is the sidecar's source): its frame is copied.
  const firstFrame = firstFile.slice(s0.pixels.offset, s0.pixels.offset + sliceBytes);
  let next = 1;

  if (!flip) {
    placeSlices({ ...common, slices: [{ pixels: firstFrame, z: zOf(0) }] });
    const reader = async () => {
      while (next < n) {
        const i = next++;
        const s = stack.slices[i];
        const pixels = await store.read(s.instance.blobKey, [{ start: s.pixels.offset, end: s.pixels.offset + s.pixels.length - 1 }]);
        placeSlices({ ...common, slices: [{ pixels, z: zOf(i) }] }); // one frame at a time: no long stretch on this thread
      }
    };
    await Promise.all(Array.from({ length: Math.min(READ_CONCURRENCY, Math.max(0, n - 1)) }, reader));
  } else {
    let batch: { pixels: Uint8Array; z: number }[] = [{ pixels: firstFrame, z: zOf(0) }];
    let inFlight = 1;
    const waiting: (() => void)[] = [];
    const placing: Promise<void>[] = [];
    const flush = () => {
      if (!batch.length) return;
      const b = batch;
      batch = [];
      const done = flip({ rows: stack.rows, rowBytes, mask12: header.mask12, frames: b.map((x) => x.pixels) }).then((frames) => {
        // A copy per frame, into its place: all this thread does with the pixels.
        frames.forEach((frame, j) => out.set(frame, 352 + b[j].z * sliceBytes));
      });
      done.catch(() => (failed = true));
      placing.push(
        done.finally(() => {
          inFlight -= b.length;
          for (const wake of waiting.splice(0)) wake();
        }),
      );
    };
    let failed = false;
    const reader = async () => {
      for (;;) {
        while (inFlight >= IN_FLIGHT && !failed) await new Promise<void>((resolve) => waiting.push(resolve));
        if (next >= n || failed) return;
        const i = next++;
        inFlight++;
        const s = stack.slices[i];
        const read = await store.read(s.instance.blobKey, [{ start: s.pixels.offset, end: s.pixels.offset + s.pixels.length - 1 }]);
        batch.push({ pixels: owned(read.length === sliceBytes ? read : read.subarray(0, sliceBytes)), z: zOf(i) });
        if (batch.length >= PLACE_BATCH) flush();
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.min(READ_CONCURRENCY, Math.max(0, n - 1)) }, reader));
      flush();
    } finally {
      failed = true;
      await Promise.allSettled(placing);
    }
    await Promise.all(placing);
  }
  const name = outputName(raw);
  const json = directSidecar(stack, raw, header.fields);
  return { ok: true, nii: { name: `${name}.nii`, data: out }, json: { name: `${name}.json`, data: Buffer.from(json, 'utf8') } };
}
