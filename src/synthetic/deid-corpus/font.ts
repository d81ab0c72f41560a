/**
 * A 5×7 bitmap font for burned-in banners, as ultrasound machines and screen captures draw
 * the patient's name into the pixels. Upper-case ASCII, digits and a little punctuation;
 * anything else is drawn as a blank.
 */
const GLYPHS: Record<string, string> = {
  A: '01110 10001 10001 11111 10001 10001 10001', B: '11110 10001 10001 11110 10001 10001 11110',
  C: '01110 10001 10000 10000 10000 10001 01110', D: '11110 10001 10001 10001 10001 10001 11110',
  E: '11111 10000 10000 11110 10000 10000 11111', F: '11111 10000 10000 11110 10000 10000 10000',
  G: '01110 10001 10000 10111 10001 10001 01111', H: '10001 10001 10001 11111 10001 10001 10001',
  I: '01110 00100 00100 00100 00100 00100 01110', J: '00111 00010 00010 00010 00010 10010 01100',
  K: '10001 10010 10100 11000 10100 10010 10001', L: '10000 10000 10000 10000 10000 10000 11111',
  M: '10001 11011 10101 10101 10001 10001 10001', N: '10001 10001 11001 10101 10011 10001 10001',
  O: '01110 10001 10001 10001 10001 10001 01110', P: '11110 10001 10001 11110 10000 10000 10000',
  Q: '01110 10001 10001 10001 10101 10010 01101', R: '11110 10001 10001 11110 10100 10010 10001',
  S: '01111 10000 10000 01110 00001 00001 11110', T: '11111 00100 00100 00100 00100 00100 00100',
  U: '10001 10001 10001 10001 10001 10001 01110', V: '10001 10001 10001 10001 10001 01010 00100',
  W: '10001 10001 10001 10101 10101 10101 01010', X: '10001 10001 01010 00100 01010 10001 10001',
  Y: '10001 10001 01010 00100 00100 00100 00100', Z: '11111 00001 00010 00100 01000 10000 11111',
  '0': '01110 10001 10011 10101 11001 10001 01110', '1': '00100 01100 00100 00100 00100 00100 01110',
  '2': '01110 10001 00001 00010 00100 01000 11111', '3': '11111 00010 00100 00010 00001 10001 01110',
  '4': '00010 00110 01010 10010 11111 00010 00010', '5': '11111 10000 11110 00001 00001 10001 01110',
  '6': '00110 01000 10000 11110 10001 10001 01110', '7': '11111 00001 00010 00100 01000 01000 01000',
  '8': '01110 10001 10001 01110 10001 10001 01110', '9': '01110 10001 10001 01111 00001 00010 01100',
  '-': '00000 00000 00000 11111 00000 00000 00000', '/': '00001 00001 00010 00100 01000 10000 10000',
  '.': '00000 00000 00000 00000 00000 01100 01100', ':': '00000 01100 01100 00000 01100 01100 00000',
  ',': '00000 00000 00000 00000 01100 00100 01000', "'": '00100 00100 01000 00000 00000 00000 00000',
  '#': '01010 01010 11111 01010 11111 01010 01010', '^': '00100 01010 10001 00000 00000 00000 00000',
};

export const GLYPH_WIDTH = 5;
export const GLYPH_HEIGHT = 7;
/** Glyph plus one column of spacing. */
export const ADVANCE = GLYPH_WIDTH + 1;

/** Whether the font has a pixel at (x, y) of the glyph for `ch`. */
function lit(ch: string, x: number, y: number): boolean {
  const g = GLYPHS[ch];
  return g !== undefined && g.split(' ')[y][x] === '1';
}

export interface Canvas {
  /** One frame's samples, row by row, `samplesPerPixel` interleaved samples per pixel (8 bits each). */
  data: Uint8Array;
  columns: number;
  rows: number;
  samplesPerPixel: number;
}

/** Draw `text` with its top-left corner at (x, y); characters past the right edge are clipped. */
export function drawText(canvas: Canvas, text: string, x: number, y: number, value: number[]): void {
  [...text.toUpperCase()].forEach((ch, i) => {
    for (let gy = 0; gy < GLYPH_HEIGHT; gy++) {
      for (let gx = 0; gx < GLYPH_WIDTH; gx++) {
        const px = x + i * ADVANCE + gx;
        const py = y + gy;
        if (px >= canvas.columns || py >= canvas.rows || !lit(ch, gx, gy)) continue;
        const at = (py * canvas.columns + px) * canvas.samplesPerPixel;
        for (let s = 0; s < canvas.samplesPerPixel; s++) canvas.data[at + s] = value[s % value.length];
      }
    }
  });
}

/** How many characters fit in `width` pixels. */
export function charactersIn(width: number): number {
  return Math.floor((width + 1) / ADVANCE);
}
