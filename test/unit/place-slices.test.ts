/**
 * Frames put in order on a worker (flipFrames, then one copy each into the volume) give the same
 * volume as frames placed directly (placeSlices): odd and even row counts, 12-bit masking, one
 * row, and slices in any order.
 */
import { flipFrames, placeSlices } from '../../src/convert/place-slices';

function frames(count: number, rows: number, rowBytes: number, seed: number): Uint8Array[] {
  let x = seed;
  return Array.from({ length: count }, () => {
    const f = new Uint8Array(rows * rowBytes);
    for (let i = 0; i < f.length; i++) f[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
    return f;
  });
}

describe('flipFrames then a copy per frame equals placeSlices', () => {
  test.each([
    [5, 6, false],
    [4, 8, false],
    [7, 10, true],
    [1, 4, true],
    [64, 128, true],
  ])('%d rows of %d bytes, 12-bit mask %s', (rows, rowBytes, mask12) => {
    const n = 5;
    const zs = [3, 0, 4, 1, 2];
    const sliceBytes = rows * rowBytes;
    const direct = new Uint8Array(352 + n * sliceBytes);
    const src = frames(n, rows, rowBytes, rows * 31 + rowBytes);
    placeSlices({ out: direct, voxelOffset: 352, rows, rowBytes, mask12, slices: src.map((pixels, i) => ({ pixels, z: zs[i] })) });

    const viaWorker = new Uint8Array(352 + n * sliceBytes);
    const flipped = flipFrames({ rows, rowBytes, mask12, frames: src.map((f) => f.slice()) });
    flipped.forEach((f, i) => viaWorker.set(f, 352 + zs[i] * sliceBytes));
    expect(Buffer.from(viaWorker).equals(Buffer.from(direct))).toBe(true);
  });
});
