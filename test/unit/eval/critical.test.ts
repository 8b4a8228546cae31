/**
 * Critical tokens on a task built here, whose critical tokens are known: a tiny qwen2 whose attention and MLP weights
 * are zero, so each next token depends only on the current one (the residual stream is the token's embedding). With
 * orthogonal embeddings the head sets every designed token's 1st, 2nd and 3rd choice exactly:
 *   P → a (a1, a2)    a → b (b1, b2)    b → c (c1, c2)    c → EOS (z1, z2)
 *   a1 → b   a2 → x → EOS   b1, b2 → EOS   c1, c2 → c   z1, z2 → EOS
 * The answer is right when the response contains c. Greedy response after P: a b c EOS. Replacing a: a1 keeps the
 * answer (a1 b c), a2 loses it (a2 x): 1 of 2 alternatives flips, value 0.5. Replacing b: both lose it: 1. Replacing c:
 * c1 and c2 lead back to c: 0. Replacing EOS after c: the answer is already there: 0.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../main/engine/compute/backend';
import { criticalTokens, estimateCriticalCost, finalAnswerCheck } from '../../../main/engine/eval/critical';
import { disposeModel, loadModel, type LoadedModel } from '../../../main/engine/models/model';
import { readCheckpoint, writeSafetensors } from '../../../main/engine/models/safetensors';
import { TINY_QWEN2, writeTinyModel } from '../models/tiny';

const H = 32;
const EOS = 2;
const [P, a, b, c, a1, a2, x, b1, b2, c1, c2, z1, z2] = [100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 112];
/** token → its 1st, 2nd, 3rd next token */
const NEXT: Array<[number, number[]]> = [
  [P, [a, a1, a2]], [a, [b, b1, b2]], [b, [c, c1, c2]], [c, [EOS, z1, z2]],
  [a1, [b]], [a2, [x]], [x, [EOS]], [b1, [EOS]], [b2, [EOS]], [c1, [c]], [c2, [c]], [z1, [EOS]], [z2, [EOS]],
];
const LOGITS = [10, 6, 4];

let dir: string;
let m: LoadedModel;

beforeAll(async () => {
  await initBackend();
  dir = writeTinyModel(TINY_QWEN2, 7);
  const file = path.join(dir, 'model.safetensors');
  const ck = readCheckpoint(dir).tensors;
  const basis = new Map(NEXT.map(([t], i) => [t, i]));
  // RMSNorm of a unit basis vector: the one coordinate becomes 1 / sqrt(1/H + eps)
  const normed = 1 / Math.sqrt(1 / H + 1e-6);
  const tensors = [...ck].map(([name, t]) => {
    const data = new Float32Array(t.data.length);
    if (/norm\.weight$/.test(name)) data.fill(1);
    if (name.endsWith('embed_tokens.weight')) for (const [tok, i] of basis) data[tok * H + i] = 1;
    if (name === 'lm_head.weight') {
      for (const [tok, next] of NEXT) next.forEach((y, k) => (data[y * H + basis.get(tok)!] = LOGITS[k]! / normed));
    }
    return { name, shape: t.shape, data };
  });
  writeSafetensors(file, tensors, 'F32');
  m = await loadModel(dir);
});

afterAll(() => {
  if (m) disposeModel(m);
  fs.rmSync(dir, { recursive: true, force: true });
});

const hasAnswer = ({ ids }: { ids: number[] }): boolean => ids.includes(c);
const budget = { maxPositions: 64, alternatives: 2, maxNewTokens: 8 };

describe('critical tokens', () => {
  it('finds the known critical tokens of the built task, with the alternatives it tried', async () => {
    const r = await criticalTokens(m, [1, 50, P], [a, b, c, EOS], hasAnswer, budget, { eosIds: [EOS] });
    expect(r.correct).toBe(true);
    expect(r.values).toEqual([0.5, 1, 0, 0]);
    expect(r.tried).toEqual([
      [{ id: a1, correct: true }, { id: a2, correct: false }],
      [{ id: b1, correct: false }, { id: b2, correct: false }],
      [{ id: c1, correct: true }, { id: c2, correct: true }],
      [{ id: z1, correct: true }, { id: z2, correct: true }],
    ]);
    // the cost stated before the run is what it spent: 4 positions × 2 alternatives
    const est = estimateCriticalCost([4], budget);
    expect(est).toMatchObject({ examples: 1, positions: 4, rollouts: 8, maxGeneratedTokens: 64 });
    expect(r.rollouts).toBe(est.rollouts);
    // a1 b c EOS (3) + a2 x EOS... rolled out after the replaced token: a1→b c EOS, a2→x EOS, b1→EOS, b2→EOS, c1→c EOS,
    // c2→c EOS, z1→EOS, z2→EOS
    expect(r.generatedTokens).toBe(3 + 2 + 1 + 1 + 2 + 2 + 1 + 1);
    expect(r.generatedTokens).toBeLessThanOrEqual(est.maxGeneratedTokens);
  });

  it('a wrong response: a token is critical when changing it makes the answer right', async () => {
    // P a b1 EOS is wrong; replacing b1 by b (the top choice) rolls out to c
    const r = await criticalTokens(m, [P], [a, b1, EOS], hasAnswer, { ...budget, alternatives: 1 }, { eosIds: [EOS] });
    expect(r.correct).toBe(false);
    expect(r.tried[1]).toEqual([{ id: b, correct: true }]);
    expect(r.values[1]).toBe(1);
    // replacing a by a1 (the best other choice) gives a1 b c: right too
    expect(r.values[0]).toBe(1);
  });

  it('keeps to the position budget and refuses a bad one', async () => {
    const r = await criticalTokens(m, [P], [a, b, c, EOS], hasAnswer, { ...budget, maxPositions: 2 }, { eosIds: [EOS] });
    expect(r.values).toEqual([0.5, 1, null, null]);
    expect(r.rollouts).toBe(4);
    expect(() => estimateCriticalCost([3], { ...budget, alternatives: 0 })).toThrow(/alternatives must be a whole number ≥ 1, got 0/);
    await expect(criticalTokens(m, [], [a], hasAnswer, budget, { eosIds: [EOS] })).rejects.toThrow(/the prompt is empty/);
  });

  it('the final-answer check reads GSM8K answers', () => {
    const check = finalAnswerCheck('She has 5 left.\n#### 5');
    expect(check({ ids: [], text: 'so #### 5' })).toBe(true);
    expect(check({ ids: [], text: 'so #### 6' })).toBe(false);
    // a reference the regex does not match is read as exact_match reads it: its last number
    expect(finalAnswerCheck('The answer is 5.', /answer: (\d+)/)({ ids: [], text: 'answer: 5' })).toBe(true);
    expect(finalAnswerCheck('#### 7', /answer: (\d+)/)({ ids: [], text: 'answer: 7' })).toBe(true);
  });
});
