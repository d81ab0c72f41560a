/** Dates and times as DICOM writes them (DA YYYYMMDD, TM HHMMSS, DT YYYYMMDDHHMMSS.FFFFFF). */
import { Rng } from './random';

const DAY_MS = 86_400_000;

function toDate(da: string): Date {
  return new Date(Date.UTC(Number(da.slice(0, 4)), Number(da.slice(4, 6)) - 1, Number(da.slice(6, 8))));
}

export function formatDA(d: Date): string {
  return `${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}${String(d.getUTCDate()).padStart(2, '0')}`;
}

export function addDays(da: string, days: number): string {
  return formatDA(new Date(toDate(da).getTime() + days * DAY_MS));
}

/** Whole days from `a` to `b`; undefined when either is not a date. */
export function daysBetween(a: string, b: string): number | undefined {
  if (!/^\d{8}$/.test(a) || !/^\d{8}$/.test(b)) return undefined;
  const t = toDate(b).getTime() - toDate(a).getTime();
  return Number.isNaN(t) ? undefined : Math.round(t / DAY_MS);
}

/** Patient's Age (AS) on a day: "067Y". */
export function ageOn(birth: string, day: string): string {
  const b = toDate(birth);
  const d = toDate(day);
  let years = d.getUTCFullYear() - b.getUTCFullYear();
  if (d.getUTCMonth() < b.getUTCMonth() || (d.getUTCMonth() === b.getUTCMonth() && d.getUTCDate() < b.getUTCDate())) years--;
  return `${String(years).padStart(3, '0')}Y`;
}

/** A day between 2016 and 2023 (shifted back by up to ten years, it still never meets a birth date). */
export function studyDay(rng: Rng): string {
  return formatDA(new Date(Date.UTC(2016, 0, 1) + rng.int(0, 8 * 365) * DAY_MS));
}

export function timeOfDay(rng: Rng, fromHour = 7, toHour = 18): string {
  return `${String(rng.int(fromHour, toHour)).padStart(2, '0')}${String(rng.int(0, 59)).padStart(2, '0')}${String(rng.int(0, 59)).padStart(2, '0')}`;
}

/** A time some seconds after `tm` (same day; clamps at 23:59:59). */
export function later(tm: string, seconds: number): string {
  const s = Math.min(86_399, Number(tm.slice(0, 2)) * 3600 + Number(tm.slice(2, 4)) * 60 + Number(tm.slice(4, 6)) + seconds);
  return `${String(Math.floor(s / 3600)).padStart(2, '0')}${String(Math.floor(s / 60) % 60).padStart(2, '0')}${String(s % 60).padStart(2, '0')}`;
}
