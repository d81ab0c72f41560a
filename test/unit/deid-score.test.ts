/**
 * The MIDI-B style de-identification score (bench/deid-score.ts) on a deterministic corpus.
 * The first test is the goal: at least 99.9% of the required actions done right and no PHI
 * token anywhere in the output. The others prove the scorer can fail: scored on the corpus
 * itself it must find every token and fail every removal, and a gateway told to keep
 * identifying data must score badly and leak.
 */
import { DEFAULT_INSTANCES, DEFAULT_SEED, formatReport, rawCorpusOutput, scoreCorpus, scoreOutput } from '../../bench/deid-score';
import { generateCorpus } from '../../src/synthetic/deid-corpus';

describe('MIDI-B style de-identification score', () => {
  test('the default profile does at least 99.9% of the required actions right and leaks nothing', async () => {
    const result = await scoreCorpus({ instances: DEFAULT_INSTANCES, seed: DEFAULT_SEED });
    // On failure the report says which rules failed, for which attribute and object kind.
    const passed = result.score >= 99.9 && result.leakCount === 0;
    if (!passed) console.log(formatReport(result));
    expect(result.generated).toBe(DEFAULT_INSTANCES);
    // Both figures in one assertion, so a failure shows the score and the leak count together.
    expect({ score: result.score >= 99.9 ? 'at least 99.9%' : `${result.score.toFixed(2)}%`, leaks: result.leakCount }).toEqual({
      score: 'at least 99.9%',
      leaks: 0,
    });
  });

  test('scored on the untouched corpus, every token is found and every removal fails', () => {
    const corpus = generateCorpus({ instances: 300, seed: 7 });
    const result = scoreOutput(corpus, rawCorpusOutput(corpus.instances), 7);
    const tokens = new Set(corpus.instances.flatMap((i) => i.tokens));
    expect(result.leakedTokens).toBe(tokens.size);
    for (const action of ['text_removed', 'tag_removed', 'date_shifted', 'uid_changed', 'uid_consistent', 'patid_consistent', 'pixels_hidden'] as const) {
      expect([action, result.perAction[action]?.correct]).toEqual([action, 0]);
    }
    // What must be kept is kept: the key's retained values can be found where it says.
    for (const action of ['text_retained', 'tag_retained', 'text_notnull', 'pixels_retained'] as const) {
      const t = result.perAction[action]!;
      expect([action, t.correct]).toEqual([action, t.total]);
    }
    expect(result.score).toBeLessThan(50);
  });

  test('a gateway told to keep UIDs, full dates, descriptors, device and institution identity fails and leaks', async () => {
    const result = await scoreCorpus({
      instances: 250,
      seed: 11,
      deidOptions: { retainUIDs: true, retainLongitudinalTemporal: 'full', cleanDescriptors: false, retainDeviceIdentity: true, retainInstitutionIdentity: true },
    });
    expect(result.stow.stored).toBeGreaterThan(0);
    expect(result.leakCount).toBeGreaterThan(100);
    expect(result.perAction.uid_changed!.correct).toBe(0);
    expect(result.perAction.date_shifted!.correct).toBe(0);
    expect(result.perAction.text_retained!.correct).toBeLessThan(result.perAction.text_retained!.total / 2);
    expect(result.score).toBeLessThan(90);
  });
});
