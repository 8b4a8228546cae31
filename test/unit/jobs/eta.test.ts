/**
 * The ETA model (util/eta.ts) on a simulated scoring run: rows are taken shortest first, as the length buckets do,
 * and each batch costs a fixed overhead plus time per token. Part-way through, the token estimate is close to the
 * time the rest of the run really takes; the examples/s estimate, measured on the short rows, is far too low.
 */
import { describe, expect, it } from 'vitest';
import { etaFromExamples, etaFromTokens } from '../../../main/engine/util/eta';

/** 400 rows: most short, a tail of long ones, sorted by length as the scoring pass sorts them */
const lengths = Array.from({ length: 400 }, (_, i) => (i < 300 ? 40 + (i % 30) : 600 + 4 * (i - 300))).sort((a, b) => a - b);
const BATCH = 8;
const OVERHEAD_S = 0.02;
const PER_TOKEN_S = 0.0005;
const batchSeconds = (rows: number[]) => OVERHEAD_S + PER_TOKEN_S * BATCH * Math.max(...rows); // padded to the longest row

function runUntil(doneRows: number) {
  let seconds = 0;
  let tokensDone = 0;
  for (let i = 0; i < doneRows; i += BATCH) {
    const rows = lengths.slice(i, i + BATCH);
    seconds += batchSeconds(rows);
    tokensDone += rows.reduce((a, b) => a + b, 0);
  }
  let rest = 0;
  for (let i = doneRows; i < lengths.length; i += BATCH) rest += batchSeconds(lengths.slice(i, i + BATCH));
  const tokensLeft = lengths.slice(doneRows).reduce((a, b) => a + b, 0);
  return { seconds, tokensDone, tokensLeft, rest };
}

describe('etaFromTokens', () => {
  it('estimates a run whose long rows come last within 10%, where examples/s is off by more than 3×', () => {
    for (const doneRows of [80, 160, 240]) {
      const { seconds, tokensDone, tokensLeft, rest } = runUntil(doneRows);
      const byTokens = etaFromTokens({ examplesDone: doneRows, tokensDone, tokensLeft, seconds }).etaSeconds!;
      const byExamples = etaFromExamples(doneRows, lengths.length - doneRows, seconds)!;
      expect(Math.abs(byTokens - rest) / rest, `token ETA after ${doneRows} rows: ${byTokens.toFixed(1)} s vs ${rest.toFixed(1)} s`).toBeLessThan(0.1);
      expect(rest / byExamples, `examples/s ETA after ${doneRows} rows: ${byExamples.toFixed(1)} s vs ${rest.toFixed(1)} s`).toBeGreaterThan(3);
    }
  });

  it('reports both rates from the same counts', () => {
    const r = etaFromTokens({ examplesDone: 10, tokensDone: 5000, tokensLeft: 10000, seconds: 2 });
    expect(r.tokensPerSec).toBe(2500);
    expect(r.examplesPerSec).toBe(5);
    expect(r.etaSeconds).toBe(4);
  });

  it('has no estimate before anything is done, and none left at the end', () => {
    expect(etaFromTokens({ examplesDone: 0, tokensDone: 0, tokensLeft: 900, seconds: 3 }).etaSeconds).toBeNull();
    expect(etaFromTokens({ examplesDone: 5, tokensDone: 900, tokensLeft: 0, seconds: 3 }).etaSeconds).toBe(0);
    expect(etaFromExamples(0, 10, 3)).toBeNull();
  });
});
