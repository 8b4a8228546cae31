/**
 * The `winnow` CLI as a user runs it (a child process over the TypeScript sources), on real files and the bundled model.
 */
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';

const ROOT = resolve(__dirname, '../../..');
const MODEL = join(ROOT, 'resources/models/stories260K');
const GSM = join(ROOT, 'test/fixtures/data/gsm8k-50.jsonl');
let tmp: string;

function winnow(args: string[]): { status: number | null; stdout: string; stderr: string; json: Record<string, unknown> } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'main/cli/index.ts'), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, WINNOW_HOME: join(tmp, 'home') },
    timeout: 300_000,
  });
  const last = r.stdout.trim().split('\n').pop() ?? '';
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(last);
  } catch {
    // not JSON: the assertions say so
  }
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, json };
}

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'winnow-cli-test-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('winnow CLI', () => {
  it('import prints rows, skipped, the dataset id and the mapping used as its last JSON line', () => {
    const r = winnow(['import', GSM, '--project', 'cli-import', '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.json).toMatchObject({ rows: 50, skipped: 0, format: 'question_answer', mapping: { format: 'question_answer', question: 'question', answer: 'answer' } });
    expect(typeof r.json.dataset).toBe('number');
  });

  it('import --mapping maps fields detection cannot know, and names a mapping that does not fit', () => {
    const file = join(tmp, 'renamed.jsonl');
    writeFileSync(file, `${JSON.stringify({ q: 'Why?', a: 'Because.', id: 1 })}\n`);
    const bad = winnow(['import', file, '--project', 'cli-mapping', '--json']);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/renamed\.jsonl: cannot recognise the record format \(fields seen: "q", "a", "id"\)/);
    const r = winnow(['import', file, '--project', 'cli-mapping', '--json', '--mapping', '{"format":"prompt_completion","prompt":"q","completion":"a"}']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.json).toMatchObject({ rows: 1, format: 'prompt_completion', mapping: { prompt: 'q', completion: 'a' } });
    const wrong = winnow(['import', file, '--project', 'cli-mapping', '--mapping', '{"format":"question_answer","question":"q","answer":"answer"}']);
    expect(wrong.stderr).toContain('renamed.jsonl line 1: field "answer" is missing');
    writeFileSync(file, `${JSON.stringify({ q: 'Why?', a: 'Because.' })}\n{"q": "Broken"\n${JSON.stringify({ q: 'How?' })}\n`);
    const skipped = winnow(['import', file, '--project', 'cli-mapping', '--json', '--skip-malformed', '--mapping', '{"format":"prompt_completion","prompt":"q","completion":"a"}']);
    expect(skipped.json).toMatchObject({ rows: 1, skipped: 2 });
    expect(skipped.json.skips).toEqual([
      { line: 2, reason: expect.stringMatching(/^renamed\.jsonl line 2: invalid JSON/) },
      { line: 3, reason: 'renamed.jsonl line 3: field "a" is missing' },
    ]);
    const notJson = winnow(['import', file, '--project', 'cli-mapping', '--mapping', '{format:alpaca}']);
    expect(notJson.stderr).toMatch(/--mapping: not valid JSON/);
  });

  it('score writes one aligned JSON line per GSM8K example', () => {
    const out = join(tmp, 'gsm.jsonl');
    const r = winnow(['score', '--model', MODEL, '--data', GSM, '--signals', 'token_loss,mean_loss', '--out', out, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const lines = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(50);
    lines.forEach((l, i) => {
      expect(l.index).toBe(i);
      expect(l.token.token_loss).toHaveLength(l.input_ids.length);
      expect(l.label_mask).toHaveLength(l.input_ids.length);
      expect(l.token.token_loss[0]).toBeNull();
      const masked = l.token.token_loss.filter((_: unknown, t: number) => t > 0 && l.label_mask[t] === 1);
      const mean = masked.reduce((a: number, b: number) => a + b, 0) / masked.length;
      expect(l.example.mean_loss).toBeCloseTo(mean, 4);
      expect(l.label_mask[1]).toBe(0); // the question is not learned
    });
  });

  it('score tokenizes {"text"} records as-is, without a chat template, all tokens in the mask', () => {
    const data = join(tmp, 'text.jsonl');
    writeFileSync(data, ['Once upon a time, there was a little girl.', 'The cat sat on the mat.'].map((text) => JSON.stringify({ text })).join('\n') + '\n');
    const out = join(tmp, 'text-scores.jsonl');
    const r = winnow(['score', '--model', MODEL, '--data', data, '--signals', 'token_loss', '--out', out, '--json']);
    expect(r.status, r.stderr).toBe(0);
    const lines = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(2);
    for (const l of lines) {
      expect(l.input_ids[0]).toBe(1); // BOS, then the text's own tokens: no template text
      expect(l.label_mask.slice(1).every((m: number) => m === 1)).toBe(true);
    }
    // a real story opening is easy for a model trained on stories
    const mean = (a: number[]) => a.slice(1).reduce((x, y) => x + y, 0) / (a.length - 1);
    expect(mean(lines[0].token.token_loss)).toBeLessThan(3);
  });

  it('a malformed line fails with the file and line named', () => {
    const data = join(tmp, 'bad.jsonl');
    writeFileSync(data, '{"question": "a", "answer": "b"}\n{"question": \n');
    const r = winnow(['import', data, '--project', 'cli-bad', '--json']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/bad\.jsonl.*line 2/);
  });

  it('an unknown model folder is a clear error', () => {
    const r = winnow(['score', '--model', join(tmp, 'nope'), '--data', GSM, '--signals', 'token_loss', '--out', join(tmp, 'x.jsonl')]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('nope');
  });

  it('select, train and export run on a project', () => {
    expect(winnow(['import', GSM, '--project', 'cli-flow', '--json']).status).toBe(0);
    const scored = winnow(['score', '--model', MODEL, '--project', 'cli-flow', '--signals', 'mean_loss', '--out', join(tmp, 's.jsonl'), '--json']);
    expect(scored.status, scored.stderr).toBe(0);
    const sel = winnow(['select', '--project', 'cli-flow', '--name', 'top10', '--signal', 'mean_loss', '--top', '10', '--json']);
    expect(sel.status, sel.stderr).toBe(0);
    expect(sel.json.size).toBe(10);
    // the Examples table's filters as flags: every row whose mean_loss and length fall in the ranges, and none other
    const db = new Database(join(tmp, 'home', 'projects', 'cli-flow', 'project.winnow'), { readonly: true });
    const median = (db.prepare('SELECT mean_loss FROM example_signals ORDER BY mean_loss').pluck().all() as number[])[25]!;
    const want = db.prepare('SELECT e.id FROM examples e JOIN example_signals s ON s.example_id = e.id WHERE s.mean_loss >= ? AND e.n_chars <= 400 ORDER BY e.id')
      .pluck().all(median) as number[];
    db.close();
    expect(want.length).toBeGreaterThan(0);
    expect(want.length).toBeLessThan(50);
    const where = winnow(['select', '--project', 'cli-flow', '--name', 'where', '--where', `mean_loss>=${median}`, '--where', 'n_chars<=400', '--json']);
    expect(where.status, where.stderr).toBe(0);
    expect(where.json.size).toBe(want.length);
    expect(where.json.rule).toMatchObject({ kind: 'filter', filters: [{ column: 'mean_loss', min: median }, { column: 'n_chars', max: 400 }] });
    const bad = winnow(['select', '--project', 'cli-flow', '--name', 'bad', '--where', 'mean_loss>>2', '--json']);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain('--where "mean_loss>>2": expected COLUMN>=NUMBER');
    const unknown = winnow(['select', '--project', 'cli-flow', '--name', 'unknown', '--where', 'no_such=1', '--json']);
    expect(unknown.status).not.toBe(0);
    expect(unknown.stderr).toContain('unknown column "no_such"');
    const trained = winnow(['train', '--model', MODEL, '--project', 'cli-flow', '--subset', 'top10', '--layers', 'last:1', '--steps', '2', '--batch', '2', '--out', join(tmp, 'tuned'), '--json']);
    expect(trained.status, trained.stderr).toBe(0);
    expect(readFileSync(join(tmp, 'tuned', 'model', 'config.json'), 'utf8')).toContain('llama');
    const exp = winnow(['export', '--model', MODEL, '--project', 'cli-flow', '--subset', 'top10', '--layers', 'attention', '--out', join(tmp, 'bundle'), '--json']);
    expect(exp.status, exp.stderr).toBe(0);
    const mask = JSON.parse(readFileSync(join(tmp, 'bundle', 'layer_mask.json'), 'utf8'));
    expect(mask.trainable_tensors.every((n: string) => /self_attn\.[qkvo]_proj/.test(n))).toBe(true);
    expect(readFileSync(join(tmp, 'bundle', 'subset.jsonl'), 'utf8').trim().split('\n')).toHaveLength(10);
  });

  it('cluster, then select n per cluster and a diverse k by k-center on embedding', () => {
    const project = 'cli-diverse';
    expect(winnow(['import', GSM, '--project', project, '--json']).status).toBe(0);
    // no clusters yet: the quota rule says what to run first
    const early = winnow(['select', '--project', project, '--name', 'early', '--per-cluster', '2', '--json']);
    expect(early.status).not.toBe(0);
    expect(early.stderr).toMatch(/K-means first/);
    const scored = winnow(['score', '--model', MODEL, '--project', project, '--signals', 'embedding,mean_loss', '--out', join(tmp, 'emb.jsonl'), '--json']);
    expect(scored.status, scored.stderr).toBe(0);
    const clustered = winnow(['cluster', '--project', project, '--k', '3', '--seed', '1', '--json']);
    expect(clustered.status, clustered.stderr).toBe(0);
    expect(clustered.json.k).toBe(3);
    expect((clustered.json.sizes as number[]).reduce((a, b) => a + b, 0)).toBe(50);

    const db = new Database(join(tmp, 'home', 'projects', project, 'project.winnow'), { readonly: true });
    try {
      const rows = db.prepare('SELECT example_id AS id, cluster AS c, mean_loss AS v FROM example_signals').all() as Array<{ id: number; c: number; v: number }>;
      const members = (subsetId: unknown) => new Set(db.prepare('SELECT example_id FROM subset_members WHERE subset_id = ?').pluck().all(Number(subsetId)) as number[]);

      // the two highest mean_loss rows of each cluster, worked out here from the stored columns
      const quota = winnow(['select', '--project', project, '--name', 'top2-per-cluster', '--per-cluster', '2', '--signal', 'mean_loss', '--json']);
      expect(quota.status, quota.stderr).toBe(0);
      const want = new Set<number>();
      for (let c = 0; c < 3; c++) {
        rows.filter((r) => r.c === c).sort((a, b) => b.v - a.v || a.id - b.id).slice(0, 2).forEach((r) => want.add(r.id));
      }
      expect(members(quota.json.subset)).toEqual(want);
      expect(quota.json.rule).toMatchObject({ kind: 'cluster_quota', count: 2, signal: 'mean_loss', clusterRunId: clustered.json.runId, k: 3 });

      // n% of each cluster, a seeded random sample: the same seed gives the same rows
      const pct = (name: string, seed: string) => winnow(['select', '--project', project, '--name', name, '--per-cluster-percent', '50', '--seed', seed, '--json']);
      const [a, b] = [pct('half-a', '7'), pct('half-b', '7')];
      expect(a.status, a.stderr).toBe(0);
      const sizes = [0, 1, 2].map((c) => rows.filter((r) => r.c === c).length);
      expect(a.json.size).toBe(sizes.reduce((t, n) => t + Math.max(1, Math.round(n / 2)), 0));
      expect(members(b.json.subset)).toEqual(members(a.json.subset));

      // k-center: every row lies within the recorded radius of a picked row, and the radius is attained
      const kc = winnow(['select', '--project', project, '--name', 'diverse-5', '--kcenter', '5', '--seed', '2', '--json']);
      expect(kc.status, kc.stderr).toBe(0);
      expect(kc.json.size).toBe(5);
      const vecs = new Map(
        (db.prepare(`SELECT example_id AS id, vector FROM example_vectors v WHERE signal = 'embedding'
          AND run_id = (SELECT MAX(run_id) FROM example_vectors x WHERE x.example_id = v.example_id AND x.signal = 'embedding')`).all() as Array<{ id: number; vector: Buffer }>)
          .map((r) => [r.id, Array.from(new Float32Array(r.vector.buffer.slice(r.vector.byteOffset, r.vector.byteOffset + r.vector.byteLength)))]),
      );
      expect(vecs.size).toBe(50);
      const picked = [...members(kc.json.subset)].map((id) => vecs.get(id)!);
      const dist = (x: number[], y: number[]) => Math.sqrt(x.reduce((t, xi, i) => t + (xi - y[i]!) ** 2, 0));
      const radius = Math.max(...[...vecs.values()].map((v) => Math.min(...picked.map((p) => dist(v, p)))));
      const rule = kc.json.rule as { kind: string; radius: number; candidates: number };
      expect(rule.kind).toBe('kcenter');
      expect(rule.candidates).toBe(50);
      expect(rule.radius).toBeCloseTo(radius, 3);

      // among a subset: only its rows are candidates
      const among = winnow(['select', '--project', project, '--name', 'diverse-among', '--kcenter', '3', '--among', 'top2-per-cluster', '--json']);
      expect(among.status, among.stderr).toBe(0);
      expect(among.json.size).toBe(3);
      expect([...members(among.json.subset)].every((id) => want.has(id))).toBe(true);
      expect(among.json.rule).toMatchObject({ kind: 'kcenter', candidates: want.size, subsetName: 'top2-per-cluster' });
    } finally {
      db.close();
    }
  });

  it('select --ifd-top / --ifd-top-percent: drop ifd > 1, then the highest by ifd', () => {
    const project = 'cli-ifd';
    expect(winnow(['import', GSM, '--project', project, '--json']).status).toBe(0);
    const scored = winnow(['score', '--model', MODEL, '--project', project, '--signals', 'ifd', '--out', join(tmp, 'ifd.jsonl'), '--json']);
    expect(scored.status, scored.stderr).toBe(0);
    const db = new Database(join(tmp, 'home', 'projects', project, 'project.winnow'), { readonly: true });
    try {
      const rows = db.prepare('SELECT example_id AS id, ifd AS v FROM example_signals WHERE ifd IS NOT NULL').all() as Array<{ id: number; v: number }>;
      const members = (subsetId: unknown) => db.prepare('SELECT example_id FROM subset_members WHERE subset_id = ? ORDER BY example_id').pluck().all(Number(subsetId)) as number[];
      // worked out here: rows with ifd ≤ 1, highest first (ties by id)
      const kept = rows.filter((r) => r.v <= 1).sort((a, b) => b.v - a.v || a.id - b.id);
      expect(kept.length).toBeGreaterThan(10);
      // stories260K finds some GSM8K answers harder with the question than without: those are the rows dropped
      const dropped = rows.filter((r) => r.v > 1).map((r) => r.id);
      expect(dropped.length).toBeGreaterThan(0);
      const top = (n: number) => kept.slice(0, n).map((r) => r.id).sort((a, b) => a - b);

      const k = winnow(['select', '--project', project, '--name', 'ifd-10', '--ifd-top', '10', '--json']);
      expect(k.status, k.stderr).toBe(0);
      expect(k.json.rule).toEqual({ kind: 'ifd_top', count: 10 });
      expect(members(k.json.subset)).toEqual(top(10));

      const pct = winnow(['select', '--project', project, '--name', 'ifd-half', '--ifd-top-percent', '50', '--json']);
      expect(pct.status, pct.stderr).toBe(0);
      expect(pct.json.size).toBe(Math.round(kept.length / 2));
      expect(members(pct.json.subset)).toEqual(top(Math.round(kept.length / 2)));
      expect(members(k.json.subset).some((id) => dropped.includes(id))).toBe(false);

      const both = winnow(['select', '--project', project, '--name', 'ifd-both', '--ifd-top', '5', '--ifd-top-percent', '5', '--json']);
      expect(both.status).not.toBe(0);
      expect(both.stderr).toMatch(/--ifd-top K or --ifd-top-percent X, not both/);
    } finally {
      db.close();
    }
  });

  it('convert llama2c writes a Hugging Face folder', () => {
    const src = resolve(ROOT, 'test/fixtures/llama2c');
    const out = join(tmp, 'converted');
    const r = winnow(['convert', 'llama2c', join(src, 'stories260K.bin'), join(src, 'tok512.bin'), out, '--json']);
    expect(r.status, r.stderr).toBe(0);
    for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']) {
      expect(readFileSync(join(out, f)).length).toBeGreaterThan(0);
    }
  });
});
