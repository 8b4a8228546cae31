/**
 * `winnow score --subset NAME` and `--sample N --seed S` as a user runs them (child processes, a real project, the
 * bundled model): only those rows are written, each with the very values scoring the whole dataset gives it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, runWinnow } from './run-winnow';

const MODEL = join(ROOT, 'resources/models/stories260K');
const ROWS = 30;
let tmp: string;
let home: string;

type Line = { index: number; input_ids?: number[]; example?: Record<string, number | null>; token?: Record<string, Array<number | null>> };
const readLines = (file: string): Line[] => readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Line);
const score = (out: string, ...extra: string[]) =>
  runWinnow(home, ['score', '--model', MODEL, '--project', 'scope', '--signals', 'mean_loss,token_loss', '--max-tokens', '64', '--out', join(tmp, out), '--json', ...extra]);

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'winnow-cli-scope-'));
  home = join(tmp, 'home');
  const file = join(tmp, 'short.jsonl');
  writeFileSync(file, Array.from({ length: ROWS }, (_, i) => JSON.stringify({ prompt: `Name ${i} animals.`, completion: `cat ${i} dog ${i + 1}.` })).join('\n') + '\n');
  const imp = runWinnow(home, ['import', file, '--project', 'scope', '--json']);
  expect(imp.status, imp.stderr).toBe(0);
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('winnow score --subset / --sample', () => {
  it('writes only those rows, each with the values scoring every row gives', () => {
    const all = score('all.jsonl');
    expect(all.status, all.stderr).toBe(0);
    expect(all.json.scope).toBe(`all rows (${ROWS} rows)`);
    const whole = new Map(readLines(join(tmp, 'all.jsonl')).map((l) => [l.index, l]));
    expect(whole.size).toBe(ROWS);

    const sel = runWinnow(home, ['select', '--project', 'scope', '--name', 'five', '--random', '5', '--seed', '2', '--json']);
    expect(sel.status, sel.stderr).toBe(0);
    const sub = score('subset.jsonl', '--subset', 'five');
    expect(sub.status, sub.stderr).toBe(0);
    expect(sub.json.scope).toBe("subset 'five' (5 rows)");
    expect(sub.json.rows).toBe(5);

    const smp = score('sample.jsonl', '--sample', '6', '--seed', '4');
    expect(smp.status, smp.stderr).toBe(0);
    expect(smp.json.scope).toBe('random 6, seed 4');
    expect(smp.json.rows).toBe(6);

    for (const [file, n] of [['subset.jsonl', 5], ['sample.jsonl', 6]] as const) {
      const lines = readLines(join(tmp, file));
      expect(lines).toHaveLength(n);
      expect(new Set(lines.map((l) => l.index)).size).toBe(n);
      for (const l of lines) {
        const w = whole.get(l.index)!;
        expect(l.input_ids).toEqual(w.input_ids);
        expect(l.example!.mean_loss).toBeCloseTo(w.example!.mean_loss!, 5);
        const tl = l.token!.token_loss!;
        expect(tl).toHaveLength(w.token!.token_loss!.length);
        tl.forEach((v, i) => (v === null ? expect(w.token!.token_loss![i]).toBeNull() : expect(v).toBeCloseTo(w.token!.token_loss![i]!, 5)));
      }
    }
    // the sample of 6 at seed 4 holds the rows `select --random 6 --seed 4` picks
    const sel6 = runWinnow(home, ['select', '--project', 'scope', '--name', 'six', '--random', '6', '--seed', '4', '--json']);
    expect(sel6.status, sel6.stderr).toBe(0);
    const again = score('six.jsonl', '--subset', 'six');
    expect(readLines(join(tmp, 'six.jsonl')).map((l) => l.index)).toEqual(readLines(join(tmp, 'sample.jsonl')).map((l) => l.index));
    expect(again.status).toBe(0);
  }, 600_000);

  it('refuses --subset with --sample, and a sample of 0 rows, naming the flags', () => {
    const both = score('x.jsonl', '--subset', 'five', '--sample', '3');
    expect(both.status).not.toBe(0);
    expect(both.stderr).toContain('give --subset NAME or --sample N, not both');
    const bad = score('y.jsonl', '--sample', '0');
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain('--sample: expected a whole number of rows ≥ 1, got "0"');
  }, 120_000);
});
