/**
 * The fuzz harnesses' seed: WINNOW_FUZZ_SEED replays a run (the same cases in the same order), no seed draws a new
 * one per run, and the seed is printed with the scale so a failure can be replayed.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import { fuzzParams, fuzzSeed, SCALE } from './fuzz';

const saved = process.env.WINNOW_FUZZ_SEED;
afterEach(() => {
  if (saved === undefined) delete process.env.WINNOW_FUZZ_SEED;
  else process.env.WINNOW_FUZZ_SEED = saved;
  vi.restoreAllMocks();
});

/** the cases a property would see with these parameters */
const cases = (p: { numRuns: number; seed: number }) => {
  const seen: string[] = [];
  fc.assert(fc.property(fc.string(), fc.integer(), (s, i) => { seen.push(JSON.stringify([s, i])); }), p);
  return seen;
};

describe('fuzz seeds', () => {
  it('WINNOW_FUZZ_SEED replays the same cases, and is printed with the scale', () => {
    const log = vi.spyOn(console, 'log');
    process.env.WINNOW_FUZZ_SEED = '989985850';
    const seed = fuzzSeed('test');
    expect(seed).toBe(989985850);
    expect(log).toHaveBeenCalledWith(`fuzz test: seed 989985850, scale ${SCALE} (replay: WINNOW_FUZZ_SEED=989985850 WINNOW_FUZZ_SCALE=${SCALE})`);
    const a = cases(fuzzParams(seed, 20));
    const b = cases(fuzzParams(fuzzSeed('test'), 20));
    expect(a).toHaveLength(Math.max(1, Math.round(20 * SCALE)));
    expect(b).toEqual(a);
  });

  it('without WINNOW_FUZZ_SEED each run draws a new seed (and so new cases)', () => {
    vi.spyOn(console, 'log');
    delete process.env.WINNOW_FUZZ_SEED;
    const seeds = new Set(Array.from({ length: 8 }, () => fuzzSeed('test')));
    expect(seeds.size).toBeGreaterThan(1);
    for (const s of seeds) expect(Number.isInteger(s) && s >= 0).toBe(true);
    const [s1, s2] = [...seeds];
    expect(cases(fuzzParams(s1!, 20))).not.toEqual(cases(fuzzParams(s2!, 20)));
  });

  it('a seed that is not an integer is refused, naming the variable', () => {
    process.env.WINNOW_FUZZ_SEED = 'abc';
    expect(() => fuzzSeed('test')).toThrow('WINNOW_FUZZ_SEED must be an integer (a seed a fuzz run printed), found "abc"');
  });
});
