/**
 * The main thread only routes: QIDO keeps answering fast while heavy work runs. The scenario
 * (a gateway in its own process, a 200-slice 512×512 CT and two compressed instances, a prober
 * process asking QIDO every 20 ms) is bench/background-load.ts. Processing jobs (a SEG, a
 * derived series) are held to the goal, p99 under 50 ms. NIfTI conversions, a NIfTI POST,
 * renders, transcodes and STOW from two clients are short bursts that share the test machine
 * with the test itself: they are held to twice the goal here, and `npm run bench` reports them
 * against the goal on a quiet machine. On a shared runner each bound scales with the idle p99
 * measured just before (see holds()).
 */
import { BackgroundLoad, LoadResult, P99_GOAL_MS } from '../../bench/background-load';
import { ensureBuilt } from '../support/server-process';

let load: BackgroundLoad;
const report: string[] = [];

beforeAll(async () => {
  ensureBuilt();
  load = await BackgroundLoad.start();
}, 300_000);

afterAll(async () => {
  await load?.close();
  process.stdout.write(report.join('\n') + '\n');
});

/**
 * The goal holds on a machine of our own. A shared runner (other jobs on its cores) slows every
 * answer, loaded or not: the idle p99 measured just before the load says by how much, and the
 * bound is then three times that when it is more than the goal. A window that misses its bound is
 * measured once more, idle first: another process's burst on the runner lands in one window, a
 * main thread that stalls under the load misses both.
 */
async function holds(run: () => Promise<LoadResult>, goal = P99_GOAL_MS): Promise<void> {
  let verdict: { result: LoadResult; bound: number } | undefined;
  for (let attempt = 1; attempt <= 2; attempt++) {
    const idle = await load.idle();
    const result = await run();
    const bound = Math.max(goal, 3 * idle.p99);
    report.push(`${result.line}; idle p99 just before ${idle.p99.toFixed(1)} ms, bound ${bound.toFixed(0)} ms${attempt > 1 ? ' (second window)' : ''}`);
    verdict = { result, bound };
    if (result.probes.length > 10 && result.p99 < bound) break;
  }
  expect(verdict!.result.probes.length).toBeGreaterThan(10);
  expect(verdict!.result.p99).toBeLessThan(verdict!.bound);
}

const BURST_BOUND_MS = 2 * P99_GOAL_MS;

describe(`QIDO p99 stays under ${P99_GOAL_MS} ms while heavy work runs`, () => {
  test('bone-threshold jobs that build a 200-frame SEG', () => holds(load.boneSegJob), 300_000);
  test('Gaussian jobs that build a 200-slice derived series', () => holds(load.gaussianJob), 300_000);
  test('NIfTI conversions of the series', () => holds(load.niftiGet, BURST_BOUND_MS), 300_000);
  test('a NIfTI volume posted back', () => holds(load.niftiPost, BURST_BOUND_MS), 300_000);
  test('renders and thumbnails of compressed and native frames', () => holds(load.renders, BURST_BOUND_MS), 300_000);
  test('transcodes of compressed instances', () => holds(load.transcodes, BURST_BOUND_MS), 300_000);
  test('STOW from two clients', () => holds(load.stowLoad, BURST_BOUND_MS), 300_000);
});
