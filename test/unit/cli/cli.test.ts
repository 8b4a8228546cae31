/**
 * The `winnow` CLI as a user runs it (a child process over the TypeScript sources), on real files and the bundled model.
 */
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

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
  it('import prints rows, skipped and the dataset id as its last JSON line', () => {
    const r = winnow(['import', GSM, '--project', 'cli-import', '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.json).toMatchObject({ rows: 50, skipped: 0 });
    expect(typeof r.json.dataset).toBe('number');
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
    const trained = winnow(['train', '--model', MODEL, '--project', 'cli-flow', '--subset', 'top10', '--layers', 'last:1', '--steps', '2', '--batch', '2', '--out', join(tmp, 'tuned'), '--json']);
    expect(trained.status, trained.stderr).toBe(0);
    expect(readFileSync(join(tmp, 'tuned', 'model', 'config.json'), 'utf8')).toContain('llama');
    const exp = winnow(['export', '--model', MODEL, '--project', 'cli-flow', '--subset', 'top10', '--layers', 'attention', '--out', join(tmp, 'bundle'), '--json']);
    expect(exp.status, exp.stderr).toBe(0);
    const mask = JSON.parse(readFileSync(join(tmp, 'bundle', 'layer_mask.json'), 'utf8'));
    expect(mask.trainable_tensors.every((n: string) => /self_attn\.[qkvo]_proj/.test(n))).toBe(true);
    expect(readFileSync(join(tmp, 'bundle', 'subset.jsonl'), 'utf8').trim().split('\n')).toHaveLength(10);
  });

  it('convert llama2c writes a Hugging Face folder', () => {
    const src = resolve(ROOT, '../shared/data/stories260K');
    const out = join(tmp, 'converted');
    const r = winnow(['convert', 'llama2c', join(src, 'stories260K.bin'), join(src, 'tok512.bin'), out, '--json']);
    expect(r.status, r.stderr).toBe(0);
    for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']) {
      expect(readFileSync(join(out, f)).length).toBeGreaterThan(0);
    }
  });
});
