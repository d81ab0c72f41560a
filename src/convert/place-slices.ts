/**
 * Putting stored frames into NIfTI order, as dcm2niix stores them: rows reversed, slices at
 * their z, 12-bit data masked. Pure and thread-agnostic. On the main thread without a worker
 * pool, frames are placed straight into the volume (placeSlices); with one, a worker puts the
 * frames in order where they are (flipFrames) and hands them back, and the main thread only
 * copies each into its place: the volume is never sent to a worker (a worker holding a handle on
 * shared memory keeps it alive until its own, rare, garbage collection, volume after volume).
 */
export interface PlaceSlicesInput {
  /** The whole NIfTI file, header first. */
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

export interface FlipFramesInput {
  rows: number;
  rowBytes: number;
  /** Frames of native pixels, each exactly rows × rowBytes, each the whole of its own buffer (they are moved). */
  frames: Uint8Array[];
  mask12: boolean;
}

/** The frames in NIfTI order where they are (rows reversed, 12-bit data masked): a slice each, ready to be copied in. */
export function flipFrames(input: FlipFramesInput): Uint8Array[] {
  const { rows, rowBytes } = input;
  const row = new Uint8Array(rowBytes);
  for (const frame of input.frames) {
    for (let top = 0, bottom = rows - 1; top < bottom; top++, bottom--) {
      const a = top * rowBytes;
      const b = bottom * rowBytes;
      row.set(frame.subarray(a, a + rowBytes));
      frame.copyWithin(a, b, b + rowBytes);
      frame.set(row, b);
    }
    if (input.mask12) mask12bit(frame, 0, rows * rowBytes);
  }
  return input.frames;
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
