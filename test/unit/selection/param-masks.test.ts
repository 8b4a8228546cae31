/**
 * Parameter masks (salience, gps): the selection rules against plain sorts written here, the bitset form, the spec
 * grammar, migration 007, and the whole paramMasks.compute job on a tiny Llama (block 0's attention output is
 * multiplied by a zero o_proj, so block 0's q/k/v have exactly zero gradient) against a direct computation: per-example
 * gradients of a one-hot masked NLL summed in float64, scored and ranked here.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../../main/engine/compute/backend';
import { loadModel, forward, type LoadedModel } from '../../../main/engine/models';
import { readCheckpoint, writeSafetensors } from '../../../main/engine/models/safetensors';
import { getRender } from '../../../main/engine/db';
import { migrate } from '../../../main/engine/db/migrate';
import { openProjectDb } from '../../../main/engine/db/open';
import {
  computeParamMask, gpsMask, outputAxis, packBits, parseParamMaskSpec, salienceScores, topKMasks, unpackBits, type TensorGrads,
} from '../../../main/engine/selection/param-masks';
import { loadParamMaskBits } from '../../../main/engine/selection/param-masks-store';
import type { TensorInfo } from '../../../main/engine/models/types';
import { rng, tmpDir, writeTinyModel } from '../models/tiny';
import { TestProject, gsm8kRows } from '../scoring/helpers';

/** reference top-k: sort (value desc, position asc) over the concatenation */
function sortTopK(scores: Float32Array[], k: number): Uint8Array[] {
  const all: Array<[number, number, number]> = [];
  scores.forEach((s, a) => s.forEach((v, i) => all.push([v, a, i])));
  all.sort((x, y) => y[0] - x[0] || x[1] - y[1] || x[2] - y[2]);
  const out = scores.map((s) => new Uint8Array(s.length));
  for (const [, a, i] of all.slice(0, k)) out[a]![i] = 1;
  return out;
}

const info = (name: string, kind: string, shape: number[]): TensorInfo => ({ name, kind, shape, block: 0, size: shape[0]! * (shape[1] ?? 1) });

describe('selection rules', () => {
  it('topKMasks equals a sort, ties broken by position, across arrays', () => {
    const r = rng(5);
    for (const trial of [0, 1, 2, 3]) {
      // trial 0/1: distinct values; 2/3: few distinct values (many ties), zeros included
      const arrays = [17, 300, 1, 64].map((n) => Float32Array.from({ length: n }, () => (trial < 2 ? r() * 10 ** (r() * 6 - 3) : Math.floor(r() * 4) / 4)));
      const total = arrays.reduce((a, s) => a + s.length, 0);
      for (const k of [0, 1, 5, 37, 200, total - 1, total, total + 3]) {
        expect(topKMasks(arrays, k), `trial ${trial} k ${k}`).toEqual(sortTopK(arrays, Math.min(k, total)));
      }
    }
  });

  it('gps keeps the top-n inputs of every output row, for [out, in] and GPT-2 Conv1D [in, out]', () => {
    const r = rng(9);
    const outs = 6;
    const ins = 11;
    const g = Float32Array.from({ length: outs * ins }, () => (r() < 0.2 ? 0.5 : r() - 0.5));
    for (const t of [info('model.layers.0.mlp.up_proj.weight', 'up', [outs, ins]), info('h.0.mlp.c_fc.weight', 'fc', [ins, outs])]) {
      const axis = outputAxis(t);
      expect(axis).toBe(t.kind === 'fc' ? 1 : 0);
      for (const n of [1, 3, ins, ins + 4]) {
        const m = gpsMask({ info: t, weight: new Float32Array(g.length), sumG: g }, n);
        for (let o = 0; o < outs; o++) {
          const at = (i: number) => (axis === 0 ? o * ins + i : i * outs + o);
          const order = Array.from({ length: ins }, (_, i) => i).sort((a, b) => Math.abs(g[at(b)]!) - Math.abs(g[at(a)]!) || a - b);
          const want = new Set(order.slice(0, Math.min(n, ins)));
          for (let i = 0; i < ins; i++) expect(m[at(i)], `${t.kind} row ${o} input ${i} n ${n}`).toBe(want.has(i) ? 1 : 0);
        }
      }
    }
  });

  it('bitsets round-trip, LSB first', () => {
    const r = rng(2);
    for (const n of [1, 7, 8, 9, 1000]) {
      const m = Uint8Array.from({ length: n }, () => (r() < 0.3 ? 1 : 0));
      const bits = packBits(m);
      expect(bits.length).toBe(Math.ceil(n / 8));
      expect(unpackBits(bits, n)).toEqual(m);
    }
    expect(packBits(Uint8Array.from([1, 0, 0, 0, 0, 0, 0, 0, 0, 1]))).toEqual(Uint8Array.from([1, 2]));
    expect(() => unpackBits(new Uint8Array(2), 20)).toThrow(/expected 3/);
  });

  it('parses the spec grammar and names what is wrong', () => {
    expect(parseParamMaskSpec('salience:abs_wg:0.01')).toEqual({ method: 'salience', metric: 'abs_wg', density: 0.01, topk: 'global' });
    expect(parseParamMaskSpec('salience:|w·g|:0.05:per_tensor')).toEqual({ method: 'salience', metric: 'abs_wg', density: 0.05, topk: 'per_tensor' });
    expect(parseParamMaskSpec('salience:(w*g)^2:1')).toMatchObject({ metric: 'sq_wg', density: 1 });
    expect(parseParamMaskSpec('salience:|g|:0.2')).toMatchObject({ metric: 'abs_g' });
    expect(parseParamMaskSpec('gps:4')).toEqual({ method: 'gps', density: 1, perRow: 4 });
    expect(parseParamMaskSpec('gps:0.1')).toEqual({ method: 'gps', density: 0.1 });
    expect(() => parseParamMaskSpec('salience:foo:0.1')).toThrow(/unknown metric "foo"/);
    expect(() => parseParamMaskSpec('salience:abs_g:0')).toThrow(/DENSITY/);
    expect(() => parseParamMaskSpec('salience:abs_g:0.1:rows')).toThrow(/global or per_tensor/);
    expect(() => parseParamMaskSpec('gps:2.5')).toThrow(/integer/);
    expect(() => parseParamMaskSpec('magnitude:0.1')).toThrow(/not a parameter mask spec/);
  });

  it('sq_wg is SPEFT\'s Taylor-FO (w·Σg)², not w²·Σg²: values and ranking as computed here', () => {
    const t = info('model.layers.0.mlp.up_proj.weight', 'up', [1, 3]);
    const weight = Float32Array.from([2, -1, 0.5]);
    const sumG = Float32Array.from([0.25, 3, -4]);
    const g: TensorGrads = { info: t, weight, sumG };
    const direct = Array.from(weight, (w, i) => (w * sumG[i]!) ** 2);
    expect(Array.from(salienceScores(g, 'sq_wg'))).toEqual(direct.map((v) => Math.fround(v)));
    // it ranks as |w·Σg| does
    const pick = (metric: 'abs_wg' | 'sq_wg') => [...computeParamMask([g], { method: 'salience', metric, density: 2 / 3, topk: 'global' })[0]!.mask];
    expect(pick('sq_wg')).toEqual(pick('abs_wg'));
    expect(pick('sq_wg')).toEqual([0, 1, 1]);
  });

  it('a salience spec may ask for every tensor of the scope (:all)', () => {
    expect(parseParamMaskSpec('salience:sq_wg:0.1:per_tensor:all')).toEqual({ method: 'salience', metric: 'sq_wg', density: 0.1, topk: 'per_tensor', allParams: true });
    expect(parseParamMaskSpec('salience:sq_wg:0.1:all')).toEqual({ method: 'salience', metric: 'sq_wg', density: 0.1, topk: 'global', allParams: true });
    expect(() => parseParamMaskSpec('salience:sq_wg:0.1:global:per_tensor')).toThrow(/too many fields/);
  });

  it('migration 007 stores masks with their tensors and cascades with the model', () => {
    const dir = tmpDir('pm-migrate');
    const db = openProjectDb(join(dir, 'p.winnow'), { migrate: false });
    migrate(db, { upTo: 6 });
    expect(migrate(db, { upTo: 7 })).toEqual([7]);
    db.prepare(`INSERT INTO models (id, name, path, architecture, config_json, hash, created_at) VALUES (1, 'm', '/m', 'llama', '{}', 'h', 't')`).run();
    db.prepare(`INSERT INTO param_masks (id, name, model_id, method, trainable_params, scope_params, provenance_json, created_at) VALUES (1, 'a', 1, 'gps', 3, 10, '{}', 't')`).run();
    db.prepare(`INSERT INTO param_mask_tensors (mask_id, tensor_name, shape_json, selected, bits) VALUES (1, 'x', '[10]', 3, x'0700')`).run();
    expect(() => db.prepare(`INSERT INTO param_masks (name, model_id, method, trainable_params, scope_params, provenance_json, created_at) VALUES ('a', 1, 'gps', 0, 0, '{}', 't')`).run()).toThrow(/UNIQUE/);
    expect(loadParamMaskBits(db, 1).get('x')!.mask).toEqual(Uint8Array.from([1, 1, 1, 0, 0, 0, 0, 0, 0, 0]));
    db.prepare('DELETE FROM models WHERE id = 1').run();
    expect(db.prepare('SELECT COUNT(*) FROM param_mask_tensors').pluck().get()).toBe(0);
    db.close();
  });
});

const TINY_LLAMA = {
  model_type: 'llama', architectures: ['LlamaForCausalLM'], vocab_size: 512, hidden_size: 16, intermediate_size: 24,
  num_hidden_layers: 3, num_attention_heads: 2, num_key_value_heads: 1, max_position_embeddings: 512, rms_norm_eps: 1e-5,
  rope_theta: 10000, tie_word_embeddings: false, bos_token_id: 1, eos_token_id: 2,
};
const ROWS = 4;

describe('paramMasks.compute on a tiny Llama', () => {
  let proj: TestProject;
  let model: LoadedModel;
  let modelId = 0;
  let datasetId = 0;
  /** Σ_n g_n per tensor (float64), from the direct loss */
  const sumG = new Map<string, Float64Array>();

  beforeAll(async () => {
    await initBackend();
    proj = new TestProject('pmasks');
    const dir = writeTinyModel(TINY_LLAMA, 21);
    const ckpt = readCheckpoint(dir).tensors;
    ckpt.get('model.layers.0.self_attn.o_proj.weight')!.data.fill(0);
    writeSafetensors(join(dir, 'model.safetensors'), [...ckpt].map(([name, t]) => ({ name, shape: t.shape, data: t.data as Float32Array })), 'F32');
    model = await loadModel(dir);
    modelId = await proj.addModel(dir);
    datasetId = await proj.importDataset(gsm8kRows(proj.home, ROWS));

    // gradients written here: mean over label positions of −log softmax(logits[t−1])[x_t], via a one-hot product
    const names = Object.keys(model.weights);
    for (const n of names) {
      sumG.set(n, new Float64Array(model.weights[n]!.size));
    }
    await proj.call('project.open', {});
    // render through a first (cheap) job so the direct computation sees the same token ids
    const warm = await proj.call('paramMasks.compute', { name: 'warm-up', modelId, method: 'gps', perRow: 1, scope: 'last:1', datasetId, examples: 100 });
    await proj.finished(warm.jobId);
    const ids = proj.db.prepare('SELECT id FROM examples WHERE dataset_id = ? ORDER BY id').pluck().all(datasetId) as number[];
    for (const id of ids) {
      const r = getRender(proj.db, id, proj.renderKey(model.tokenizer))!;
      const T = Math.min(r.tokenIds.length, 256);
      const tokens = Array.from(r.tokenIds.subarray(0, T));
      const w = Array.from(r.labelMask.subarray(1, T), (m): number => (m ? 1 : 0));
      const nw = w.reduce((a, b) => a + b, 0);
      if (!nw) continue;
      const loss = (...ws: tf.Tensor[]): tf.Scalar => {
        const rec: Record<string, tf.Tensor> = {};
        names.forEach((nm, k) => (rec[nm] = ws[k]!));
        const logits = forward(model.config, rec, tf.tensor2d(tokens, [1, T], 'int32')).reshape([T, -1]).slice([0, 0], [T - 1, -1]);
        const picked = tf.sum(tf.mul(tf.logSoftmax(logits), tf.oneHot(tf.tensor1d(tokens.slice(1), 'int32'), model.config.vocabSize)), 1);
        return tf.div(tf.neg(tf.sum(tf.mul(picked, tf.tensor1d(w)))), nw) as tf.Scalar;
      };
      const grads = tf.grads(loss)(names.map((n) => model.weights[n]!));
      grads.forEach((g, k) => {
        const d = g.dataSync();
        const s = sumG.get(names[k]!)!;
        for (let i = 0; i < d.length; i++) s[i] += d[i]!;
      });
      tf.dispose(grads);
    }
  });

  afterAll(() => proj?.close());

  /** score of every entry of the scope, as the metric defines it, from the float64 sums */
  const directScores = (names: string[], metric: 'abs_g' | 'abs_wg' | 'sq_wg') =>
    names.map((n) => {
      const w = model.weights[n]!.dataSync();
      const s = sumG.get(n)!;
      return Float64Array.from(s, (g, i) => (metric === 'abs_g' ? Math.abs(g) : metric === 'abs_wg' ? Math.abs(w[i]! * g) : (w[i]! * g) ** 2));
    });

  /** the stored mask equals the direct top-k, except possibly for entries within 1e-4 (relative) of the cut */
  function expectTopK(maskId: number, names: string[], scores: Float64Array[], keep: (k: number) => number, perTensor: boolean) {
    const bits = loadParamMaskBits(proj.db, maskId);
    const groups = perTensor ? names.map((_, k) => [k]) : [names.map((_, k) => k)];
    for (const g of groups) {
      const all: Array<[number, number, number]> = [];
      for (const k of g) scores[k]!.forEach((v, i) => all.push([v, k, i]));
      all.sort((a, b) => b[0] - a[0]);
      const n = keep(all.length);
      const cut = all[n - 1]![0];
      const chosen = new Set(all.slice(0, n).map(([, k, i]) => `${k}:${i}`));
      let selected = 0;
      for (const k of g) {
        const m = bits.get(names[k]!)?.mask;
        scores[k]!.forEach((v, i) => {
          const on = m ? m[i] === 1 : false;
          selected += on ? 1 : 0;
          if (Math.abs(v - cut) <= 1e-4 * cut) return;
          expect(on, `${names[k]}[${i}] score ${v} cut ${cut}`).toBe(chosen.has(`${k}:${i}`));
        });
      }
      expect(selected).toBe(n);
    }
  }

  it('salience |w·g|, global top-k: the direct top 5% of the linear weight matrices, none behind the zero o_proj', async () => {
    const { jobId } = await proj.call('paramMasks.compute', { name: 'sal-wg', modelId, method: 'salience', metric: 'abs_wg', density: 0.05, topk: 'global', scope: 'all', datasetId, examples: 100 });
    const job = await proj.finished(jobId);
    const mask = await proj.call('paramMasks.get', { maskId: Number(job.stats.maskId) });
    // as SPEFT: the blocks' projection matrices only — no embedding, norm or LM head
    const linear = model.tensors.filter((t) => t.block !== null && t.shape.length === 2);
    expect(linear.length).toBe(3 * 7);
    const names = linear.map((t) => t.name);
    const total = linear.reduce((a, t) => a + t.size, 0);
    expect(mask.trainableParams).toBe(Math.round(0.05 * total));
    expect(mask.scopeParams).toBe(total);
    expect(mask.provenance).toMatchObject({ method: 'salience', metric: 'abs_wg', metricForm: '|w·Σg|', tensorsScored: 'linear', density: 0.05, examples: ROWS, modelHash: model.hash, tokenPolicy: { kind: 'response' } });
    expect(mask.tensors.map((t) => t.name)).not.toContain('model.layers.0.self_attn.q_proj.weight');
    for (const t of mask.tensors) expect(names).toContain(t.name);
    expectTopK(mask.id, names, directScores(names, 'abs_wg'), (n) => Math.round(0.05 * n), false);
  });

  it('salience (w·Σg)² over every tensor of the scope when asked (allParams): embeddings and norms compete too', async () => {
    const { jobId } = await proj.call('paramMasks.compute', { name: 'sal-sq-all', modelId, method: 'salience', metric: 'sq_wg', density: 0.05, topk: 'global', scope: 'all', allParams: true, datasetId });
    const mask = await proj.call('paramMasks.get', { maskId: Number((await proj.finished(jobId)).stats.maskId) });
    const names = model.tensors.map((t) => t.name);
    const total = model.tensors.reduce((a, t) => a + t.size, 0);
    expect(mask.scopeParams).toBe(total);
    expect(mask.metric).toBe('sq_wg');
    expect(mask.provenance).toMatchObject({ metricForm: '(w·Σg)²', tensorsScored: 'all', spec: 'salience:sq_wg:0.05:global:all' });
    expectTopK(mask.id, names, directScores(names, 'sq_wg'), (n) => Math.round(0.05 * n), false);
  });

  it('a mask saved before sq_wg followed SPEFT reads as sq_wg_per_example (what it computed)', async () => {
    const { jobId } = await proj.call('paramMasks.compute', { name: 'sal-old', modelId, method: 'salience', metric: 'sq_wg', density: 0.05, scope: 'last:1', datasetId });
    const maskId = Number((await proj.finished(jobId)).stats.maskId);
    const p = JSON.parse(proj.db.prepare('SELECT provenance_json FROM param_masks WHERE id = ?').pluck().get(maskId) as string) as Record<string, unknown>;
    delete p.metricForm;
    delete p.tensorsScored;
    proj.db.prepare('UPDATE param_masks SET provenance_json = ? WHERE id = ?').run(JSON.stringify(p), maskId);
    expect((await proj.call('paramMasks.get', { maskId })).metric).toBe('sq_wg_per_example');
  });

  it('salience (w·g)² and |Σg| per tensor within a scope: each linear matrix keeps its own share', async () => {
    const names = model.tensors.filter((t) => t.block === 2 && t.shape.length === 2).map((t) => t.name);
    for (const metric of ['sq_wg', 'abs_g'] as const) {
      const { jobId } = await proj.call('paramMasks.compute', { name: `sal-${metric}`, modelId, method: 'salience', metric, density: 0.1, topk: 'per_tensor', scope: 'last:1', datasetId });
      const mask = await proj.call('paramMasks.get', { maskId: Number((await proj.finished(jobId)).stats.maskId) });
      expect(mask.tensors.map((t) => t.name).sort()).toEqual([...names].sort());
      for (const t of mask.tensors) expect(t.selected).toBe(Math.max(1, Math.round((0.1 * t.shape.reduce((a, b) => a * b, 1)))));
      expectTopK(mask.id, names, directScores(names, metric), (n) => Math.max(1, Math.round(0.1 * n)), true);
    }
  });

  it('gps: every row of every scope matrix keeps its top-2 inputs by |Σg|; norms are left out', async () => {
    const { jobId } = await proj.call('paramMasks.compute', { name: 'gps-2', modelId, method: 'gps', perRow: 2, scope: 'mlp', datasetId });
    const mask = await proj.call('paramMasks.get', { maskId: Number((await proj.finished(jobId)).stats.maskId) });
    const mlp = model.tensors.filter((t) => ['gate', 'up', 'down'].includes(t.kind));
    expect(mask.tensors.map((t) => t.name).sort()).toEqual(mlp.map((t) => t.name).sort());
    expect(mask.topk).toBe('per_row');
    const bits = loadParamMaskBits(proj.db, mask.id);
    for (const t of mlp) {
      const [outs, ins] = t.shape as [number, number];
      const g = sumG.get(t.name)!;
      const m = bits.get(t.name)!.mask;
      for (let o = 0; o < outs; o++) {
        const row = Array.from({ length: ins }, (_, i) => Math.abs(g[o * ins + i]!));
        const sorted = [...row].sort((a, b) => b - a);
        const kept = row.filter((_, i) => m[o * ins + i] === 1);
        expect(kept.length).toBe(2);
        // the kept values are the two largest (up to float32 rounding at a near-tie)
        expect(Math.min(...kept)).toBeGreaterThanOrEqual(sorted[1]! * (1 - 1e-4));
      }
    }
  });

  it('is refused up front for a taken name or a bad scope; listed per model', async () => {
    const dup = await proj.service.call('paramMasks.compute', { name: 'gps-2', modelId, method: 'gps' });
    expect(dup.ok).toBe(false);
    if (!dup.ok) expect(dup.error.message).toMatch(/already exists/);
    const bad = await proj.service.call('paramMasks.compute', { name: 'x', modelId, method: 'gps', scope: 'last:9' });
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.error.message).toMatch(/N must be 1\.\.3/);
    const list = await proj.call('paramMasks.list', { modelId });
    expect(list.map((m) => m.name)).toEqual(expect.arrayContaining(['warm-up', 'sal-wg', 'gps-2']));
  });
});
