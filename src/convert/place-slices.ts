/**
 * Placing stored frames into a NIfTI volume, as dcm2niix orders them: rows reversed, slices at
 * their z. Pure and thread-agnostic: the output lives in shared memory, so a worker thread can
 * fill it while the main thread only reads files.
 */
export interface PlaceSlicesInput {
  /** The whole NIfTI file, header first, in shared memory. */
  out: Uint8Array;
  /** Byte offset of voxel data in `out`. */
  voxelOffset: number;
  rows: number;
  rowBytes: number;
  /** Frames (native pixels, exactly rows × rowBytes) and the slice each goes to. */
  slices: { pixels: Uint8Array; z: number }[];
  /** 12-bit data: every int16 voxel ANDed with 4095, as dcm2niix's nii_mask12bit. */
  mask12: boolean;
}

export function placeSlices(input: PlaceSlicesInput): void {
  const { out, rows, rowBytes } = input;
  const sliceBytes = rows * rowBytes;
  for (const { pixels, z } of input.slices) {
    const base = input.voxelOffset + z * sliceBytes;
    for (let y = 0; y < rows; y++) {
      const from = (rows - 1 - y) * rowBytes;
      out.set(pixels.subarray(from, from + rowBytes), base + y * rowBytes);
    }
    if (input.mask12) mask12bit(out, base, sliceBytes);
  }
}

function mask12bit(buf: Uint8Array, offset: number, length: number): void {
  const view = new DataView(buf.buffer, buf.byteOffset + offset, length);
  const words = Math.floor(length / 4);
  if ((buf.byteOffset + offset) % 4 === 0) {
    const u32 = new Uint32Array(buf.buffer, buf.byteOffset + offset, words);
    for (let i = 0; i < words; i++) u32[i] &= 0x0fff0fff;
  } else {
    for (let i = 0; i < words; i++) view.setUint32(i * 4, view.getUint32(i * 4, true) & 0x0fff0fff, true);
  }
  if (length % 4) view.setUint16(words * 4, view.getUint16(words * 4, true) & 0x0fff, true);
}
