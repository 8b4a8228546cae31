/**
 * `winnow generate` and `winnow eval` as a user runs them (a child process over the TypeScript sources) on the
 * bundled stories260K and GSM8K rows; expected values computed here, in process, by independent means.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../main/engine/compute/backend';
import { renderExample } from '../../../main/engine/data/render';
import { forward } from '../../../main/engine/models/forward';
import { generate } from '../../../main/engine/models/generate';
import { choiceReference, rowChoices } from '../../../main/cli/commands/eval';
import { disposeModel, loadModel, type LoadedModel } from '../../../main/engine/models/model';

const ROOT = resolve(__dirname, '../../..');
const MODEL = join(ROOT, 'resources/models/stories260K');
const GSM = join(ROOT, 'test/fixtures/data/gsm8k-50.jsonl');
let tmp: string;
let m: LoadedModel;

function winnow(args: string[]): { status: number | null; stderr: string; json: Record<string, unknown> } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'main/cli/index.ts'), ...args, '--json'], {
    cwd: ROOT, encoding: 'utf8', env: { ...process.env, WINNOW_HOME: join(tmp, 'home') }, timeout: 300_000,
  });
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as Record<string, unknown>;
  } catch {
    // not JSON: the assertions say so
  }
  return { status: r.status, stderr: r.stderr, json };
}

const readJsonl = (f: string): Array<Record<string, unknown>> => readFileSync(f, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

/** the prompt as the issue states it: the question turn through the chat template with the generation prompt */
const promptOf = (question: string): string => m.tokenizer.applyChatTemplate([{ role: 'user', content: question }], { addGenerationPrompt: true });

/** log-softmax in plain JS over one position's logits */
function logProb(logits: Float32Array, at: number, V: number, id: number): number {
  const row = logits.subarray(at * V, (at + 1) * V);
  let max = -Infinity;
  for (const x of row) max = Math.max(max, x);
  let s = 0;
  for (const x of row) s += Math.exp(x - max);
  return row[id]! - max - Math.log(s);
}

async function logitsOf(ids: number[]): Promise<Float32Array> {
  const t = forward(m.config, m.weights, tf.tensor2d([ids], [1, ids.length], 'int32'));
  const d = (await t.data()) as Float32Array;
  t.dispose();
  return d;
}

const gsm = readFileSync(GSM, 'utf8').trim().split('\n').slice(0, 3).map((l) => JSON.parse(l) as { question: string; answer: string });

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'winnow-cli-gen-'));
  await initBackend('cpu');
  m = await loadModel(MODEL);
});
afterAll(() => {
  disposeModel(m);
  rmSync(tmp, { recursive: true, force: true });
});

describe('winnow generate', () => {
  it('writes one row per record, the greedy continuation of its chat-templated prompt; resumes; sampling follows the seed', async () => {
    const data = join(tmp, 'gsm3.jsonl');
    writeFileSync(data, gsm.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const out = join(tmp, 'gen.jsonl');
    const r = winnow(['generate', '--model', MODEL, '--data', data, '--max-new-tokens', '12', '--batch', '2', '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.json).toMatchObject({ rows: 3, generated: 3 });
    const rows = readJsonl(out);
    expect(rows.map((x) => x.index)).toEqual([0, 1, 2]);
    for (const [i, row] of rows.entries()) {
      const prompt = promptOf(gsm[i]!.question);
      expect(Object.keys(row).sort()).toEqual(['completion', 'finish_reason', 'index', 'prompt', 'tokens']);
      expect(row.prompt).toBe(prompt);
      const [want] = await generate(m, [m.tokenizer.encode(prompt, { addSpecialTokens: false }).ids], { maxNewTokens: 12 });
      expect(row.tokens).toEqual(want!.ids);
      expect(row.completion).toBe(want!.text);
      expect(row.finish_reason).toBe(want!.finishReason);
    }

    // an interrupted run: only the first row survived; --resume generates the other two
    writeFileSync(out, readFileSync(out, 'utf8').split('\n')[0] + '\n');
    const again = winnow(['generate', '--model', MODEL, '--data', data, '--max-new-tokens', '12', '--out', out, '--resume']);
    expect(again.json).toMatchObject({ rows: 3, generated: 2, skipped: 1 });
    expect(readJsonl(out)).toEqual(rows);

    // a stop string cuts the first row's completion before it
    const completion = String(rows[0]!.completion);
    const stop = completion.slice(4, 7);
    const stopped = winnow(['generate', '--model', MODEL, '--data', data, '--max-new-tokens', '12', '--stop', stop, '--out', join(tmp, 'stop.jsonl')]);
    expect(stopped.status, stopped.stderr).toBe(0);
    const s0 = readJsonl(join(tmp, 'stop.jsonl'))[0]!;
    expect(s0.finish_reason).toBe('stop');
    expect(s0.completion).toBe(completion.slice(0, completion.indexOf(stop)));

    const sample = (seed: string, f: string) => {
      winnow(['generate', '--model', MODEL, '--data', data, '--max-new-tokens', '12', '--temperature', '1', '--top-p', '0.9', '--seed', seed, '--out', join(tmp, f)]);
      return readJsonl(join(tmp, f)).map((x) => x.tokens);
    };
    const a = sample('1', 'a.jsonl');
    expect(sample('1', 'b.jsonl')).toEqual(a);
    expect(sample('2', 'c.jsonl')).not.toEqual(a);
  });

  it('refuses an --adapter folder that is not a LoRA adapter, naming the missing file', () => {
    const r = winnow(['generate', '--model', MODEL, '--adapter', tmp, '--data', GSM, '--out', join(tmp, 'x.jsonl')]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('adapter_config.json: not found');
  });
});

describe('winnow eval', () => {
  it('exact_match with --answer-regex: two references agree with the greedy answer, one does not → 2/3', async () => {
    const last: string[] = [];
    for (const r of gsm) {
      const [g] = await generate(m, [m.tokenizer.encode(promptOf(r.question), { addSpecialTokens: false }).ids], { maxNewTokens: 16 });
      const words = g!.text.match(/[A-Za-z]+/g) ?? [];
      last.push(words[words.length - 1]!);
    }
    const data = join(tmp, 'em.jsonl');
    const refs = [`so it is ${last[0]}`, `so it is ${last[1]}`, 'so it is zzzqqq'];
    writeFileSync(data, gsm.map((r, i) => JSON.stringify({ question: r.question, answer: refs[i] })).join('\n') + '\n');
    const out = join(tmp, 'em.json');
    const r = winnow(['eval', '--model', MODEL, '--data', data, '--metric', 'exact_match', '--answer-regex', '([A-Za-z]+)', '--max-new-tokens', '16', '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    const rep = JSON.parse(readFileSync(out, 'utf8')) as { exact_match: number; n: number; rows: Array<{ prediction: string; correct: boolean }> };
    expect(rep.n).toBe(3);
    expect(rep.exact_match).toBeCloseTo(2 / 3, 12);
    expect(rep.rows.map((x) => x.correct)).toEqual([true, true, false]);
    expect(rep.rows.map((x) => x.prediction)).toEqual(last);
    // GSM8K's own answers (#### N) against this tiny story model: the default extraction runs, nothing matches
    const gsmRun = winnow(['eval', '--model', MODEL, '--data', join(tmp, 'gsm3.jsonl'), '--metric', 'exact_match', '--max-new-tokens', '8', '--out', join(tmp, 'g.json')]);
    expect(gsmRun.json).toMatchObject({ exact_match: 0, n: 3 });
  });

  it('accuracy picks the label with the larger log-likelihood after the prompt, as computed here', async () => {
    const qs = ['Is the sky blue?', 'Is the dog happy?', 'Did Lily run?', 'Was the cat big?'];
    const gold = ['yes', 'no', 'no', 'yes'];
    const labelIds = ['yes', 'no'].map((l) => m.tokenizer.encode(l, { addSpecialTokens: false }).ids);
    const want: boolean[] = [];
    for (const [i, q] of qs.entries()) {
      const p = m.tokenizer.encode(promptOf(q), { addSpecialTokens: false }).ids;
      const scores: number[] = [];
      for (const ids of labelIds) {
        const seq = [...p, ...ids];
        const logits = await logitsOf(seq);
        let s = 0;
        for (let t = p.length; t < seq.length; t++) s += logProb(logits, t - 1, m.config.vocabSize, seq[t]!);
        scores.push(s);
      }
      want.push((scores[0]! >= scores[1]! ? 'yes' : 'no') === gold[i]);
    }
    const data = join(tmp, 'cls.jsonl');
    writeFileSync(data, qs.map((q, i) => JSON.stringify({ question: q, answer: gold[i] })).join('\n') + '\n');
    const out = join(tmp, 'acc.json');
    const r = winnow(['eval', '--model', MODEL, '--data', data, '--metric', 'accuracy', '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    const rep = JSON.parse(readFileSync(out, 'utf8')) as { accuracy: number; n: number; labels: string[]; rows: Array<{ correct: boolean }> };
    expect(rep.labels).toEqual(['yes', 'no']);
    expect(rep.rows.map((x) => x.correct)).toEqual(want);
    expect(rep.accuracy).toBeCloseTo(want.filter(Boolean).length / 4, 12);
  });

  it('multiple-choice records: each row scores its own "choices"; the answer may be the text, an index or a letter', async () => {
    expect(choiceReference('B', ['red', 'blue'])).toBe('blue');
    expect(choiceReference('(a)', ['red', 'blue'])).toBe('red');
    expect(choiceReference('1', ['red', 'blue'])).toBe('blue');
    expect(choiceReference(' Blue. ', ['red', 'blue'])).toBe('blue');
    expect(rowChoices({ choices: ['x'] })).toBeNull();
    const rows = [
      { question: 'What color was the big ball?', choices: ['red', 'blue', 'green'], answer: 'B' },
      { question: 'Who ran to the park?', choices: ['the dog', 'the cat'], answer: '0' },
    ];
    const want: string[] = [];
    for (const r of rows) {
      const p = m.tokenizer.encode(promptOf(r.question), { addSpecialTokens: false }).ids;
      const scores: number[] = [];
      for (const c of r.choices) {
        const seq = [...p, ...m.tokenizer.encode(c, { addSpecialTokens: false }).ids];
        const logits = await logitsOf(seq);
        let s = 0;
        for (let t = p.length; t < seq.length; t++) s += logProb(logits, t - 1, m.config.vocabSize, seq[t]!);
        scores.push(s);
      }
      want.push(r.choices[scores.indexOf(Math.max(...scores))]!);
    }
    const data = join(tmp, 'mc.jsonl');
    writeFileSync(data, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const out = join(tmp, 'mc.json');
    const r = winnow(['eval', '--model', MODEL, '--data', data, '--metric', 'accuracy', '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    const rep = JSON.parse(readFileSync(out, 'utf8')) as { accuracy: number; rows: Array<{ prediction: string; reference: string; correct: boolean }> };
    expect(rep.rows.map((x) => x.prediction)).toEqual(want);
    expect(rep.rows.map((x) => x.reference)).toEqual(['blue', 'the dog']);
    const hits = [want[0] === 'blue', want[1] === 'the dog'];
    expect(rep.rows.map((x) => x.correct)).toEqual(hits);
    expect(rep.accuracy).toBe(hits.filter(Boolean).length / 2);
  });

  it('loss and perplexity over the answer tokens, as computed here', async () => {
    const out = join(tmp, 'loss.json');
    const r = winnow(['eval', '--model', MODEL, '--data', join(tmp, 'gsm3.jsonl'), '--metric', 'loss', '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    let sum = 0;
    let n = 0;
    for (const row of gsm) {
      const ex = renderExample(m.tokenizer, [{ role: 'user', content: row.question }, { role: 'assistant', content: row.answer }], { labelPolicy: 'last_assistant', maxTokens: m.config.maxPositions });
      const ids = Array.from(ex.tokenIds);
      const logits = await logitsOf(ids);
      for (let t = 1; t < ids.length; t++) {
        if (!ex.labelMask[t]) continue;
        sum -= logProb(logits, t - 1, m.config.vocabSize, ids[t]!);
        n++;
      }
    }
    const rep = JSON.parse(readFileSync(out, 'utf8')) as { loss: number; perplexity: number; tokens: number; n: number };
    expect(rep.n).toBe(3);
    expect(rep.tokens).toBe(n);
    expect(Math.abs(rep.loss - sum / n)).toBeLessThan(1e-5);
    expect(Math.abs(rep.perplexity - Math.exp(sum / n)) / Math.exp(sum / n)).toBeLessThan(1e-5);
  });
});

describe('winnow generate, interrupted', () => {
  it('Ctrl-C keeps the finished rows and says how to resume; --resume completes the file', async () => {
    const data = join(tmp, 'gsm20.jsonl');
    writeFileSync(data, readFileSync(GSM, 'utf8').trim().split('\n').slice(0, 20).join('\n') + '\n');
    const out = join(tmp, 'int.jsonl');
    const args = ['generate', '--model', MODEL, '--data', data, '--max-new-tokens', '24', '--batch', '1', '--out', out];
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'main/cli/index.ts'), ...args], { cwd: ROOT, env: { ...process.env, WINNOW_HOME: join(tmp, 'home') } });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
    const t0 = Date.now();
    while (!(existsSync(out) && readFileSync(out, 'utf8').split('\n').length > 2) && Date.now() - t0 < 120_000) await new Promise((r) => setTimeout(r, 100));
    child.kill('SIGINT');
    const code = await exited;
    expect(code, stderr).toBe(1);
    expect(stderr).toMatch(/interrupted after \d+ of 20 rows .*--resume/);
    const kept = readJsonl(out);
    expect(kept.length).toBeGreaterThanOrEqual(2);
    expect(kept.length).toBeLessThan(20);
    const r = winnow([...args, '--resume']);
    expect(r.json).toMatchObject({ rows: 20, generated: 20 - kept.length, skipped: kept.length });
    expect(readJsonl(out).map((x) => x.index)).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });
});
