/**
 * Recommended display colours for segments (PS3.3 C.8.20.2: RecommendedDisplayCIELabValue),
 * as viewers expect them: sRGB converted to CIE L*a*b* (D65), scaled to 0–65535 as PS3.3
 * C.10.7.1.1 prescribes. Colours follow common anatomy conventions (3D Slicer's generic
 * anatomy colours) so that bone looks like bone in any viewer.
 */

const BY_STRUCTURE: Record<string, [number, number, number]> = {
  bone: [241, 214, 145],
  lung: [197, 165, 145],
  liver: [221, 130, 101],
  tumour: [144, 238, 144],
  'soft-tissue': [177, 122, 101],
  fat: [230, 220, 70],
  air: [0, 151, 206],
  tissue: [128, 174, 128],
};

/** For segments without a known structure: distinct hues, by segment number. */
const PALETTE: [number, number, number][] = [
  [128, 174, 128],
  [241, 214, 145],
  [177, 122, 101],
  [111, 184, 210],
  [216, 101, 79],
  [221, 130, 101],
  [144, 238, 144],
  [192, 104, 88],
  [220, 245, 20],
  [78, 63, 0],
];

export function segmentRgb(structure: string | undefined, segmentNumber: number): [number, number, number] {
  return (structure && BY_STRUCTURE[structure.toLowerCase()]) || PALETTE[(segmentNumber - 1) % PALETTE.length];
}

/** sRGB (0–255) to CIE L*a*b* with the D65 white point. */
export function srgbToLab([r, g, b]: [number, number, number]): [number, number, number] {
  const linear = (c: number) => {
    const v = c / 255;
    return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  };
  const [R, G, B] = [linear(r), linear(g), linear(b)];
  const x = (0.4124564 * R + 0.3575761 * G + 0.1804375 * B) / 0.95047;
  const y = 0.2126729 * R + 0.7151522 * G + 0.072175 * B;
  const z = (0.0193339 * R + 0.119192 * G + 0.9503041 * B) / 1.08883;
  const f = (t: number) => (t > 216 / 24389 ? Math.cbrt(t) : ((24389 / 27) * t + 16) / 116);
  const [fx, fy, fz] = [f(x), f(y), f(z)];
  return [116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)];
}

/** PS3.3 C.10.7.1.1: L* 0–100 and a*, b* −128–127 mapped linearly onto 0–65535. */
export function dicomLab(rgb: [number, number, number]): [number, number, number] {
  const [l, a, b] = srgbToLab(rgb);
  const clamp = (v: number) => Math.max(0, Math.min(65535, Math.round(v)));
  return [clamp((l * 65535) / 100), clamp(((a + 128) * 65535) / 255), clamp(((b + 128) * 65535) / 255)];
}
