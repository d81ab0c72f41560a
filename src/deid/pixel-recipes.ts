/**
 * Pixel-cleaning recipes, as data (the shape of RSNA CTP's DicomPixelAnonymizer scripts): a
 * signature over header fields says which device and screen layout an image comes from, and
 * the rectangles say where that layout burns in names, IDs and dates. Recipes come from the
 * config file (`deid.pixelRecipes`, tried first) and from the shipped set
 * (src/deid/standard/pixel-recipes.json).
 */
import { Dataset } from '../dicom/dataset';
import { tagFor } from '../dicom/dictionary';
import { numberValues, rawString } from '../dicom/values';
import { isStringVr } from '../dicom/vr';
import shipped from './standard/pixel-recipes.json';

/** A rectangle in pixels: x is the column, y the row of its top-left corner. */
export interface PixelRegion {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** What a header field must be: a value (case-insensitive), a number, a test, or any of several. */
export type FieldTest = string | number | { contains: string } | { startsWith: string } | { matches: string } | FieldTest[];

export interface PixelRecipe {
  name: string;
  /** DICOM keyword → test; every field must pass. */
  match: Record<string, FieldTest>;
  regions: PixelRegion[];
}

function fail(where: string, message: string): never {
  throw new Error(`configuration: ${where}: ${message}`);
}

function validateTest(test: unknown, where: string): FieldTest {
  if (typeof test === 'string' || (typeof test === 'number' && Number.isFinite(test))) return test;
  if (Array.isArray(test) && test.length > 0) return test.map((t, i) => validateTest(t, `${where}[${i}]`));
  if (test && typeof test === 'object') {
    const keys = Object.keys(test);
    const [key] = keys;
    const value = (test as Record<string, unknown>)[key];
    if (keys.length === 1 && ['contains', 'startsWith', 'matches'].includes(key) && typeof value === 'string' && value) {
      if (key === 'matches') {
        try {
          new RegExp(value, 'i');
        } catch {
          fail(where, `"${value}" is not a regular expression`);
        }
      }
      return test as FieldTest;
    }
  }
  return fail(where, 'must be a string, a number, { contains | startsWith | matches: "…" } or a list of those');
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
    if (!match || typeof match !== 'object' || Array.isArray(match) || Object.keys(match).length === 0) fail(at, 'needs match: { Keyword: test, … }');
    const tests: Record<string, FieldTest> = {};
    for (const [keyword, test] of Object.entries(match as Record<string, unknown>)) {
      if (tagFor(keyword) === undefined) fail(`${at}.match`, `"${keyword}" is not a DICOM keyword`);
      tests[keyword] = validateTest(test, `${at}.match.${keyword}`);
    }
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

/** An attribute's values as strings (numbers as they read), for matching. */
function fieldValues(ds: Dataset, keyword: string): string[] {
  const el = ds.get(tagFor(keyword)!);
  if (!el?.value) return [];
  if (isStringVr(el.vr)) return (rawString(el) ?? '').split('\\').map((v) => v.trim());
  return numberValues(el).map(String);
}

function passes(values: string[], test: FieldTest): boolean {
  if (Array.isArray(test)) return test.some((t) => passes(values, t));
  if (typeof test === 'number') return values.some((v) => v !== '' && Number(v) === test);
  if (typeof test === 'string') return values.some((v) => v.toLowerCase() === test.toLowerCase());
  if ('contains' in test) return values.some((v) => v.toLowerCase().includes(test.contains.toLowerCase()));
  if ('startsWith' in test) return values.some((v) => v.toLowerCase().startsWith(test.startsWith.toLowerCase()));
  const re = new RegExp(test.matches, 'i');
  return values.some((v) => re.test(v));
}

/** The first recipe whose signature the instance matches. */
export function findRecipe(ds: Dataset, recipes: readonly PixelRecipe[]): PixelRecipe | undefined {
  return recipes.find((r) => Object.entries(r.match).every(([keyword, test]) => passes(fieldValues(ds, keyword), test)));
}
