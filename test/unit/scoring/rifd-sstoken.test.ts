/**
 * rifd and sstoken through the scoring job.
 *  rifd = s(Q|A)/s(Q) with Reflection-Tuning's reverse prompt (written out here): against two plain forward passes
 *    of stories260K; lower when the response contains the instruction (the model can copy it); 1 when the model cannot
 *    see its context (zero o_proj; BOS's embedding made that of the token before Q).
 *  sstoken = γ·minmax(ℓ^his − ℓ^θ) + (1−γ)·Σ_prompt Ā[t, ·]: against losses of both models and the last layer's
 *    attention recomputed here from that layer's input (tiny GPT-2, softmax in float64); γ = 1 with history = model
 *    gives 0; the attention output of the forward leaves the logits as they are and is a causal, normalised,
 *    padding-blind distribution (GQA Qwen2).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../../main/engine/compute/backend';
import { loadModel, forward, forwardWithAttention, embed, runBlocks, type LoadedModel } from '../../../main/engine/models';
import { readCheckpoint, writeSafetensors } from '../../../main/engine/models/safetensors';
import { blobToFloat32, getRender } from '../../../main/engine/db';
import { renderExample } from '../../../main/engine/data/render';
import { answerSpan } from '../../../main/engine/scoring/passes/answer-only';
import { writeTinyModel, TINY_GPT2, TINY_QWEN2 } from '../models/tiny';
import { STORIES, TestProject, logSoftmax64, logitsOf } from './helpers';

let proj: TestProject;

beforeAll(async () => {
  await initBackend();
  proj = new TestProject();
});

afterAll(() => proj?.close());

const perExample = (runId: number, signal: string) =>
  new Map((proj.db.prepare('SELECT example_id AS id, value FROM example_scores WHERE run_id = ? AND signal = ?').all(runId, signal) as Array<{ id: number; value: number | null }>).map((r) => [r.id, r.value]));
const tokenBlob = (runId: number, id: number, signal: string) =>
  blobToFloat32(proj.db.prepare('SELECT "values" FROM token_scores WHERE run_id = ? AND example_id = ? AND signal = ?').pluck().get(runId, id, signal) as Buffer);

function dataset(name: string, rows: Array<{ question: string; answer: string }>): Promise<number> {
  const file = join(proj.home, `${name}.jsonl`);
  writeFileSync(file, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return proj.importDataset(file);
}

/** Reflection_Tuning's reverse instruction, as its data_analysis.py writes it */
const reverseChat = (q: string, a: string) => [
  { role: 'user', content: 'Below is the response to an instruction, please guess the corresponding instruction for the given response.\n' + a + '\nGenerate the instruction for the above response.' },
  { role: 'assistant', content: q },
];

const SENTENCES = [
  'He threw it high.', 'The dog ran to the park and found a big stick.', 'Mom said the cake was hot, so they waited.',
  'Ben saw a bird in the tree. The bird sang a happy song.', 'The sun was warm and the sky was blue.',
];

describe('rifd', () => {
  it('matches two plain forward passes on stories260K, and is lower when the response contains the instruction', async () => {
    const rows = SENTENCES.flatMap((q) => [{ question: q, answer: `${q} ${q}` }, { question: q, answer: 'What is 12 times 7?' }]);
    const datasetId = await dataset('rifd', rows);
    const model: LoadedModel = await loadModel(STORIES);
    const modelId = await proj.addModel(STORIES);
    const runId = await proj.score({ modelId, datasetId, signals: ['rifd'], batchSize: 4 });
    const rifd = perExample(runId, 'rifd');
    expect(rifd.size).toBe(rows.length);
    const fwd = (x: Parameters<typeof forward>[2]) => forward(model.config, model.weights, x);
    const byRow = new Map<number, number>();
    for (const [id, v] of rifd) {
      const row = proj.db.prepare('SELECT row_index FROM examples WHERE id = ?').pluck().get(id) as number;
      byRow.set(row, v!);
      const { question, answer } = rows[row]!;
      const r = renderExample(model.tokenizer, reverseChat(question, answer), { labelPolicy: 'assistant', maxTokens: 512 });
      const [s, e] = answerSpan(r.roles)!;
      const cond = logitsOf(fwd, r.tokenIds);
      const aloneIds = [model.tokenizer.bosId!, ...r.tokenIds.subarray(s, e)];
      const alone = logitsOf(fwd, aloneIds);
      let c = 0;
      let a = 0;
      for (let t = s; t < e; t++) c -= logSoftmax64(cond[t - 1]!)[r.tokenIds[t]!]!;
      for (let k = 1; k < aloneIds.length; k++) a -= logSoftmax64(alone[k - 1]!)[aloneIds[k]!]!;
      expect(v!).toBeCloseTo(c / a, 4);
    }
    // a response that repeats the instruction helps to predict it more than an unrelated one, every time; the
    // 260K-parameter model does not always copy across the reverse prompt's text, so < 1 holds on average
    SENTENCES.forEach((_, i) => expect(byRow.get(2 * i)!).toBeLessThan(byRow.get(2 * i + 1)!));
    expect(SENTENCES.reduce((a, _, i) => a + byRow.get(2 * i)!, 0) / SENTENCES.length).toBeLessThan(0.9);
  });

  it('is 1 when the model cannot see the response', async () => {
    const TINY_LLAMA = {
      model_type: 'llama', architectures: ['LlamaForCausalLM'], vocab_size: 512, hidden_size: 32, intermediate_size: 64,
      num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 4, max_position_embeddings: 512, rms_norm_eps: 1e-5,
      rope_theta: 10000, tie_word_embeddings: false, bos_token_id: 1, eos_token_id: 2,
    };
    const rows = SENTENCES.map((q, i) => ({ question: q, answer: SENTENCES[(i + 2) % SENTENCES.length]! }));
    const datasetId = await dataset('rifd-blind', rows);
    const dir = writeTinyModel(TINY_LLAMA, 4);
    const tok = (await loadModel(dir)).tokenizer;
    // the token before Q in each reverse render (a template token)
    const before = rows.map(({ question, answer }) => {
      const r = renderExample(tok, reverseChat(question, answer), { labelPolicy: 'assistant', maxTokens: 512 });
      return r.tokenIds[answerSpan(r.roles)![0] - 1]!;
    });
    expect(new Set(before).size).toBe(1);
    const H = TINY_LLAMA.hidden_size;
    const ckpt = readCheckpoint(dir).tensors;
    for (const [name, t] of ckpt) {
      if (name.endsWith('o_proj.weight')) t.data.fill(0);
      if (name === 'model.embed_tokens.weight') t.data.copyWithin(1 * H, before[0]! * H, (before[0]! + 1) * H);
    }
    writeSafetensors(join(dir, 'model.safetensors'), [...ckpt].map(([name, t]) => ({ name, shape: t.shape, data: t.data as Float32Array })), 'F32');
    const modelId = await proj.addModel(dir);
    const runId = await proj.score({ modelId, datasetId, signals: ['rifd'], batchSize: 2 });
    const rifd = perExample(runId, 'rifd');
    expect(rifd.size).toBe(rows.length);
    for (const v of rifd.values()) expect(v!).toBeCloseTo(1, 5);
  });
});

/** GPT-2 with room for these rows (the shared tiny config has 64 positions) */
const GPT2 = { ...TINY_GPT2, n_positions: 512 };

/** The last block's attention averaged over heads, [T][T], recomputed from its input in float64 (GPT-2, no padding). */
function lastAttention(model: LoadedModel, ids: Int32Array): number[][] {
  const cfg = model.config;
  const w = model.weights;
  const L = cfg.numLayers;
  const T = ids.length;
  const H = cfg.hiddenSize;
  const heads = cfg.numHeads;
  const hd = H / heads;
  const h = tf.tidy(() => runBlocks(cfg, w, embed(cfg, w, tf.tensor2d(Array.from(ids), [1, T], 'int32')), 0, L - 1));
  const x = Array.from(h.dataSync());
  h.dispose();
  const p = `transformer.h.${L - 1}`;
  const g = w[`${p}.ln_1.weight`]!.dataSync();
  const beta = w[`${p}.ln_1.bias`]!.dataSync();
  const W = w[`${p}.attn.c_attn.weight`]!.dataSync(); // [H, 3H]
  const bias = w[`${p}.attn.c_attn.bias`]!.dataSync();
  const qkv: number[][] = [];
  for (let t = 0; t < T; t++) {
    const row = x.slice(t * H, (t + 1) * H);
    const mu = row.reduce((a, b) => a + b, 0) / H;
    const v = row.reduce((a, b) => a + (b - mu) ** 2, 0) / H;
    const n = row.map((r, i) => ((r - mu) / Math.sqrt(v + cfg.normEps)) * g[i]! + beta[i]!);
    qkv.push(Array.from({ length: 3 * H }, (_, o) => n.reduce((a, r, i) => a + r * W[i * 3 * H + o]!, bias[o]!)));
  }
  const A = Array.from({ length: T }, () => new Array<number>(T).fill(0));
  for (let hh = 0; hh < heads; hh++) {
    for (let t = 0; t < T; t++) {
      const s: number[] = [];
      for (let j = 0; j <= t; j++) {
        let dot = 0;
        for (let k = 0; k < hd; k++) dot += qkv[t]![hh * hd + k]! * qkv[j]![H + hh * hd + k]!;
        s.push(dot / Math.sqrt(hd));
      }
      const m = Math.max(...s);
      const z = s.reduce((a, b) => a + Math.exp(b - m), 0);
      s.forEach((v, j) => (A[t]![j] += Math.exp(v - m) / z / heads));
    }
  }
  return A;
}

describe('sstoken', () => {
  it('matches γ·minmax(ℓ^his − ℓ^θ) + (1−γ)·Σ_prompt Ā computed here', async () => {
    const rows = SENTENCES.map((q, i) => ({ question: q, answer: SENTENCES[(i + 1) % SENTENCES.length]! }));
    const datasetId = await dataset('sstoken', rows);
    const dir = writeTinyModel(GPT2, 21);
    const hisDir = writeTinyModel(GPT2, 22);
    const model = await loadModel(dir);
    const his = await loadModel(hisDir);
    const modelId = await proj.addModel(dir);
    const hisId = await proj.addModel(hisDir);
    const gamma = 0.3;
    const runId = await proj.score({ modelId, datasetId, historyModelId: hisId, signals: ['sstoken', 'token_loss'], sstokenGamma: gamma, batchSize: 3 });
    const ids = proj.db.prepare('SELECT id FROM examples WHERE dataset_id = ?').pluck().all(datasetId) as number[];
    let checked = 0;
    for (const id of ids) {
      const r = getRender(proj.db, id, proj.renderKey(model.tokenizer))!;
      const loss = (m: LoadedModel) => {
        const lg = logitsOf((x) => forward(m.config, m.weights, x), r.tokenIds);
        return Array.from(r.tokenIds, (tokId, t) => (t === 0 ? NaN : -logSoftmax64(lg[t - 1]!)[tokId]!));
      };
      const l = loss(model);
      const lh = loss(his);
      const A = lastAttention(model, r.tokenIds);
      const resp = Array.from(r.labelMask.keys()).filter((t) => t > 0 && r.labelMask[t] === 1);
      const rel = resp.map((t) => lh[t]! - l[t]!);
      const lo = Math.min(...rel);
      const hi = Math.max(...rel);
      const got = tokenBlob(runId, id, 'sstoken');
      expect(got.length).toBe(r.nTokens);
      resp.forEach((t, i) => {
        let attn = 0;
        for (let j = 0; j < r.nTokens; j++) if (r.labelMask[j] === 0) attn += A[t]![j]!;
        expect(got[t]!, `example ${id} token ${t}`).toBeCloseTo(gamma * ((rel[i]! - lo) / (hi - lo + 1e-8)) + (1 - gamma) * attn, 4);
        checked++;
      });
      for (let t = 0; t < r.nTokens; t++) if (!resp.includes(t)) expect(got[t]).toBeNaN();
    }
    expect(checked).toBeGreaterThan(20);

    // γ = 1 with the model as its own history: every loss difference is 0, so every value is 0
    const self = await proj.score({ modelId, datasetId, historyModelId: modelId, signals: ['sstoken'], sstokenGamma: 1 });
    for (const id of ids) for (const v of tokenBlob(self, id, 'sstoken')) if (!Number.isNaN(v)) expect(v).toBe(0);
    // without a history model it refuses, saying what is missing
    await expect(proj.score({ modelId, datasetId, signals: ['sstoken'] })).rejects.toThrow(/history/);
  });

  it('the attention output leaves the logits unchanged and is causal, normalised and blind to padding (GQA)', async () => {
    const model = await loadModel(writeTinyModel(TINY_QWEN2, 5));
    const cfg = model.config;
    const a = [5, 77, 300, 12, 9, 41];
    const b = [8, 100, 3];
    const T = a.length;
    const ids = tf.tensor2d([...a, ...b, 0, 0, 0], [2, T], 'int32');
    const mask = tf.tensor2d([1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0], [2, T], 'int32');
    const plain = forward(cfg, model.weights, ids, mask);
    const out = forwardWithAttention(cfg, model.weights, ids, mask);
    expect(Array.from(out.logits.dataSync())).toEqual(Array.from(plain.dataSync()));
    expect(out.attention.shape).toEqual([2, cfg.numHeads, T, T]);
    const P = out.attention.arraySync() as number[][][][];
    const alone = forwardWithAttention(cfg, model.weights, tf.tensor2d([b], [1, b.length], 'int32')).attention.arraySync() as number[][][][];
    for (let h = 0; h < cfg.numHeads; h++) {
      for (let t = 0; t < T; t++) {
        const row = P[0]![h]![t]!;
        expect(row.reduce((x, y) => x + y, 0)).toBeCloseTo(1, 5);
        for (let j = t + 1; j < T; j++) expect(row[j]).toBe(0);
      }
      for (let t = 0; t < b.length; t++) {
        for (let j = 0; j < T; j++) expect(P[1]![h]![t]![j]!).toBeCloseTo(j < b.length ? alone[0]![h]![t]![j]! : 0, 5);
      }
    }
    tf.dispose([ids, mask, plain, out.logits, out.hidden, out.attention]);
  });
});
