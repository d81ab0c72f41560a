/**
 * MIDI-B style de-identification score for Veilgate (npm run deid-score [-- --instances N
 * --seed S --keep]): a synthetic corpus with an answer key per attribute is sent through a
 * real gateway by STOW-RS, everything the gateway then holds or says is read back, and the
 * score is the percentage of required actions done right; a PHI token found anywhere is a
 * leak. The scorer is independent of the gateway's code: it shares only the documented UID
 * mapping (to find stored instances) and the DICOM reader.
 */
import { performance } from 'node:perf_hooks';
import { DeidOptions } from '../src/deid/options';
import { Corpus, CorpusInstance, generateCorpus } from '../src/synthetic/deid-corpus';
import { GatewayOutput, runThroughGateway } from './deid-scorer/gateway-run';
import { judgeAll } from './deid-scorer/judge';
import { scanForLeaks } from './deid-scorer/leak-scan';
import { syntheticPixelRecipes } from './deid-scorer/recipes';
import { formatReport, ScoreResult, summarise } from './deid-scorer/report';
import { matchStored, parseStoredFiles } from './deid-scorer/stored';
import { pseudonymousUid } from './deid-scorer/uid-map';
import { runIfMain } from './util';

export type { ScoreResult } from './deid-scorer/report';
export { formatReport } from './deid-scorer/report';
export { rawCorpusOutput } from './deid-scorer/raw-output';

export interface ScoreOptions {
  instances: number;
  seed: number;
  /** De-identification options for the gateway, on top of its defaults. */
  deidOptions?: Partial<DeidOptions>;
  /** Keep the gateway's data directory and print where it is. */
  keepDataDir?: boolean;
}

export const DEFAULT_INSTANCES = 1000;
export const DEFAULT_SEED = 20240;

/** Scores what a gateway (or anything else) made of a corpus. */
export function scoreOutput(corpus: Corpus, output: GatewayOutput, seed: number, startedAt = performance.now()): ScoreResult {
  const bySop = parseStoredFiles(output.files);
  const { stored, kindOfStoredSop } = matchStored(corpus.instances, bySop, output.secret);
  const notStored = (c: CorpusInstance) => {
    const reason = output.stow.failedBySop.get(pseudonymousUid(output.secret, c.sopInstanceUID)) ?? output.stow.failedBySop.get(c.sopInstanceUID);
    return reason ? `instance refused (FailureReason ${reason})` : 'instance not found in the store';
  };
  const verdicts = judgeAll(corpus.instances, stored, notStored);
  const leaks = scanForLeaks(corpus.instances, output, bySop, kindOfStoredSop);
  const { failedBySop: _byUid, ...stow } = output.stow;
  return {
    seed,
    generated: corpus.instances.length,
    patients: corpus.patients.length,
    stow,
    ...summarise(verdicts, leaks),
    seconds: (performance.now() - startedAt) / 1000,
  };
}

/** Generates the corpus, sends it through a real gateway and scores the result. */
export async function scoreCorpus(options: ScoreOptions): Promise<ScoreResult & { dataDir: string }> {
  const t0 = performance.now();
  const corpus = generateCorpus({ instances: options.instances, seed: options.seed });
  const output = await runThroughGateway(corpus.instances, {
    deidOptions: options.deidOptions,
    pixelRecipes: syntheticPixelRecipes(),
    keepDataDir: options.keepDataDir,
  });
  return { ...scoreOutput(corpus, output, options.seed, t0), dataDir: output.dataDir };
}

function argument(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const n = Number(process.argv[i + 1]);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} needs a positive integer`);
  return n;
}

export async function main(): Promise<void> {
  const keep = process.argv.includes('--keep');
  const result = await scoreCorpus({ instances: argument('instances', DEFAULT_INSTANCES), seed: argument('seed', DEFAULT_SEED), keepDataDir: keep });
  console.log(formatReport(result));
  if (keep) console.log(`\ndata directory kept at ${result.dataDir}`);
}

runIfMain(module, main);
