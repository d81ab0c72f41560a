/**
 * Burned-in identity: a banner across the top of ultrasound and secondary-capture images
 * with the patient's name, ID and the study date drawn into the pixels, as the machines do.
 * The layout is fixed per object kind, so a site's pixel recipe can name the region.
 */
import { Region } from './answer-key';
import { Canvas, GLYPH_HEIGHT, charactersIn, drawText } from './font';

export interface BurnedInLayout {
  rows: number;
  columns: number;
  /** Rows at the top that hold the banner: the region to blank. */
  bannerHeight: number;
}

export const BURNED_IN_LAYOUTS = {
  US: { rows: 120, columns: 160, bannerHeight: 18 },
  SC: { rows: 96, columns: 128, bannerHeight: 18 },
} as const satisfies Record<string, BurnedInLayout>;

export function bannerRegion(layout: BurnedInLayout): Region {
  return { x: 0, y: 0, width: layout.columns, height: layout.bannerHeight };
}

/** Fill the banner with a grey band and draw two lines of text on it (clipped to the width). */
export function drawBanner(canvas: Canvas, layout: BurnedInLayout, lines: [string, string], ink: number[]): void {
  for (let y = 0; y < layout.bannerHeight; y++) {
    for (let x = 0; x < canvas.columns; x++) {
      const at = (y * canvas.columns + x) * canvas.samplesPerPixel;
      for (let s = 0; s < canvas.samplesPerPixel; s++) canvas.data[at + s] = 48;
    }
  }
  const fit = charactersIn(canvas.columns - 2);
  drawText(canvas, lines[0].slice(0, fit), 1, 1, ink);
  drawText(canvas, lines[1].slice(0, fit), 1, 2 + GLYPH_HEIGHT + 1, ink);
}
