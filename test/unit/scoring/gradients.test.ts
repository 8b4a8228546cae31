/**
 * fim and layer_grad_norm through the scoring job on a tiny Llama whose block-0 attention output is multiplied by a
 * zero o_proj: block 0's q/k/v projections and its input norm cannot influence the loss, so their FIM and gradient
 * norm are exactly 0. Every tensor's values match a direct computation written here (per-example gradients of a
 * one-hot masked NLL, squared and summed in float64) in both loss forms — the example's summed response NLL (the
 * default, as surgical fine-tuning's fim_calculator.py backpropagates one unnormalised scalar per example) and its
 * mean — as does layer_grad_norm's per-block value ‖g_block‖₂ (the norm of the block's whole gradient); a few
 * gradient entries match finite differences, and the stored rows make `top:N:fim` / `top:N:layer_grad_norm` resolve.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../../main/engine/compute/backend';
import { loadModel, forward, type LoadedModel } from '../../../main/engine/models';
import { readCheckpoint, writeSafetensors } from '../../../main/engine/models/safetensors';
import { getRender } from '../../../main/engine/db';
import { layerBlockScores, checkpointTensors, listLayerTensors } from '../../../main/engine/api/layers';
import { fimLossOf } from '../../../main/engine/scoring/layer-rows';
import { ApiInputs } from '../../../preload/contract';
import { resolveLayerSpec } from '../../../main/engine/selection/layers';
import { seededChoice } from '../../../main/engine/scoring/passes/gradients';
import { writeTinyModel } from '../models/tiny';
import { TestProject, gsm8kRows } from './helpers';

const TINY_LLAMA = {
  model_type: 'llama', architectures: ['LlamaForCausalLM'], vocab_size: 512, hidden_size: 16, intermediate_size: 24,
  num_hidden_layers: 3, num_attention_heads: 2, num_key_value_heads: 1, max_position_embeddings: 512, rms_norm_eps: 1e-5,
  rope_theta: 10000, tie_word_embeddings: false, bos_token_id: 1, eos_token_id: 2,
};
const ROWS = 5;

let proj: TestProject;
let model: LoadedModel;
let modelId = 0;
let datasetId = 0;
let runId = 0;
let sumRunId = 0;

beforeAll(async () => {
  await initBackend();
  proj = new TestProject();
  const dir = writeTinyModel(TINY_LLAMA, 11);
  const ckpt = readCheckpoint(dir).tensors;
  ckpt.get('model.layers.0.self_attn.o_proj.weight')!.data.fill(0);
  writeSafetensors(join(dir, 'model.safetensors'), [...ckpt].map(([name, t]) => ({ name, shape: t.shape, data: t.data as Float32Array })), 'F32');
  model = await loadModel(dir);
  modelId = await proj.addModel(dir);
  datasetId = await proj.importDataset(gsm8kRows(proj.home, ROWS));
  // fimExamples above the dataset size: every example is used, so the direct computation needs no sampling
  runId = await proj.score({ modelId, datasetId, signals: ['fim', 'layer_grad_norm'], fimExamples: 100, seed: 3, fimLoss: 'mean' });
  sumRunId = await proj.score({ modelId, datasetId, signals: ['fim', 'layer_grad_norm'], fimExamples: 100, seed: 3, fimLoss: 'sum' });
});

afterAll(() => proj?.close());

const stored = (signal: string, run = runId, kind: 'tensor' | 'block' = 'tensor') =>
  new Map(
    (proj.db.prepare(`SELECT tensor_name AS name, block, kind, value FROM layer_scores WHERE run_id = ? AND signal = ? AND kind ${kind === 'block' ? '=' : '!='} 'block'`).all(run, signal) as Array<{
      name: string; block: number | null; kind: string; value: number;
    }>).map((r) => [r.name, r]),
  );

/**
 * per-example loss written here: −log softmax(logits[t−1])[x_t] over label positions via a one-hot product, summed,
 * or divided by their count (mean)
 */
function directLoss(ids: Int32Array, mask: Uint8Array, names: string[], form: 'sum' | 'mean' = 'mean') {
  const T = ids.length;
  const targets: number[] = [];
  const w: number[] = [];
  for (let t = 1; t < T; t++) {
    targets.push(ids[t]!);
    w.push(mask[t] ? 1 : 0);
  }
  const n = w.reduce((a, b) => a + b, 0);
  return (...ws: tf.Tensor[]): tf.Scalar => {
    const rec: Record<string, tf.Tensor> = {};
    names.forEach((nm, k) => (rec[nm] = ws[k]!));
    const logits = forward(model.config, rec, tf.tensor2d(Array.from(ids), [1, T], 'int32')).reshape([T, -1]).slice([0, 0], [T - 1, -1]);
    const picked = tf.sum(tf.mul(tf.logSoftmax(logits), tf.oneHot(tf.tensor1d(targets, 'int32'), model.config.vocabSize)), 1);
    return tf.div(tf.neg(tf.sum(tf.mul(picked, tf.tensor1d(w)))), form === 'mean' ? n : 1) as tf.Scalar;
  };
}

describe('gradient signals', () => {
  it('every tensor gets fim and layer_grad_norm with its block and kind', () => {
    for (const signal of ['fim', 'layer_grad_norm']) {
      const rows = stored(signal);
      expect(rows.size).toBe(model.tensors.length);
      for (const t of model.tensors) {
        expect(rows.get(t.name)!.block).toBe(t.block);
        expect(rows.get(t.name)!.kind).toBe(t.kind);
      }
    }
  });

  it('is exactly 0 for the tensors behind a zero o_proj, and not for o_proj itself', () => {
    const fim = stored('fim');
    const norm = stored('layer_grad_norm');
    for (const k of ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj', 'input_layernorm']) {
      expect(fim.get(`model.layers.0.${k}.weight`)!.value).toBe(0);
      expect(norm.get(`model.layers.0.${k}.weight`)!.value).toBe(0);
    }
    expect(fim.get('model.layers.0.self_attn.o_proj.weight')!.value).toBeGreaterThan(0);
    expect(fim.get('model.layers.1.self_attn.q_proj.weight')!.value).toBeGreaterThan(0);
  });

  for (const form of ['mean', 'sum'] as const) {
    it(`matches a direct per-example computation, ${form} form (F = mean g², ‖F‖_F; mean ‖g_tensor‖₂; mean ‖g_block‖₂)`, () => {
      const run = form === 'mean' ? runId : sumRunId;
      const names = Object.keys(model.weights);
      const blockOf = new Map(model.tensors.map((t) => [t.name, t.block]));
      const xs = names.map((n) => model.weights[n]!);
      const sq = names.map((n) => new Float64Array(model.weights[n]!.size));
      const normSum = new Float64Array(names.length);
      const blockNormSum = new Map<number, number>();
      const ids = proj.db.prepare('SELECT r.example_id FROM renders r JOIN examples e ON e.id = r.example_id WHERE e.dataset_id = ? AND r.n_label > 0').pluck().all(datasetId) as number[];
      expect(ids).toHaveLength(ROWS);
      for (const id of ids) {
        const r = getRender(proj.db, id, proj.renderKey(model.tokenizer))!;
        const grads = tf.grads(directLoss(r.tokenIds, r.labelMask, names, form))(xs);
        const blockSq = new Map<number, number>();
        grads.forEach((g, k) => {
          const d = g.dataSync();
          let s = 0;
          for (let i = 0; i < d.length; i++) {
            sq[k]![i] += d[i]! * d[i]!;
            s += d[i]! * d[i]!;
          }
          normSum[k] += Math.sqrt(s);
          const b = blockOf.get(names[k]!);
          if (b !== null && b !== undefined) blockSq.set(b, (blockSq.get(b) ?? 0) + s);
        });
        for (const [b, s] of blockSq) blockNormSum.set(b, (blockNormSum.get(b) ?? 0) + Math.sqrt(s));
        tf.dispose(grads);
      }
      const fim = stored('fim', run);
      const norm = stored('layer_grad_norm', run);
      names.forEach((name, k) => {
        let f2 = 0;
        for (const v of sq[k]!) f2 += (v / ids.length) ** 2;
        const expectFim = Math.sqrt(f2);
        const expectNorm = normSum[k]! / ids.length;
        expect(Math.abs(fim.get(name)!.value - expectFim), name).toBeLessThanOrEqual(1e-4 * expectFim + 1e-12);
        expect(Math.abs(norm.get(name)!.value - expectNorm), name).toBeLessThanOrEqual(1e-4 * expectNorm + 1e-12);
      });
      const blocks = stored('layer_grad_norm', run, 'block');
      expect([...blocks.values()].map((r) => r.block).sort()).toEqual([0, 1, 2]);
      for (const r of blocks.values()) {
        const expectBlock = blockNormSum.get(r.block!)! / ids.length;
        expect(Math.abs(r.value - expectBlock), `block ${r.block}`).toBeLessThanOrEqual(1e-4 * expectBlock);
        // the norm of the whole block's gradient is below the sum of its tensors' norms (several are non-zero)
        const tensorSum = [...norm.values()].filter((t) => t.block === r.block).reduce((a, t) => a + t.value, 0);
        expect(r.value).toBeLessThan(tensorSum * (1 - 1e-3));
      }
    });
  }

  it('the run records its loss form; the contract defaults to the sum; a run without one is the mean form', () => {
    const params = (run: number) => JSON.parse(proj.db.prepare('SELECT params_json FROM score_runs WHERE id = ?').pluck().get(run) as string) as { fimLoss?: string };
    expect(params(runId).fimLoss).toBe('mean');
    expect(params(sumRunId).fimLoss).toBe('sum');
    expect(ApiInputs['scoring.start'].parse({ modelId: 1, signals: ['fim'] }).fimLoss).toBe('sum');
    // the Layers screen states the form of the scores it shows (the latest run's), the mean for a run without one
    expect(listLayerTensors(proj.db, modelId).lossForms).toEqual({ fim: 'sum', layer_grad_norm: 'sum' });
    expect(fimLossOf({})).toBe('mean');
    // the sum form's F is the mean form's scaled per example by T²: here every example's weight differs, so the
    // ratio of the two runs differs between tensors rather than being one constant
    const ratios = [...stored('fim', sumRunId)].filter(([, r]) => r.value > 0).map(([n, r]) => r.value / stored('fim').get(n)!.value);
    expect(Math.max(...ratios)).toBeGreaterThan(1);
  });

  it('the autodiff gradient agrees with finite differences on a few entries', () => {
    const names = Object.keys(model.weights);
    const id = proj.db.prepare('SELECT id FROM examples WHERE dataset_id = ? ORDER BY id LIMIT 1').pluck().get(datasetId) as number;
    const r = getRender(proj.db, id, proj.renderKey(model.tokenizer))!;
    const f = directLoss(r.tokenIds, r.labelMask, names);
    const k = names.indexOf('model.layers.2.mlp.down_proj.weight');
    const base = model.weights[names[k]!]!;
    const g = tf.grads(f)(names.map((n) => model.weights[n]!))[k]!.dataSync();
    const data = base.dataSync().slice();
    const eps = 1e-2;
    // the entries with the largest gradients: finite differences in float32 are only meaningful there
    const top = Array.from(g.keys()).sort((a, b) => Math.abs(g[b]!) - Math.abs(g[a]!)).slice(0, 3);
    for (const i of top) {
      const at = (delta: number) => {
        const d = data.slice();
        d[i] += delta;
        const ws = names.map((n, j) => (j === k ? tf.tensor(d, base.shape) : model.weights[n]!));
        const v = tf.tidy(() => f(...ws).dataSync()[0]!);
        ws[k]!.dispose();
        return v;
      };
      const fd = (at(eps) - at(-eps)) / (2 * eps);
      expect(Math.abs(fd - g[i]!)).toBeLessThan(0.05 * Math.abs(g[i]!));
    }
  });

  it('top:N:layer_grad_norm ranks blocks by their ‖g_block‖ rows; a run with per-tensor rows only is refused', async () => {
    const blocks = layerBlockScores(proj.db, modelId, 'top:1:layer_grad_norm')!;
    const rows = stored('layer_grad_norm', sumRunId, 'block');
    expect(blocks.size).toBe(3);
    for (const r of rows.values()) expect(blocks.get(r.block!)).toBe(r.value);
    // a project whose only layer_grad_norm run predates block rows: its per-tensor sum is not ‖g_block‖
    const other = new TestProject();
    try {
      const id = await other.addModel(model.dir);
      const run = other.db.prepare(`INSERT INTO score_runs (model_id, signals_json, params_json, status, cursor, created_at) VALUES (?, '["layer_grad_norm"]', '{}', 'done', 0, datetime('now'))`).run(id).lastInsertRowid;
      other.db.prepare(`INSERT INTO layer_scores (run_id, tensor_name, block, kind, signal, value) VALUES (?, 'model.layers.0.mlp.up_proj.weight', 0, 'up', 'layer_grad_norm', 1)`).run(run);
      expect(() => layerBlockScores(other.db, Number(id), 'top:1:layer_grad_norm')).toThrow(/per-tensor norms only.*score layer_grad_norm again/);
    } finally {
      other.close();
    }
  });

  it('top:N:fim resolves from the stored scores (block score = sum over its tensors)', () => {
    const blocks = layerBlockScores(proj.db, modelId, 'top:1:fim')!;
    expect([...blocks.keys()].sort()).toEqual([0, 1, 2]);
    // the latest run of the model: the sum-form one
    const fim = stored('fim', sumRunId);
    for (const [b, v] of blocks) {
      const sum = [...fim.values()].filter((r) => r.block === b).reduce((a, r) => a + r.value, 0);
      expect(v).toBeCloseTo(sum, 10);
    }
    const best = [...blocks].sort((a, b) => b[1] - a[1])[0]![0];
    const chosen = resolveLayerSpec('top:1:fim', checkpointTensors(model.dir), blocks);
    expect(chosen.length).toBeGreaterThan(0);
    expect(chosen.every((n) => n.startsWith(`model.layers.${best}.`))).toBe(true);
  });

  it('the seeded choice is deterministic and a choice without repeats', () => {
    const ids = Array.from({ length: 50 }, (_, i) => i + 1);
    const a = seededChoice(ids, 10, 7);
    expect(seededChoice(ids, 10, 7)).toEqual(a);
    expect(new Set(a).size).toBe(10);
    expect(seededChoice(ids, 10, 8)).not.toEqual(a);
    expect(seededChoice(ids, 100, 7)).toHaveLength(50);
  });
});
