/**
 * Pixel-cleaning recipes, as data (the shape of RSNA CTP's DicomPixelAnonymizer scripts): a
 * signature over header fields says which device and screen layout an image comes from, and
 * the rectangles say where that layout burns in names, IDs and dates. Recipes come from the
 * config file (`deid.pixelRecipes`, tried first) and from the shipped set
 * (src/deid/standard/pixel-recipes.json).
 */
import { Dataset } from '../dicom/dataset';
import { FieldTest, matchesFields, validateSignature } from '../dicom/field-match';
import shipped from './standard/pixel-recipes.json';

/** A rectangle in pixels: x is the column, y the row of its top-left corner. */
export interface PixelRegion {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface PixelRecipe {
  name: string;
  /** DICOM keyword → test; every field must pass. */
  match: Record<string, FieldTest>;
  regions: PixelRegion[];
}

function fail(where: string, message: string): never {
  throw new Error(`configuration: ${where}: ${message}`);
}

/** Recipes from the config file, checked at start-up so a mistake is a configuration error, not a leak. */
export function validateRecipes(raw: unknown, where = 'deid.pixelRecipes'): PixelRecipe[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) fail(where, 'must be a list of recipes');
  return raw.map((r, i) => {
    const at = `${where}[${i}]`;
    if (!r || typeof r !== 'object') fail(at, 'must be { name, match, regions }');
    const { name, match, regions } = r as Record<string, unknown>;
    if (typeof name !== 'string' || !name) fail(at, 'needs a name');
    const tests = validateSignature(match, `${at}.match`);
    if (!Array.isArray(regions) || regions.length === 0) fail(at, 'needs regions: [{ x, y, width, height }, …]');
    const rects = regions.map((g, j) => {
      const rect = g as Record<string, unknown>;
      const ok = ['x', 'y', 'width', 'height'].every((k) => Number.isInteger(rect?.[k]) && (rect[k] as number) >= 0);
      if (!ok || (rect.width as number) === 0 || (rect.height as number) === 0) fail(`${at}.regions[${j}]`, 'must be { x, y, width, height } in whole pixels, width and height above 0');
      return { x: rect.x, y: rect.y, width: rect.width, height: rect.height } as PixelRegion;
    });
    return { name, match: tests, regions: rects };
  });
}

export const SHIPPED_RECIPES: PixelRecipe[] = validateRecipes((shipped as { recipes: unknown[] }).recipes, 'src/deid/standard/pixel-recipes.json');

/** The first recipe whose signature the instance matches. */
export function findRecipe(ds: Dataset, recipes: readonly PixelRecipe[]): PixelRecipe | undefined {
  return recipes.find((r) => matchesFields(ds, r.match));
}
