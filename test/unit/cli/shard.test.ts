/**
 * `winnow score --shard I/N` and `winnow merge` as a user runs them: each shard a process of its own on the bundled
 * model, merged into a project, compared byte for byte with one unsharded `winnow score` into another project.
 */
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { appendFileSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import Database from 'better-sqlite3';
import { ROOT, runWinnow } from './run-winnow';
import { shardOfRow } from '../../../main/engine/scoring/shard';

const MODEL = join(ROOT, 'resources/models/stories260K');
const GSM = join(ROOT, 'test/fixtures/data/gsm8k-50.jsonl');
const GSM10 = join(ROOT, 'test/fixtures/data/gsm8k-10.parquet');
// per-token arrays, per-example values, a vector, a second forward pass (ifd) and the import's duplicate columns
const SIGNALS = 'token_loss,token_entropy,mean_loss,ifd,rifd,response_tokens,embedding,exact_dup';
let tmp: string;
let home: string;

const winnow = (args: string[]) => runWinnow(home, args);
// --batch 1: each row is scored alone, as in the unsharded run. At larger batches a row is padded together with other
// neighbours in a shard than in one run, and the backend's float32 sums may then differ in the last bits
const score = (out: string, extra: string[]) =>
  winnow(['score', '--model', MODEL, '--data', GSM, '--signals', SIGNALS, '--max-tokens', '256', '--batch', '1', '--out', out, '--json', ...extra]);
const projectDb = (name: string) => new Database(join(home, 'projects', name, 'project.winnow'), { readonly: true });
const lines = (file: string) => readFileSync(file, 'utf8').trim().split('\n');

/** Everything a project stores for its one score run, by file row: values as their stored bytes. */
function storedRun(project: string): unknown {
  const db = projectDb(project);
  try {
    const runs = db.prepare('SELECT * FROM score_runs').all() as Array<Record<string, unknown>>;
    expect(runs).toHaveLength(1);
    const run = runs[0]!;
    const key = db.prepare('SELECT tokenizer_id, template_hash, label_policy, max_tokens, renderer FROM render_keys WHERE id = ?').get(run.render_key_id);
    const rowOf = new Map((db.prepare('SELECT id, row_index FROM examples').all() as Array<{ id: number; row_index: number }>).map((r) => [r.id, r.row_index]));
    const byRow = (sql: string) =>
      (db.prepare(sql).all(run.id) as Array<Record<string, unknown>>)
        .map(({ example_id: id, ...rest }): Record<string, unknown> & { row: number } => ({
          row: rowOf.get(id as number)!, ...Object.fromEntries(Object.entries(rest).map(([k, v]) => [k, Buffer.isBuffer(v) ? v.toString('hex') : v])),
        }))
        .sort((a, b) => a.row - b.row || String(a.signal).localeCompare(String(b.signal)));
    return {
      run: {
        status: run.status, cursor: run.cursor, total: run.total, signals: JSON.parse(run.signals_json as string), params: JSON.parse(run.params_json as string),
        model: db.prepare('SELECT hash FROM models WHERE id = ?').pluck().get(run.model_id), key,
      },
      exampleScores: byRow('SELECT example_id, signal, value FROM example_scores WHERE run_id = ?'),
      tokenScores: byRow('SELECT example_id, signal, "values" FROM token_scores WHERE run_id = ?'),
      vectors: byRow('SELECT example_id, signal, dim, vector FROM example_vectors WHERE run_id = ?'),
      latest: (db.prepare('SELECT * FROM example_signals').all() as Array<Record<string, unknown>>)
        .map(({ example_id: id, ...rest }) => ({ row: rowOf.get(id as number), ...rest })).sort((a, b) => a.row! - b.row!),
      renders: byRow('SELECT r.example_id, r.token_ids, r.label_mask FROM renders r WHERE r.render_key_id = (SELECT render_key_id FROM score_runs WHERE id = ?)'),
    };
  } finally {
    db.close();
  }
}

function counts(project: string): Record<string, number> {
  const db = projectDb(project);
  try {
    const n = (t: string) => db.prepare(`SELECT COUNT(*) FROM ${t}`).pluck().get() as number;
    return { datasets: n('datasets'), examples: n('examples'), models: n('models'), runs: n('score_runs'), scores: n('example_scores'), renders: n('renders') };
  } finally {
    db.close();
  }
}

let whole: unknown;
const shardFiles: Record<number, string[]> = {};

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'winnow-shard-test-'));
  home = join(tmp, 'home');
  const r = score(join(tmp, 'whole.jsonl'), ['--project', 'whole']);
  expect(r.status, r.stderr).toBe(0);
  whole = storedRun('whole');
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('winnow score --shard and winnow merge', () => {
  it.each([1, 2, 3])('%i shard(s), each its own process, merge into the run an unsharded score stores, byte for byte', (n) => {
    shardFiles[n] = [];
    const held: string[] = [];
    for (let i = 0; i < n; i++) {
      const out = join(tmp, `n${n}-s${i}.jsonl`);
      const r = score(out, ['--shard', `${i}/${n}`]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.json.shard).toBe(`${i}/${n}`);
      shardFiles[n].push(String(r.json.result));
      // the shard's JSONL holds its own rows, with their file indices, and they are the rows the hash gives it
      const result = JSON.parse(readFileSync(String(r.json.result), 'utf8')) as { rows: Array<{ index: number; contentHash: string }> };
      const own = lines(out).map((l) => JSON.parse(l) as { index: number });
      expect(own.map((l) => l.index)).toEqual(result.rows.map((x) => x.index));
      for (const x of result.rows) {
        expect(x.contentHash).toMatch(/^[0-9a-f]{16}$/);
        expect(shardOfRow(x.contentHash, x.index, n)).toBe(i);
      }
      held.push(...lines(out));
    }
    // together the shards' JSONL lines are the unsharded run's lines, once each
    const byIndex = (l: string) => (JSON.parse(l) as { index: number }).index;
    expect(held.sort((a, b) => byIndex(a) - byIndex(b))).toEqual(lines(join(tmp, 'whole.jsonl')));
    if (n > 1) for (const f of shardFiles[n]) expect(lines(f.replace(/\.shard\.json$/, '')).length).toBeLessThan(50);

    const m = winnow(['merge', ...shardFiles[n], '--project', `merged-${n}`, '--out', join(tmp, `merged-${n}.jsonl`), '--json']);
    expect(m.status, m.stderr).toBe(0);
    expect(m.json).toMatchObject({ shards: n, rows: 50 });
    expect(storedRun(`merged-${n}`)).toEqual(whole);
    expect(readFileSync(join(tmp, `merged-${n}.jsonl`), 'utf8')).toBe(readFileSync(join(tmp, 'whole.jsonl'), 'utf8'));
  });

  it('a lost shard is refused by name; re-run alone, it gives the same merge', () => {
    const lost = shardFiles[3]![1]!;
    const before = readFileSync(lost, 'utf8');
    for (const f of [lost, lost.replace(/\.json$/, '.values.jsonl'), lost.replace(/\.shard\.json$/, '')]) rmSync(f);
    const refused = winnow(['merge', shardFiles[3]![0]!, shardFiles[3]![2]!, '--project', 'lost']);
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toContain('shard 1/3 is missing');
    expect(existsSync(join(home, 'projects', 'lost'))).toBe(false);

    const again = score(lost.replace(/\.shard\.json$/, ''), ['--shard', '1/3']);
    expect(again.status, again.stderr).toBe(0);
    // the same rows, the same hashes, the same files: only the machine's paths could differ, and here they do not
    expect(readFileSync(lost, 'utf8')).toBe(before);
    const m = winnow(['merge', ...shardFiles[3]!, '--project', 'rerun', '--json']);
    expect(m.status, m.stderr).toBe(0);
    expect(storedRun('rerun')).toEqual(whole);
  });

  it('refuses a duplicated shard by name, shards of other runs and changed files, before the project is touched', () => {
    const dup = winnow(['merge', shardFiles[3]![0]!, shardFiles[3]![1]!, shardFiles[3]![0]!, shardFiles[3]![2]!, '--project', 'dup']);
    expect(dup.status).not.toBe(0);
    expect(dup.stderr).toContain('shard 0/3 is given 2 times');
    const mixed = winnow(['merge', shardFiles[2]![0]!, shardFiles[3]![1]!, '--project', 'dup']);
    expect(mixed.stderr).toMatch(/is not from the same run as .*: shard count N 3 ≠ 2/);
    expect(existsSync(join(home, 'projects', 'dup'))).toBe(false);

    // another run's shard of the same index (other signals): refused as another run
    const other = winnow(['score', '--model', MODEL, '--data', GSM, '--signals', 'mean_loss', '--max-tokens', '256', '--out', join(tmp, 'other.jsonl'), '--shard', '1/2', '--json']);
    expect(other.status, other.stderr).toBe(0);
    const notOurs = winnow(['merge', shardFiles[2]![0]!, String(other.json.result), '--project', 'dup']);
    expect(notOurs.stderr).toMatch(/signal set/);

    // a values file changed after its shard wrote it: refused by the manifest's sha256
    const moved = join(tmp, 'tampered');
    mkdirSync(moved);
    const src = shardFiles[2]![1]!;
    for (const f of [src, src.replace(/\.json$/, '.values.jsonl'), src.replace(/\.shard\.json$/, '')]) copyFileSync(f, join(moved, basename(f)));
    const values = join(moved, basename(src).replace(/\.json$/, '.values.jsonl'));
    appendFileSync(values, '{"index": 0}\n'); // one row more than the shard wrote
    const changed = winnow(['merge', shardFiles[2]![0]!, join(moved, basename(src)), '--project', 'dup']);
    expect(changed.stderr).toMatch(/n2-s1\.jsonl\.shard\.values\.jsonl has sha256 [0-9a-f]+, the manifest says [0-9a-f]+/);
    expect(existsSync(join(home, 'projects', 'dup'))).toBe(false);
  });

  it('a merge refused once the project is open (another data file) leaves the project as it was', () => {
    const before = counts('merged-2');
    const r = winnow(['merge', ...shardFiles[2]!, '--project', 'merged-2', '--data', GSM10]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/gsm8k-10\.parquet: sha256 [0-9a-f]+, the shards split a file with sha256/);
    expect(counts('merged-2')).toEqual(before);
  });

  it('generate and eval --shard take the same rows as score --shard, and together give the unsharded output', () => {
    const scoreRows = shardFiles[3]!.map((f) => (JSON.parse(readFileSync(f, 'utf8')) as { rows: Array<{ index: number }> }).rows.map((r) => r.index));
    const gen = (out: string, extra: string[]) =>
      winnow(['generate', '--model', MODEL, '--data', GSM, '--max-new-tokens', '4', '--batch', '1', '--out', out, '--json', ...extra]);
    const evalLoss = (out: string, extra: string[]) => winnow(['eval', '--model', MODEL, '--data', GSM, '--metric', 'loss', '--max-tokens', '256', '--out', out, '--json', ...extra]);
    expect(gen(join(tmp, 'gen.jsonl'), []).status).toBe(0);
    expect(evalLoss(join(tmp, 'eval.json'), []).status).toBe(0);
    const genParts: string[] = [];
    const evalRows: Array<{ index: number }> = [];
    for (let i = 0; i < 3; i++) {
      const g = gen(join(tmp, `gen-${i}.jsonl`), ['--shard', `${i}/3`]);
      expect(g.status, g.stderr).toBe(0);
      const mine = lines(join(tmp, `gen-${i}.jsonl`));
      expect(mine.map((l) => (JSON.parse(l) as { index: number }).index)).toEqual(scoreRows[i]);
      genParts.push(...mine);
      const e = evalLoss(join(tmp, `eval-${i}.json`), ['--shard', `${i}/3`]);
      expect(e.status, e.stderr).toBe(0);
      const report = JSON.parse(readFileSync(join(tmp, `eval-${i}.json`), 'utf8')) as { shard: string; fileRows: number; rows: Array<{ index: number }> };
      expect(report).toMatchObject({ shard: `${i}/3`, fileRows: 50 });
      expect(report.rows.map((r) => r.index)).toEqual(scoreRows[i]);
      evalRows.push(...report.rows);
    }
    const byIndex = (l: string) => (JSON.parse(l) as { index: number }).index;
    expect(genParts.sort((a, b) => byIndex(a) - byIndex(b))).toEqual(lines(join(tmp, 'gen.jsonl')));
    expect(evalRows.sort((a, b) => a.index - b.index)).toEqual((JSON.parse(readFileSync(join(tmp, 'eval.json'), 'utf8')) as { rows: unknown[] }).rows);
  });

  // fim, layer_grad_norm and grad_sim with --shard: shard-sums.test.ts
  it('refuses a bad --shard, and --shard without --data', () => {
    const bad = winnow(['score', '--model', MODEL, '--data', GSM, '--signals', 'mean_loss', '--out', join(tmp, 'x.jsonl'), '--shard', '2/2']);
    expect(bad.stderr).toMatch(/--shard 2\/2: I runs from 0 to N−1 \(1\)/);
    const project = winnow(['score', '--model', MODEL, '--project', 'whole', '--signals', 'mean_loss', '--out', join(tmp, 'x.jsonl'), '--shard', '0/2']);
    expect(project.stderr).toMatch(/--shard scores a --data FILE in a temporary project/);
  });
});
