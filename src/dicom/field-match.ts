/**
 * Tests on header fields, as data: a signature a pixel recipe or a project rule matches an
 * instance by (DICOM keyword → test). A string matches any of the attribute's values
 * case-insensitively, a number numerically; `contains`, `startsWith` and `matches` (a regular
 * expression) test the text; a list matches when any of its tests does.
 */
import { Dataset } from './dataset';
import { tagFor } from './dictionary';
import { numberValues, rawString } from './values';
import { isStringVr } from './vr';

/** What a header field must be: a value (case-insensitive), a number, a test, or any of several. */
export type FieldTest = string | number | { contains: string } | { startsWith: string } | { matches: string } | FieldTest[];

function fail(where: string, message: string): never {
  throw new Error(`configuration: ${where}: ${message}`);
}

export function validateFieldTest(test: unknown, where: string): FieldTest {
  if (typeof test === 'string' || (typeof test === 'number' && Number.isFinite(test))) return test;
  if (Array.isArray(test) && test.length > 0) return test.map((t, i) => validateFieldTest(t, `${where}[${i}]`));
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

/** Every field of the signature passes. */
export function matchesFields(ds: Dataset, signature: Record<string, FieldTest>): boolean {
  return Object.entries(signature).every(([keyword, test]) => passes(fieldValues(ds, keyword), test));
}

/** A signature from the config file: keywords the dictionary knows, tests of the shapes above. */
export function validateSignature(raw: unknown, where: string): Record<string, FieldTest> {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw) || Object.keys(raw).length === 0) fail(where, 'needs { Keyword: test, … }');
  const tests: Record<string, FieldTest> = {};
  for (const [keyword, test] of Object.entries(raw as Record<string, unknown>)) {
    if (tagFor(keyword) === undefined) fail(where, `"${keyword}" is not a DICOM keyword`);
    tests[keyword] = validateFieldTest(test, `${where}.${keyword}`);
  }
  return tests;
}
