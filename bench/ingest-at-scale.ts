/**
 * Filling an index to a large size through ingest() itself, and the ingest rate on the way: what
 * core.ts (QIDO at scale) and scale-out.ts (PostgreSQL and SQLite to a million) share.
 *
 * The fill puts rows of ingest's own making into the index at the speed of the index alone: one
 * study goes through ingest() (parse, validate, de-identify, buildRecord) and every other study's
 * rows are made from its rows (record-templates.ts), inserted BULK_BATCH to a transaction
 * (Index.insertMany), with no files (QIDO never reads them). At every tenth of the way the fill
 * stops and the real path (files, one transaction per instance) ingests a sample, sequentially:
 * its rate from 0 to the end is the "ingest rate per decile".
 */
import { performance } from 'node:perf_hooks';
import { ingest, IngestDeps } from '../src/ingest/ingest';
import type { Index, InstanceRecord } from '../src/index/index';
import { randomUid, syntheticInstance } from '../src/synthetic/instances';
import { recordsOf, StudyVariants } from './record-templates';
import type { StoredStudy } from './qido-queries';

export const BULK_BATCH = 1000;
/** How the fill works, for a bench's output. */
export const FILL_DESCRIPTION =
  `one study through ingest() (de-identification on), every other study's rows made from its rows (new UIDs, pseudonyms, accession numbers, dates, ` +
  `fingerprints and hashes: bench/record-templates.ts), index inserts ${BULK_BATCH} per transaction and no files`;
/** Fill batches written at once (the fill's order gives them different studies). */
const BATCHES_IN_FLIGHT = 2;
/** Studies besides the template that teach the fill the pseudonyms' fixed prefix. */
const TEMPLATE_OTHERS = 8;
/** Two series of five. */
const INSTANCES_PER_STUDY = 10;
/** Before a sample, for the index's checkpointer (it runs when writes pause). */
const SETTLE_MS = 1500;

/** YYYYMMDD for a day offset from 2020-01-01, so dates spread over 2020-2024. */
export function studyDate(i: number): string {
  const days = i % 1827; // 2020-01-01 .. 2024-12-31
  return new Date(Date.UTC(2020, 0, 1 + days)).toISOString().slice(0, 10).replace(/-/g, '');
}

export interface StudySeed {
  studyUID: string;
  seriesUID: string;
  series2UID: string;
  i: number;
  /** Instances stored so far. */
  stored: number;
}

export function seedInstance(s: StudySeed, k: number): Buffer {
  const second = k >= 5;
  return syntheticInstance({
    studyUID: s.studyUID,
    seriesUID: second ? s.series2UID : s.seriesUID,
    seriesNumber: second ? 2 : 1,
    instanceNumber: (k % 5) + 1,
    rows: 8,
    columns: 8,
    patientName: `Name${s.i}^Given`,
    patientID: `PID${s.i}`,
    studyDate: studyDate(s.i),
    accessionNumber: `ACC${s.i}`,
  }).bytes;
}

/**
 * The instances of a synthetic archive of `studies` studies and `total` instances, in the order
 * the fill stores them: first one per study, then the rest of each study in turn (two series of
 * five at ten per study). Any server can be given the same sequence.
 */
export class SyntheticArchive {
  private readonly seeds: StudySeed[] = [];
  private next = 0;
  private readonly perStudy: number;
  private readonly extra: number;

  constructor(
    private readonly studies: number,
    total: number,
  ) {
    this.perStudy = Math.max(1, Math.floor(total / studies));
    this.extra = total - studies * this.perStudy;
  }

  /** The next instance, or undefined once all are out. */
  take = (): Buffer | undefined => {
    if (this.seeds.length < this.studies) {
      const s: StudySeed = { studyUID: randomUid(), seriesUID: randomUid(), series2UID: randomUid(), i: this.seeds.length, stored: 1 };
      this.seeds.push(s);
      return seedInstance(s, 0);
    }
    while (this.next < this.seeds.length) {
      const filling = this.seeds[this.next];
      const want = this.perStudy + (filling.i < this.extra ? 1 : 0);
      if (filling.stored < want) return seedInstance(filling, filling.stored++);
      this.next++;
    }
    return undefined;
  };
}

/** `n` instances of new small studies (one each), for an ingest sample; `tag` keeps samples apart. */
export function sampleInstances(tag: string, n: number): Buffer[] {
  const bytes: Buffer[] = [];
  for (let j = 0; j < n; j++) {
    bytes.push(syntheticInstance({ rows: 8, columns: 8, patientName: `Sample${tag}x${j}^Given`, patientID: `S${tag}x${j}`, studyDate: studyDate(j), accessionNumber: `SA${j}` }).bytes);
  }
  return bytes;
}

/** Sends each item (built before the clock starts) with `send`, one after the other: items/s. */
export async function timeSequential<T>(items: T[], send: (item: T) => Promise<void>): Promise<number> {
  const t0 = performance.now();
  for (const item of items) await send(item);
  return items.length / ((performance.now() - t0) / 1000);
}

/** The real ingest path (files, one transaction per instance), sequentially, on new small studies: instances/s. */
export async function sampleIngest(deps: IngestDeps, tag: string, size: number): Promise<number> {
  return timeSequential(sampleInstances(tag, size), async (bytes) => {
    const result = await ingest({ kind: 'part10', bytes }, { origin: { kind: 'import', address: 'bench' } }, deps);
    if (!result.ok) throw new Error(`bench ingest refused: ${result.error.message}`);
  });
}

/** A pause before a sample: the WAL then starts small for every sample, which shows the index's size, not the point of the WAL's cycle. */
export const settle = () => new Promise((resolve) => setTimeout(resolve, SETTLE_MS));

export interface RateSample {
  /** Instances filled before it (the samples themselves come on top). */
  at: number;
  /** The fill's rate since the previous sample. */
  fillRate?: number;
  ingestRate: number;
}

export interface ScaleFillOptions {
  index: Index;
  /** The real path's dependencies (the gateway's). */
  deps: IngestDeps;
  studies: number;
  total: number;
  sampleSize: number;
  /** Run before each sample (after the pause): e.g. a checkpoint, so every sample starts from the same point of the database's cycle. */
  beforeSample?: () => Promise<void>;
  /** More fill sizes to stop at, besides 0 and the tenths of `total`; `atStop` runs at each. */
  extraStops?: number[];
  atStop?: (at: number) => Promise<void>;
}

/**
 * Fills an index with `studies` studies of up to ten instances (`total` in all), sampling the real path's rate at 0 and
 * at every tenth. The rows come in SyntheticArchive's order: first one instance of every study,
 * then the rest of each study in turn.
 */
export class ScaleFill {
  readonly deciles: RateSample[] = [];
  /** The first 50 studies stored, for searches that must find something. */
  readonly stored: StoredStudy[] = [];
  done = 0;
  private variants?: StudyVariants;
  private readonly tenths: Set<number>;
  private readonly extra: Set<number>;
  private readonly stops: number[];
  private segment = { count: 0, ms: 0 };

  constructor(private readonly o: ScaleFillOptions) {
    if (o.total < o.studies || o.total > o.studies * INSTANCES_PER_STUDY) throw new Error(`the fill makes studies of 1 to ${INSTANCES_PER_STUDY} instances: total must be studies to studies x ${INSTANCES_PER_STUDY}`);
    this.tenths = new Set(Array.from({ length: 10 }, (_, d) => Math.round(((d + 1) * o.total) / 10)));
    this.extra = new Set((o.extraStops ?? []).filter((s) => s >= 0 && s <= o.total));
    this.stops = [...new Set([...this.tenths, ...this.extra])].filter((s) => s > 0).sort((a, b) => a - b);
  }

  /** The template study through ingest() (nothing stored), then the sample at an empty index. */
  async begin(): Promise<void> {
    const seed = (i: number): StudySeed => ({ studyUID: randomUid(), seriesUID: randomUid(), series2UID: randomUid(), i, stored: 0 });
    const template = seed(0);
    this.variants = new StudyVariants(
      await recordsOf(this.o.deps, Array.from({ length: INSTANCES_PER_STUDY }, (_, k) => seedInstance(template, k))),
      await recordsOf(this.o.deps, Array.from({ length: TEMPLATE_OTHERS }, (_, k) => seedInstance(seed(k + 1), 0))),
    );
    console.log(`  the fill's rows keep the pseudonyms' fixed prefix ${JSON.stringify(this.variants.prefixes[0] ?? '')}, learnt from ${TEMPLATE_OTHERS + 1} studies through ingest()`);
    await this.sample();
    if (this.extra.has(0)) await this.o.atStop?.(0);
  }

  private async sample(fillRate?: number): Promise<void> {
    await settle();
    await this.o.beforeSample?.();
    this.deciles.push({ at: this.done, fillRate, ingestRate: await sampleIngest(this.o.deps, String(this.deciles.length), this.o.sampleSize) });
  }

  /** The j-th row of the fill's order. */
  private row(j: number): InstanceRecord {
    const studies = this.o.studies;
    const [n, k] = j < studies ? [j, 0] : [Math.floor((j - studies) / (INSTANCES_PER_STUDY - 1)), 1 + ((j - studies) % (INSTANCES_PER_STUDY - 1))];
    const r = this.variants!.record(n, k);
    if (k === 0 && this.stored.length < 50) this.stored.push({ studyUID: r.studyUID, seriesUID: r.seriesUID, patientID: r.study.patientID ?? '' });
    return r;
  }

  /** Rows from `done` up to `end`, BULK_BATCH a transaction, the next batch made while one is written. */
  private async insertUpTo(end: number): Promise<void> {
    const writing: Promise<void>[] = [];
    for (let next = this.done; next < end; ) {
      const batch = Array.from({ length: Math.min(BULK_BATCH, end - next) }, (_, k) => this.row(next + k));
      next += batch.length;
      const written = this.o.index.insertMany(batch).then((outcomes) => {
        const refused = outcomes.find((o) => o !== 'inserted');
        if (refused) throw new Error(`bulk insert: ${refused instanceof Error ? refused.message : refused}`);
        this.done += batch.length;
      });
      written.catch(() => undefined); // told when awaited below, not as an unhandled rejection meanwhile
      writing.push(written);
      if (writing.length >= BATCHES_IN_FLIGHT) await writing.shift();
    }
    await Promise.all(writing);
  }

  /** Fill up to `upTo` instances, stopping at each tenth of the total for an ingest sample (and at the extra stops). */
  async grow(upTo: number): Promise<void> {
    if (!this.variants) throw new Error('begin() first');
    while (this.done < Math.min(upTo, this.o.total)) {
      const stop = Math.min(upTo, this.stops.find((s) => s > this.done) ?? this.o.total);
      const t0 = performance.now();
      const before = this.done;
      await this.insertUpTo(stop);
      this.segment = { count: this.segment.count + this.done - before, ms: this.segment.ms + performance.now() - t0 };
      if (this.tenths.has(stop)) {
        await this.sample(this.segment.count / (this.segment.ms / 1000));
        this.segment = { count: 0, ms: 0 };
      }
      if (this.extra.has(stop)) await this.o.atStop?.(stop);
    }
  }
}

export interface RateSummary {
  mean: number;
  /** The least-squares trend from the first sample to `end`, as a fraction of the start. */
  trend: number;
  /** The largest deviation of one sample from the mean, as a fraction. */
  spread: number;
}

/** Mean, spread and least-squares trend of rate on index size (the trend sets the noise of a shared machine apart). */
export function rateSummary(samples: readonly RateSample[], end: number): RateSummary {
  const rates = samples.map((d) => d.ingestRate);
  const mean = rates.reduce((a, b) => a + b, 0) / rates.length;
  const spread = Math.max(...rates.map((r) => Math.abs(r / mean - 1)));
  const xs = samples.map((d) => d.at);
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const slope = xs.reduce((a, x, k) => a + (x - mx) * (rates[k] - mean), 0) / Math.max(1, xs.reduce((a, x) => a + (x - mx) ** 2, 0));
  const fitted = (x: number) => mean + slope * (x - mx);
  return { mean, spread, trend: fitted(end) / fitted(0) - 1 };
}

/** The samples one a line, then the mean, the trend against the ±20% goal and the spread. */
export function printIngestRates(title: string, samples: readonly RateSample[], end: number, fillLabel = 'bulk fill before it'): RateSummary {
  const s = rateSummary(samples, end);
  console.log(title);
  for (const d of samples) {
    console.log(`  at ${String(d.at).padStart(8)} instances: ${d.ingestRate.toFixed(1)} instances/s${d.fillRate ? `  (${fillLabel}: ${d.fillRate.toFixed(0)} instances/s)` : ''}`);
  }
  console.log(
    `  mean ${s.mean.toFixed(1)} instances/s; trend from 0 to ${end} instances ${s.trend >= 0 ? '+' : ''}${(s.trend * 100).toFixed(0)}% ` +
      `(goal: flat within 20%: ${Math.abs(s.trend) <= 0.2 ? 'met' : 'NOT met'}); largest deviation of one sample from the mean ${(s.spread * 100).toFixed(0)}%`,
  );
  return s;
}
