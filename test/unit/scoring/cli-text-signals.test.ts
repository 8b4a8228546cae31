/**
 * `winnow score --signals exact_dup,near_dup` as a user runs it (child process, bundled model): accepted (it was
 * refused as "not available in this build"), the plan shows the model-free text pass, and the JSONL carries each
 * row's duplicate columns (with their size and rank companions) next to the other signals.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GSM8K_50, STORIES } from './helpers';
import { runWinnow } from '../cli/run-winnow';

let tmp: string;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'winnow-cli-text-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function winnow(args: string[]) {
  return runWinnow(join(tmp, 'home'), args);
}

describe('winnow score, text signals', () => {
  it('writes exact_dup / near_dup with their size and rank columns into the JSONL', () => {
    // rows 0-3, then row 0 again (row 4) and row 2 again (row 5)
    const lines = readFileSync(GSM8K_50, 'utf8').trim().split('\n').slice(0, 4);
    const data = join(tmp, 'data.jsonl');
    writeFileSync(data, [...lines, lines[0], lines[2]].join('\n') + '\n');
    const out = join(tmp, 'scores.jsonl');
    const r = winnow(['score', '--model', STORIES, '--data', data, '--signals', 'mean_loss,exact_dup,near_dup', '--out', out, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const plan = r.json.plan as { passes: Array<{ kind: string; model: string; signals: string[] }> };
    expect(plan.passes.map((p) => `${p.model}:${p.kind}:${p.signals.join('+')}`)).toEqual(['model:forward:mean_loss', 'none:text:exact_dup+near_dup']);
    const rows = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { index: number; example: Record<string, number | null> });
    expect(rows.map((x) => x.index)).toEqual([0, 1, 2, 3, 4, 5]);
    const copyOf: Record<number, number> = { 4: 0, 5: 2 };
    for (const row of rows) {
      const dupOf = copyOf[row.index];
      const hasCopy = dupOf !== undefined || Object.values(copyOf).includes(row.index);
      expect(Object.keys(row.example).sort()).toEqual(['exact_dup', 'exact_dup_rank', 'mean_loss', 'near_dup', 'near_dup_rank', 'near_dup_size']);
      expect(row.example.mean_loss).toBeGreaterThan(0);
      expect(row.example.exact_dup, `row ${row.index}`).toBe(hasCopy ? 2 : 1);
      expect(row.example.exact_dup_rank, `row ${row.index}`).toBe(dupOf !== undefined ? 1 : 0);
      expect(row.example.near_dup_size, `row ${row.index}`).toBe(hasCopy ? 2 : 1);
      // a copy's near-duplicate cluster is its original's
      if (dupOf !== undefined) expect(row.example.near_dup).toBe(rows[dupOf]!.example.near_dup);
    }
    expect(new Set(rows.map((x) => x.example.near_dup)).size).toBe(4);
  });

  it('an unknown signal is still refused, naming it and the ones there are', () => {
    const r = winnow(['score', '--model', STORIES, '--data', GSM8K_50, '--signals', 'exact_dupe', '--out', join(tmp, 'x.jsonl'), '--json']);
    expect(r.status).not.toBe(0);
    expect(r.stderr + JSON.stringify(r.json)).toMatch(/exact_dupe not available in this build; available: .*exact_dup, near_dup/);
  });
});
