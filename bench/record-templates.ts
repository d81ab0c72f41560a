/**
 * Index rows for filling a benchmark's index to a million instances at the speed of the index
 * alone. The ten instances of one synthetic study go through ingest() itself (parse, validate,
 * de-identify, buildRecord); every other study's rows are those rows with everything that tells
 * studies apart made new: its UIDs, its pseudonymous Patient Name and ID, its accession number,
 * its dates (shifted by a day per study, over five years), its identifier fingerprints and its
 * content hashes. The rows are then of ingest's own shape and size, their match keys spread as
 * real ones are, and a study's rows are made the same way every time (from its number), so a
 * fill can make them in any order without holding them.
 *
 * Only the fill takes this short cut: the ingest samples at each tenth run the real path.
 */
import { createHash } from 'node:crypto';
import { ingest, IngestDeps } from '../src/ingest/ingest';
import type { Index, InstanceRecord } from '../src/index/index';

/** What ingest() asks of the index, answered for a study never seen: the record is kept, not stored. */
function capturingIndex(index: Index, kept: InstanceRecord[]): Index {
  const answers: Partial<Index> = {
    insert: async (r) => {
      kept.push(r);
      return 'inserted';
    },
    insertMany: async (rs) => {
      kept.push(...rs);
      return rs.map(() => 'inserted' as const);
    },
    findInstance: async () => undefined,
    studyProjects: async () => [],
    identifierFingerprints: async () => new Set<string>(),
  };
  return new Proxy(index, {
    get: (target, prop) => {
      if (prop in answers) return answers[prop as keyof Index];
      const v = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

/** The records ingest() builds for `instances` (one study's, in order), nothing stored and no file written. */
export async function recordsOf(deps: IngestDeps, instances: Buffer[]): Promise<InstanceRecord[]> {
  const kept: InstanceRecord[] = [];
  const noFiles = new Proxy(deps.store, { get: (t, p) => (p === 'put' || p === 'delete' ? async () => undefined : Reflect.get(t, p, t)) });
  const capture = { ...deps, index: capturingIndex(deps.index, kept), store: noFiles };
  for (const bytes of instances) {
    const result = await ingest({ kind: 'part10', bytes }, { origin: { kind: 'import', address: 'bench' } }, capture);
    if (!result.ok) throw new Error(`bench template refused: ${result.error.message}`);
  }
  return kept;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** A UID under 2.25 from a name: the same name, the same UID. */
function uidFrom(name: string): string {
  return `2.25.${BigInt(`0x${digest(name).subarray(0, 16).toString('hex')}`)}`;
}

/**
 * `like` with its letters and digits after `keep` characters replaced from a name's hash: the
 * same shape, and the same fixed prefix (a pseudonym stays a pseudonym of the site's form).
 */
function shapedLike(like: string, name: string, keep = 0): string {
  const h = digest(name);
  let k = 0;
  return like.slice(0, keep) + like.slice(keep).replace(/[A-Z]|[a-z]|[0-9]/g, (c) => {
    const b = h[k++ % h.length];
    if (c >= '0' && c <= '9') return String(b % 10);
    const letter = String.fromCharCode(65 + (b % 26));
    return c >= 'a' ? letter.toLowerCase() : letter;
  });
}

/** YYYYMMDD `days` later. */
function dayShift(date: string, days: number): string {
  const d = new Date(Date.UTC(Number(date.slice(0, 4)), Number(date.slice(4, 6)) - 1, Number(date.slice(6, 8)) + days));
  return d.toISOString().slice(0, 10).replace(/-/g, '');
}

/** Every distinct string value in a record's JSON that matches `re`. */
function valuesIn(text: string, re: RegExp): string[] {
  return [...new Set([...text.matchAll(re)].map((m) => m[1]))];
}

/** How many leading characters two values share. */
function sharedPrefix(a: string, b: string): number {
  let k = 0;
  while (k < a.length && k < b.length && a[k] === b[k]) k++;
  return k;
}

/**
 * The template study's rows made into study number `n`'s: one text replacement per value that
 * tells studies apart, applied to the whole record (fields and JSON alike), so the match keys and
 * the metadata agree as ingest would have them.
 */
export class StudyVariants {
  private readonly text: string[];
  private readonly replacements: [string, (n: number) => string][];

  /** The fixed prefix learnt for each varied field (Patient Name, Patient ID, Accession Number), for the bench's output. */
  readonly prefixes: string[] = [];

  /**
   * `template`: one study's records; `others`: other studies' first records, made the same way,
   * which tell the fixed part of a pseudonym (its prefix) from the part that differs per patient.
   * Several are needed: two pseudonyms share a character after the site's prefix one time in 32,
   * and a prefix learnt one character too long makes every made pseudonym share it.
   */
  constructor(
    private readonly template: readonly InstanceRecord[],
    others: readonly InstanceRecord[],
  ) {
    if (!template.length) throw new Error('no template records');
    this.text = template.map((r) => JSON.stringify(r));
    const all = this.text.join('\n');
    const first = template[0];
    const replace: [string, (n: number) => string][] = [];
    // UIDs first (a date's digits could be part of one): the study's, its series' and its instances'.
    for (const uid of new Set(template.flatMap((r) => [r.studyUID, r.seriesUID, r.sopInstanceUID]))) replace.push([uid, (n) => uidFrom(`${n}/${uid}`)]);
    const fields = (r: InstanceRecord) => [r.study.patientName, r.study.patientID, r.study.accessionNumber];
    fields(first).forEach((value, f) => {
      if (!value || value.length < 4) return;
      const keep = Math.min(...others.map((o) => sharedPrefix(value, fields(o)[f] ?? '')), value.length - 4);
      this.prefixes.push(value.slice(0, keep));
      replace.push([value, (n) => shapedLike(value, `${n}/${value}`, keep)]);
    });
    for (const r of template) for (const f of r.identifierFingerprints ?? []) replace.push([f, (n) => shapedLike(f, `${n}/${f}`)]);
    for (const r of template) if (r.contentSha256) replace.push([r.contentSha256, (n) => digest(`${n}/${r.contentSha256}`).toString('hex')]);
    // Dates as the de-identified rows hold them (DA values: eight digits in quotes, escaped within the metadata's JSON).
    for (const date of valuesIn(all, /\\?"((?:19|20)\d{6})\\?"/g)) replace.push([date, (n) => dayShift(date, n % 1827)]);
    this.replacements = replace.filter(([from]) => all.includes(from));
  }

  get perStudy(): number {
    return this.template.length;
  }

  /** Study `n`'s instance `k` (study 0 is the template itself). */
  record(n: number, k: number): InstanceRecord {
    if (n === 0) return this.template[k];
    let text = this.text[k];
    for (const [from, to] of this.replacements) if (text.includes(from)) text = text.split(from).join(to(n));
    return JSON.parse(text) as InstanceRecord;
  }
}
