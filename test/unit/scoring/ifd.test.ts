/**
 * IFD = s(A|Q) / s(A) (Cherry_LLM): the mean answer loss with the prompt over the mean loss of the same answer tokens
 * after BOS alone.
 *  - A model whose attention output is zero (o_proj = 0) predicts each token from the previous token only, so the
 *    prompt cannot matter; with BOS's embedding row set to that of the token before the answer, even the boundary
 *    prediction is the same and IFD must be 1 (up to rounding).
 *  - On the real stories260K model, IFD equals a direct computation from two plain forward passes, and a prompt
 *    that is the answer itself (the model can copy it) gives IFD < 1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend } from '../../../main/engine/compute/backend';
import { loadModel, forward, type LoadedModel } from '../../../main/engine/models';
import { readCheckpoint, writeSafetensors } from '../../../main/engine/models/safetensors';
import { ROLE_ASSISTANT, getRender } from '../../../main/engine/db';
import { answerSpan } from '../../../main/engine/scoring/passes/answer-only';
import { writeTinyModel } from '../models/tiny';
import { STORIES, TestProject, gsm8kRows, logSoftmax64, logitsOf } from './helpers';

const TINY_LLAMA = {
  model_type: 'llama', architectures: ['LlamaForCausalLM'], vocab_size: 512, hidden_size: 32, intermediate_size: 64,
  num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 4, max_position_embeddings: 512, rms_norm_eps: 1e-5,
  rope_theta: 10000, tie_word_embeddings: false, bos_token_id: 1, eos_token_id: 2,
};

let proj: TestProject;

beforeAll(async () => {
  await initBackend();
  proj = new TestProject();
});

afterAll(() => proj?.close());

const ifdOf = (runId: number) =>
  new Map((proj.db.prepare(`SELECT example_id AS id, value FROM example_scores WHERE run_id = ? AND signal = 'ifd'`).all(runId) as Array<{ id: number; value: number | null }>).map((r) => [r.id, r.value]));

describe('answerSpan', () => {
  it('is the last run of assistant-role tokens', () => {
    const A = ROLE_ASSISTANT;
    expect(answerSpan(Uint8Array.from([3, 1, 1, 3, A, A, 3, 1, 3, A, A, A, 3]))).toEqual([9, 12]);
    expect(answerSpan(Uint8Array.from([3, 1, 1, 3]))).toBeNull();
  });
});

describe('ifd', () => {
  it('is 1 when the model cannot see the prompt', async () => {
    const datasetId = await proj.importDataset(gsm8kRows(proj.home, 12));
    const dir = writeTinyModel(TINY_LLAMA, 3);
    const tok = (await loadModel(dir)).tokenizer;
    // the token just before each answer (a template token; which one depends on how the answer starts)
    const before = new Map<number, number>();
    const { renderDataset } = await import('../../../main/engine/data/renderDataset');
    const { DEFAULT_RENDER } = await import('../../../main/engine/api/examples');
    await renderDataset(proj.db, datasetId, tok, DEFAULT_RENDER);
    const ids = proj.db.prepare('SELECT id FROM examples WHERE dataset_id = ?').pluck().all(datasetId) as number[];
    for (const id of ids) {
      const r = getRender(proj.db, id, proj.renderKey(tok))!;
      before.set(id, r.tokenIds[answerSpan(r.roles)![0] - 1]!);
    }
    const counts = new Map<number, number>();
    for (const t of before.values()) counts.set(t, (counts.get(t) ?? 0) + 1);
    const prev = [...counts].sort((a, b) => b[1] - a[1])[0]![0];
    expect(counts.get(prev)!).toBeGreaterThanOrEqual(6);
    const ckpt = readCheckpoint(dir).tensors;
    const H = TINY_LLAMA.hidden_size;
    for (const [name, t] of ckpt) {
      if (name.endsWith('o_proj.weight')) t.data.fill(0);
      if (name === 'model.embed_tokens.weight') t.data.copyWithin(1 * H, prev * H, (prev + 1) * H);
    }
    writeSafetensors(join(dir, 'model.safetensors'), [...ckpt].map(([name, t]) => ({ name, shape: t.shape, data: t.data as Float32Array })), 'F32');
    const modelId = await proj.addModel(dir);
    const runId = await proj.score({ modelId, datasetId, signals: ['ifd'], batchSize: 4 });
    const ifd = ifdOf(runId);
    expect(ifd.size).toBe(12);
    for (const [id, v] of ifd) {
      // the others differ only in the boundary token's prediction (from another template token than BOS)
      if (before.get(id) === prev) expect(v!).toBeCloseTo(1, 5);
      else expect(Math.abs(v! - 1)).toBeLessThan(0.2);
    }
  });

  it('matches a direct computation on stories260K, and is < 1 when the prompt is the answer itself repeated', async () => {
    // not story openings: "Once upon a time…" right after BOS is already near-certain for this model
    const answers = [
      'He threw it high.', 'The dog ran to the park and found a big stick.', 'Mom said the cake was hot, so they waited.',
      'Ben saw a bird in the tree. The bird sang a happy song.', 'The sun was warm and the sky was blue.',
    ];
    const unrelated = 'What is 12 times 7?';
    const file = join(proj.home, 'echo.jsonl');
    const rows = answers.flatMap((a) => [{ question: `${a} ${a}`, answer: a }, { question: unrelated, answer: a }]);
    writeFileSync(file, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const datasetId = await proj.importDataset(file);
    const model: LoadedModel = await loadModel(STORIES);
    const modelId = await proj.addModel(STORIES);
    const runId = await proj.score({ modelId, datasetId, signals: ['ifd'] });
    const ifd = ifdOf(runId);
    expect(ifd.size).toBe(rows.length);
    const byRow = new Map<number, number>();
    for (const [id, v] of ifd) {
      byRow.set(proj.db.prepare('SELECT row_index FROM examples WHERE id = ?').pluck().get(id) as number, v!);
      // direct: the answer's ids as rendered, scored after the whole prompt and after BOS alone
      const r = getRender(proj.db, id, proj.renderKey(model.tokenizer))!;
      const [s, e] = answerSpan(r.roles)!;
      const fwd = (x: Parameters<typeof forward>[2]) => forward(model.config, model.weights, x);
      const cond = logitsOf(fwd, r.tokenIds);
      const aloneIds = [model.tokenizer.bosId!, ...r.tokenIds.subarray(s, e)];
      const alone = logitsOf(fwd, aloneIds);
      let c = 0;
      let a = 0;
      for (let t = s; t < e; t++) c -= logSoftmax64(cond[t - 1]!)[r.tokenIds[t]!]!;
      for (let k = 1; k < aloneIds.length; k++) a -= logSoftmax64(alone[k - 1]!)[aloneIds[k]!]!;
      expect(v!).toBeCloseTo(c / a, 4);
    }
    answers.forEach((_, i) => {
      const echo = byRow.get(2 * i)!;
      expect(echo).toBeLessThan(1);
      expect(echo).toBeLessThan(byRow.get(2 * i + 1)!);
    });
  });
});
