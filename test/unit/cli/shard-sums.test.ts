/**
 * `winnow score --shard` for the signals that are sums over examples (fim, layer_grad_norm) and for grad_sim_base's target
 * mean, and `winnow merge` of generate / eval shards: each shard its own process on the bundled model, merged, and
 * compared with one unsharded run of the same command.
 */
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { ROOT, runWinnow } from './run-winnow';

const MODEL = join(ROOT, 'resources/models/stories260K');
const GSM = join(ROOT, 'test/fixtures/data/gsm8k-50.jsonl');
const SIGNALS = 'fim,layer_grad_norm,grad_sim_base,mean_loss';
const FIM_EXAMPLES = 7;
let tmp: string;
let home: string;
let data: string;
let target: string;

const winnow = (args: string[]) => runWinnow(home, args);
const score = (out: string, extra: string[]) => winnow([
  'score', '--model', MODEL, '--data', data, '--signals', SIGNALS, '--fim-examples', String(FIM_EXAMPLES), '--seed', '3',
  '--target-data', target, '--max-tokens', '256', '--batch', '1', '--out', out, '--json', ...extra,
]);
const lines = (file: string) => readFileSync(file, 'utf8').trim().split('\n');

interface Stored {
  params: Record<string, unknown>;
  layers: Map<string, number>;
  gradSim: Array<[number, number | null]>;
  rest: Array<[number, string, number | null]>;
}

/** A project's one score run: its parameters, its layer scores by tensor and signal, its per-row values. */
function stored(project: string): Stored {
  const db = new Database(join(home, 'projects', project, 'project.winnow'), { readonly: true });
  try {
    const run = db.prepare('SELECT id, params_json FROM score_runs').all() as Array<{ id: number; params_json: string }>;
    expect(run).toHaveLength(1);
    const layers = new Map((db.prepare('SELECT tensor_name, kind, signal, value FROM layer_scores WHERE run_id = ?').all(run[0]!.id) as Array<{ tensor_name: string; kind: string; signal: string; value: number }>)
      .map((r) => [`${r.signal} ${r.kind} ${r.tensor_name}`, r.value]));
    const values = db.prepare(`SELECT e.row_index AS row, s.signal, s.value FROM example_scores s JOIN examples e ON e.id = s.example_id
      WHERE s.run_id = ? ORDER BY e.row_index, s.signal`).all(run[0]!.id) as Array<{ row: number; signal: string; value: number | null }>;
    return {
      params: JSON.parse(run[0]!.params_json) as Record<string, unknown>,
      layers,
      gradSim: values.filter((v) => v.signal === 'grad_sim_base').map((v) => [v.row, v.value]),
      rest: values.filter((v) => v.signal !== 'grad_sim_base').map((v) => [v.row, v.signal, v.value]),
    };
  } finally {
    db.close();
  }
}

let whole: Stored;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'winnow-shard-sums-'));
  home = join(tmp, 'home');
  const gsm = lines(GSM);
  // twelve rows to score, three others as grad_sim_base's target file: few, so the test stays short
  data = join(tmp, 'data.jsonl');
  writeFileSync(data, gsm.slice(0, 12).join('\n') + '\n');
  target = join(tmp, 'target.jsonl');
  writeFileSync(target, gsm.slice(40, 43).join('\n') + '\n');
  const r = score(join(tmp, 'whole.jsonl'), ['--project', 'whole']);
  expect(r.status, r.stderr).toBe(0);
  whole = stored('whole');
  expect(whole.layers.size).toBeGreaterThan(0);
  expect(whole.gradSim.filter(([, v]) => v !== null).length).toBeGreaterThan(0);
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('score --shard with fim, layer_grad_norm and grad_sim_base', () => {
  const shardFiles: Record<number, string[]> = {};

  it.each([1, 2, 3])('%i shard(s) merge into the unsharded layer scores and grad_sim_base values', (n) => {
    shardFiles[n] = [];
    let drawn = 0;
    for (let i = 0; i < n; i++) {
      const r = score(join(tmp, `n${n}-s${i}.jsonl`), ['--shard', `${i}/${n}`]);
      expect(r.status, r.stderr).toBe(0);
      const file = String(r.json.result);
      shardFiles[n].push(file);
      const result = JSON.parse(readFileSync(file, 'utf8')) as { sums: { layer: { count: number }; targetDim: number }; files: Array<{ role: string }> };
      expect(result.files.map((f) => f.role)).toEqual(['scores', 'values', 'sums']);
      expect(result.sums.targetDim).toBe(1024);
      drawn += result.sums.layer.count;
    }
    // fim's draw is made over the whole file: the shards together differentiate exactly the unsharded draw's examples
    expect(drawn).toBe(FIM_EXAMPLES);

    const m = winnow(['merge', ...shardFiles[n], '--project', `merged-${n}`, '--json']);
    expect(m.status, m.stderr).toBe(0);
    const merged = stored(`merged-${n}`);
    expect(merged.params).toEqual(whole.params);
    expect([...merged.layers.keys()].sort()).toEqual([...whole.layers.keys()].sort());
    for (const [key, want] of whole.layers) {
      const got = merged.layers.get(key)!;
      if (n === 1) {
        // one shard's sums are the unsharded run's sums, finished by the same float32 ops: bit for bit
        expect(got, key).toBe(want);
      } else if (key.startsWith('fim ')) {
        // Σg² per parameter is a float32 sum on the backend: each shard adds its examples in float32, the merge adds
        // the shards in float64 and rounds once to float32. The sum of k terms then differs from the one-run order by
        // at most about k float32 roundings (k·6e-8 relative, k ≤ 7 here), and the Frobenius norm by no more
        expect(Math.abs(got - want) / Math.abs(want), key).toBeLessThan(1e-6);
      } else {
        // Σ‖g‖ per tensor and block: the same float64 terms as the one run, added in another order (float64 rounding)
        expect(Math.abs(got - want) / Math.abs(want), key).toBeLessThan(1e-12);
      }
    }
    // every shard compared its rows with the whole target file's sum, as the one run did: per-row values bit for bit
    expect(merged.gradSim).toEqual(whole.gradSim);
    expect(merged.rest).toEqual(whole.rest);
  });

  it('refuses shards that compared with another target file, and grad_sim_base without --target-data', () => {
    const other = join(tmp, 'target2.jsonl');
    writeFileSync(other, lines(GSM).slice(44, 46).join('\n') + '\n');
    const r = winnow(['score', '--model', MODEL, '--data', data, '--signals', SIGNALS, '--fim-examples', String(FIM_EXAMPLES), '--seed', '3',
      '--target-data', other, '--max-tokens', '256', '--batch', '1', '--out', join(tmp, 'other.jsonl'), '--shard', '1/2', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const refused = winnow(['merge', shardFiles[2]![0]!, String(r.json.result), '--project', 'mixed']);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/is not from the same run as .*: grad_sim_base target file hash/);

    const subset = winnow(['score', '--model', MODEL, '--data', data, '--signals', 'grad_sim_base', '--target-subset', 'x', '--out', join(tmp, 'x.jsonl'), '--shard', '0/2']);
    expect(subset.status).toBe(2);
    expect(subset.stderr).toMatch(/--shard with grad_sim_base takes its target set as --target-data FILE/);
    const none = winnow(['score', '--model', MODEL, '--data', data, '--signals', 'grad_sim_base', '--out', join(tmp, 'x.jsonl'), '--shard', '0/2']);
    expect(none.stderr).toMatch(/grad_sim_base needs a target set: with --shard, --target-data FILE/);
  });
});

describe('winnow merge of generate and eval shards', () => {
  const gen = (out: string, extra: string[]) => winnow(['generate', '--model', MODEL, '--data', data, '--max-new-tokens', '4', '--batch', '1', '--out', out, '--json', ...extra]);
  const evaluate = (metric: string, out: string, extra: string[]) =>
    winnow(['eval', '--model', MODEL, '--data', data, '--metric', metric, '--max-new-tokens', '4', '--max-tokens', '256', '--out', out, '--json', ...extra]);

  it('generate: the shards merge into the unsharded JSONL; a missing or repeated shard is refused by name', () => {
    expect(gen(join(tmp, 'gen.jsonl'), []).status).toBe(0);
    const parts: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = gen(join(tmp, `gen-${i}.jsonl`), ['--shard', `${i}/3`]);
      expect(r.status, r.stderr).toBe(0);
      parts.push(String(r.json.result));
    }
    const m = winnow(['merge', ...parts, '--out', join(tmp, 'gen-merged.jsonl'), '--json']);
    expect(m.status, m.stderr).toBe(0);
    expect(m.json).toMatchObject({ shards: 3, rows: 12 });
    expect(readFileSync(join(tmp, 'gen-merged.jsonl'), 'utf8')).toBe(readFileSync(join(tmp, 'gen.jsonl'), 'utf8'));

    const missing = winnow(['merge', parts[0]!, parts[2]!, '--out', join(tmp, 'gen-x.jsonl')]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('shard 1/3 is missing: run it (winnow generate … --shard 1/3)');
    const dup = winnow(['merge', parts[0]!, parts[1]!, parts[1]!, parts[2]!, '--out', join(tmp, 'gen-x.jsonl')]);
    expect(dup.stderr).toContain('shard 1/3 is given 2 times');
    // a piece changed after its shard wrote it: refused by the manifest's sha256
    writeFileSync(join(tmp, 'gen-1.jsonl'), lines(join(tmp, 'gen-1.jsonl')).slice(1).join('\n') + '\n');
    const cut = winnow(['merge', ...parts, '--out', join(tmp, 'gen-x.jsonl')]);
    expect(cut.stderr).toMatch(/gen-1\.jsonl has sha256 [0-9a-f]+, the manifest says/);
    expect(() => readFileSync(join(tmp, 'gen-x.jsonl'))).toThrow();
  });

  it.each(['loss', 'exact_match'])('eval --metric %s: the shards merge into the unsharded report, metric and rows', (metric) => {
    const whole = join(tmp, `eval-${metric}.json`);
    expect(evaluate(metric, whole, []).status).toBe(0);
    const parts: string[] = [];
    for (let i = 0; i < 2; i++) {
      const r = evaluate(metric, join(tmp, `eval-${metric}-${i}.json`), ['--shard', `${i}/2`]);
      expect(r.status, r.stderr).toBe(0);
      parts.push(String(r.json.result));
    }
    const m = winnow(['merge', ...parts, '--out', join(tmp, `eval-${metric}-merged.json`), '--json']);
    expect(m.status, m.stderr).toBe(0);
    // the same file: loss as Σ NLL / Σ tokens over the rows in file order, exact_match the share of correct rows
    expect(readFileSync(join(tmp, `eval-${metric}-merged.json`), 'utf8')).toBe(readFileSync(whole, 'utf8'));
    const report = JSON.parse(readFileSync(whole, 'utf8')) as Record<string, unknown>;
    expect(m.json[metric]).toBe(report[metric]);
    // merging shards of two different metrics is refused as another run
    if (metric === 'exact_match') {
      const mixed = winnow(['merge', parts[0]!, join(tmp, 'eval-loss-1.json.shard.json'), '--out', join(tmp, 'eval-x.json')]);
      expect(mixed.status).toBe(2);
      expect(mixed.stderr).toMatch(/is not from the same run as .*: options/);
    }
  });
});
