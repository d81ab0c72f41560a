/**
 * NIfTI-1 single-file (.nii) reading and writing: header and voxel array kept apart, the
 * affine as plain data (as nibabel does). Big-endian files are read; files are written
 * little endian with sform and qform both set from the affine (code 1, scanner anatomical).
 */
import { gunzipSync } from 'node:zlib';
import { Affine, affineToQuaternion } from './geometry';
import { VeilgateError } from '../errors';

export type VoxelArray = Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | Float32Array | Float64Array;

export interface NiftiVolume {
  /** Voxels along i, j, k (and t: volumes). */
  dims: [number, number, number, number];
  /** Voxel size in mm (i, j, k). */
  pixdim: [number, number, number];
  /** Voxel (i, j, k) → RAS+ mm. */
  affine: Affine;
  sclSlope: number;
  sclInter: number;
  data: VoxelArray;
  description?: string;
}

const DATATYPES: Record<number, { ctor: new (n: number) => VoxelArray; bytes: number }> = {
  2: { ctor: Uint8Array, bytes: 1 },
  4: { ctor: Int16Array, bytes: 2 },
  8: { ctor: Int32Array, bytes: 4 },
  16: { ctor: Float32Array, bytes: 4 },
  64: { ctor: Float64Array, bytes: 8 },
  256: { ctor: Int8Array, bytes: 1 },
  512: { ctor: Uint16Array, bytes: 2 },
  768: { ctor: Uint32Array, bytes: 4 },
};

function datatypeOf(data: VoxelArray): number {
  if (data instanceof Uint8Array) return 2;
  if (data instanceof Int16Array) return 4;
  if (data instanceof Int32Array) return 8;
  if (data instanceof Float32Array) return 16;
  if (data instanceof Float64Array) return 64;
  if (data instanceof Int8Array) return 256;
  if (data instanceof Uint16Array) return 512;
  return 768;
}

const bad = (msg: string) => new VeilgateError('bad-request', `not a usable NIfTI-1 file: ${msg}`);

/** `maxBytes`: the most a gzipped file may inflate to (a small .nii.gz must not become gigabytes). */
export function readNifti(input: Uint8Array, maxBytes = 2 ** 31 - 1): NiftiVolume {
  let bytes = input;
  if (input[0] === 0x1f && input[1] === 0x8b) {
    try {
      bytes = gunzipSync(input, { maxOutputLength: maxBytes });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError) {
        throw new VeilgateError('payload-too-large', `the NIfTI volume inflates past the ${maxBytes}-byte limit`);
      }
      throw bad('the gzip stream is damaged');
    }
  }
  if (bytes.length > maxBytes) throw new VeilgateError('payload-too-large', `the NIfTI volume is larger than the ${maxBytes}-byte limit`);
  if (bytes.length < 352) throw bad('shorter than a header');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let le = true;
  if (view.getInt32(0, true) !== 348) {
    if (view.getInt32(0, false) !== 348) throw bad('sizeof_hdr is not 348 (NIfTI-2 and ANALYZE are not supported)');
    le = false;
  }
  const magic = String.fromCharCode(...bytes.subarray(344, 347));
  if (magic !== 'n+1') throw bad(`magic "${magic}" is not n+1 (single-file NIfTI-1)`);
  const ndim = view.getInt16(40, le);
  const dim = [1, 2, 3, 4].map((i) => (i <= ndim ? Math.max(1, view.getInt16(40 + 2 * i, le)) : 1));
  if (ndim < 3 || ndim > 4 || (ndim === 4 && view.getInt16(50, le) > 1 && dim[3] < 1)) throw bad(`${ndim} dimensions; 3 or 4 are expected`);
  const datatype = view.getInt16(70, le);
  const type = DATATYPES[datatype];
  if (!type) throw bad(`datatype ${datatype} is not supported`);
  const pixdim = [1, 2, 3].map((i) => view.getFloat32(76 + 4 * i, le)) as [number, number, number];
  const voxOffset = Math.floor(view.getFloat32(108, le));
  let sclSlope = view.getFloat32(112, le);
  let sclInter = view.getFloat32(116, le);
  if (!Number.isFinite(sclSlope) || sclSlope === 0) {
    sclSlope = 1;
    sclInter = 0;
  }
  const qformCode = view.getInt16(252, le);
  const sformCode = view.getInt16(254, le);
  let affine: Affine;
  if (sformCode > 0) {
    affine = [0, 1, 2].map((r) => [0, 1, 2, 3].map((c) => view.getFloat32(280 + 16 * r + 4 * c, le)));
    affine.push([0, 0, 0, 1]);
  } else if (qformCode > 0) {
    throw bad('only a qform is set; an sform is required');
  } else {
    throw bad('no sform or qform: the volume has no position in space');
  }
  const count = dim[0] * dim[1] * dim[2] * dim[3];
  if (voxOffset + count * type.bytes > bytes.length) throw bad('voxel data is shorter than the header says');
  const data = new type.ctor(count);
  const raw = new Uint8Array(data.buffer);
  raw.set(bytes.subarray(voxOffset, voxOffset + count * type.bytes));
  if (!le && type.bytes > 1) {
    for (let i = 0; i < raw.length; i += type.bytes) raw.subarray(i, i + type.bytes).reverse();
  }
  const description = String.fromCharCode(...bytes.subarray(148, 228)).replace(/\0.*$/, '');
  return { dims: dim as NiftiVolume['dims'], pixdim, affine, sclSlope, sclInter, data, description };
}

export function writeNifti(v: NiftiVolume): Buffer {
  const header = Buffer.alloc(352);
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
  const datatype = datatypeOf(v.data);
  const bytes = DATATYPES[datatype].bytes;
  view.setInt32(0, 348, true);
  const ndim = v.dims[3] > 1 ? 4 : 3;
  view.setInt16(40, ndim, true);
  v.dims.forEach((d, i) => view.setInt16(42 + 2 * i, d, true));
  for (let i = 4; i < 7; i++) view.setInt16(42 + 2 * i, 1, true);
  view.setInt16(70, datatype, true);
  view.setInt16(72, bytes * 8, true);
  // qfac (pixdim[0]) says whether the rotation needs a flip of k.
  const q = affineToQuaternion(v.affine);
  view.setFloat32(76, q.qfac, true);
  v.pixdim.forEach((p, i) => view.setFloat32(80 + 4 * i, p, true));
  view.setFloat32(92, 1, true);
  view.setFloat32(108, 352, true);
  view.setFloat32(112, v.sclSlope, true);
  view.setFloat32(116, v.sclInter, true);
  view.setUint8(123, 10); // xyzt_units: mm and seconds
  header.write((v.description ?? '').slice(0, 79), 148, 'latin1');
  view.setInt16(252, 1, true); // qform_code: scanner anatomical
  view.setInt16(254, 1, true); // sform_code: scanner anatomical
  view.setFloat32(256, q.b, true);
  view.setFloat32(260, q.c, true);
  view.setFloat32(264, q.d, true);
  view.setFloat32(268, q.x, true);
  view.setFloat32(272, q.y, true);
  view.setFloat32(276, q.z, true);
  for (let r = 0; r < 3; r++) for (let c = 0; c < 4; c++) view.setFloat32(280 + 16 * r + 4 * c, v.affine[r][c], true);
  header.write('n+1\0', 344, 'latin1');
  return Buffer.concat([header, Buffer.from(v.data.buffer, v.data.byteOffset, v.data.byteLength)]);
}
