/** Segment display colours: sRGB → CIE L*a*b* (D65) against published reference values, and the DICOM scaling. */
import { dicomLab, segmentRgb, srgbToLab } from '../../src/convert/segment-colour';

describe('segment colours', () => {
  test.each([
    // Reference L*a*b* (D65) of sRGB primaries and white, as tabulated by colour-science references.
    [[255, 0, 0], [53.2408, 80.0925, 67.2032]],
    [[0, 255, 0], [87.7347, -86.1827, 83.1793]],
    [[0, 0, 255], [32.2970, 79.1875, -107.8602]],
    [[255, 255, 255], [100, 0, 0]],
  ] as [[number, number, number], [number, number, number]][])('sRGB %j is L*a*b* %j', (rgb, lab) => {
    srgbToLab(rgb).forEach((v, i) => expect(v).toBeCloseTo(lab[i], 1));
  });

  test('PS3.3 C.10.7.1.1 scaling: white is full L* and neutral a*, b*; black is zero L*', () => {
    const [l, a, b] = dicomLab([255, 255, 255]);
    expect(l).toBe(65535);
    expect(Math.abs(a - (128 * 65535) / 255)).toBeLessThan(20);
    expect(Math.abs(b - (128 * 65535) / 255)).toBeLessThan(20);
    expect(dicomLab([0, 0, 0])[0]).toBe(0);
  });

  test('a named structure keeps its colour; unnamed segments take distinct palette colours', () => {
    expect(segmentRgb('bone', 7)).toEqual(segmentRgb('Bone', 1));
    expect(segmentRgb(undefined, 1)).not.toEqual(segmentRgb(undefined, 2));
  });
});
