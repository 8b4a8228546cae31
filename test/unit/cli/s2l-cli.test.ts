/**
 * `winnow train --record-trajectories` then `winnow select --s2l K --run ID` (issue #19), as a user runs them: the run
 * stores a loss per example at each checkpoint, the subset has K rows spread over the trajectory clusters as S2L's
 * rule gives (recomputed here from the cluster sizes the rule records), the same seed gives the same rows, and a
 * missing --run is refused, naming the flag. `select --uds` keeps ⌈keep·B⌉ of each batch.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, runWinnow } from './run-winnow';

const MODEL = join(ROOT, 'resources/models/stories260K');
const GSM = join(ROOT, 'test/fixtures/data/gsm8k-50.jsonl');
let home = '';
const winnow = (args: string[]) => runWinnow(home, args);

beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), 'winnow-s2l-cli-'));
});
afterAll(() => rmSync(home, { recursive: true, force: true }));

/** S2L's counts per cluster for `sizes` and a budget: ascending sizes, each the even share of what is left */
function s2lCounts(sizes: number[], budget: number): number {
  let left = Math.min(budget, sizes.reduce((a, b) => a + b, 0));
  let total = 0;
  [...sizes].sort((a, b) => a - b).forEach((n, i, all) => {
    const take = Math.min(n, Math.floor(left / (all.length - i)));
    total += take;
    left -= take;
  });
  return total;
}

describe('winnow select --s2l', () => {
  it('selects K rows over the loss trajectories a recorded run left', () => {
    const data = join(home, 'gsm12.jsonl');
    writeFileSync(data, readFileSync(GSM, 'utf8').trim().split('\n').slice(0, 12).join('\n') + '\n');
    expect(winnow(['import', data, '--project', 'p', '--json']).status).toBe(0);
    const trained = winnow(['train', '--model', MODEL, '--project', 'p', '--layers', 'last:1', '--steps', '4', '--batch', '4', '--lr', '0.01',
      '--checkpoint-every', '2', '--record-trajectories', '--out', join(home, 'tuned'), '--json']);
    expect(trained.status, trained.stderr).toBe(0);
    const runId = String(trained.json.runId);
    const sel = winnow(['select', '--project', 'p', '--name', 's2l-5', '--s2l', '5', '--run', runId, '--clusters', '3', '--seed', '4', '--json']);
    expect(sel.status, sel.stderr).toBe(0);
    const rule = sel.json.rule as { kind: string; checkpoints: number[]; candidates: number; clusterSizes: number[]; clusters: number };
    expect(rule).toMatchObject({ kind: 's2l', clusters: 3, checkpoints: [2, 4] });
    expect(rule.clusterSizes.reduce((a, b) => a + b, 0)).toBe(rule.candidates);
    expect(sel.json.size).toBe(s2lCounts(rule.clusterSizes, 5));
    expect(sel.json.size).toBe(5);
    const again = winnow(['select', '--project', 'p', '--name', 's2l-5b', '--s2l', '5', '--run', runId, '--clusters', '3', '--seed', '4', '--json']);
    expect(again.json.rule).toMatchObject({ clusterSizes: rule.clusterSizes });
    const bad = winnow(['select', '--project', 'p', '--name', 'no-run', '--s2l', '5']);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/--run/);
  });

  it('select --uds keeps the best share of each batch of rows under the model', () => {
    const sel = winnow(['select', '--project', 'p', '--name', 'uds-half', '--uds', '0.5', '--model', MODEL, '--batch', '4', '--seed', '1', '--json']);
    expect(sel.status, sel.stderr).toBe(0);
    const rule = sel.json.rule as { kind: string; keep: number; batchSize: number; candidates: number };
    expect(rule).toMatchObject({ kind: 'uds', keep: 0.5, batchSize: 4 });
    // ⌈0.5 · B⌉ of every batch of 4 (the last one may be shorter)
    let want = 0;
    for (let i = 0; i < rule.candidates; i += 4) want += Math.ceil(0.5 * Math.min(4, rule.candidates - i));
    expect(rule.candidates).toBeGreaterThan(4);
    expect(sel.json.size).toBe(want);
  });
});
