/**
 * Per-example gradient signals through the scoring job on a tiny Llama whose block-0 attention output is multiplied
 * by a zero o_proj (so block 0's q/k/v cannot influence the loss):
 *  - grad_norm = ‖∇θ L‖ over all parameters and over a layer spec, against per-example gradients of a loss written
 *    here (one-hot masked NLL), in float64; exactly 0 over the tensors behind the zero o_proj.
 *  - grad_sim_base (LESS's cosine on the base model) against R built entry by entry from the documented sign function: p = Rᵀg, cosine with the mean
 *    of the target set's normalised projections; 1 for an example that is the whole target set.
 *  - the chunked projector equals the entry-by-entry definition, and keeps cosines of real gradients (JL).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../../main/engine/compute/backend';
import { loadModel, forward, type LoadedModel } from '../../../main/engine/models';
import { readCheckpoint, writeSafetensors } from '../../../main/engine/models/safetensors';
import { getRender } from '../../../main/engine/db';
import { projectRows, rademacherSign } from '../../../main/engine/scoring/passes/projection';
import { writeTinyModel, rng } from '../models/tiny';
import { TestProject, directLoss, gsm8kRows } from './helpers';

const TINY_LLAMA = {
  model_type: 'llama', architectures: ['LlamaForCausalLM'], vocab_size: 512, hidden_size: 16, intermediate_size: 24,
  num_hidden_layers: 3, num_attention_heads: 2, num_key_value_heads: 1, max_position_embeddings: 512, rms_norm_eps: 1e-5,
  rope_theta: 10000, tie_word_embeddings: false, bos_token_id: 1, eos_token_id: 2,
};
const ROWS = 6;
const DIM = 512;
const SEED = 3;

let proj: TestProject;
let model: LoadedModel;
let modelId = 0;
let datasetId = 0;
let ids: number[] = [];
/** per example id: the true gradient of every tensor, float64, in `names` order */
const grads = new Map<number, Float64Array[]>();
let names: string[] = [];

beforeAll(async () => {
  await initBackend();
  proj = new TestProject();
  const dir = writeTinyModel(TINY_LLAMA, 17);
  const ckpt = readCheckpoint(dir).tensors;
  ckpt.get('model.layers.0.self_attn.o_proj.weight')!.data.fill(0);
  writeSafetensors(join(dir, 'model.safetensors'), [...ckpt].map(([name, t]) => ({ name, shape: t.shape, data: t.data as Float32Array })), 'F32');
  model = await loadModel(dir);
  modelId = await proj.addModel(dir);
  datasetId = await proj.importDataset(gsm8kRows(proj.home, ROWS));
  // renders exist once a run has scored; a grad_norm run over every tensor renders them
  await proj.score({ modelId, datasetId, signals: ['length_tokens'] });
  ids = proj.db.prepare('SELECT r.example_id FROM renders r JOIN examples e ON e.id = r.example_id WHERE e.dataset_id = ? ORDER BY r.example_id').pluck().all(datasetId) as number[];
  expect(ids).toHaveLength(ROWS);
  names = model.tensors.map((t) => t.name);
  const fwd = (rec: Record<string, tf.Tensor>, x: tf.Tensor2D) => forward(model.config, rec, x);
  for (const id of ids) {
    const r = getRender(proj.db, id, proj.renderKey(model.tokenizer))!;
    const g = tf.grads(directLoss(fwd, model.config.vocabSize, r.tokenIds, r.labelMask, names))(names.map((n) => model.weights[n]!));
    grads.set(id, g.map((x) => Float64Array.from(x.dataSync())));
    tf.dispose(g);
  }
}, 300_000);

afterAll(() => proj?.close());

const values = (runId: number, signal: string) =>
  new Map((proj.db.prepare('SELECT example_id AS id, value FROM example_scores WHERE run_id = ? AND signal = ?').all(runId, signal) as Array<{ id: number; value: number | null }>).map((r) => [r.id, r.value]));

function normOver(id: number, tensors: string[]): number {
  let s = 0;
  for (const n of tensors) for (const v of grads.get(id)![names.indexOf(n)]!) s += v * v;
  return Math.sqrt(s);
}

/** p = Rᵀg with R[i, j] = rademacherSign(seed, i, j)/√d, i over `tensors` in checkpoint order, row-major */
function directProjection(id: number, tensors: string[], d: number, seed: number): Float64Array {
  const p = new Float64Array(d);
  let i = 0;
  for (const n of names.filter((x) => tensors.includes(x))) {
    for (const g of grads.get(id)![names.indexOf(n)]!) {
      for (let j = 0; j < d; j++) p[j] += rademacherSign(seed, i, j) * g;
      i++;
    }
  }
  return p.map((v) => v / Math.sqrt(d));
}

const cos = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  return ab / Math.sqrt(aa * bb);
};

describe('grad_norm', () => {
  it('is ‖∇θ L‖ over every parameter by default, and over the tensors of a layer spec', async () => {
    const all = await proj.score({ modelId, datasetId, signals: ['grad_norm'] });
    const last = await proj.score({ modelId, datasetId, signals: ['grad_norm'], gradLayers: 'last:1' });
    const lastNames = model.tensors.filter((t) => t.block === 2).map((t) => t.name);
    const a = values(all, 'grad_norm');
    const l = values(last, 'grad_norm');
    expect(a.size).toBe(ROWS);
    for (const id of ids) {
      const expectAll = normOver(id, names);
      const expectLast = normOver(id, lastNames);
      expect(Math.abs(a.get(id)! - expectAll), `example ${id}`).toBeLessThanOrEqual(1e-4 * expectAll);
      expect(Math.abs(l.get(id)! - expectLast), `example ${id}`).toBeLessThanOrEqual(1e-4 * expectLast);
      expect(l.get(id)!).toBeLessThan(a.get(id)!);
    }
  });

  it('is exactly 0 over tensors that cannot influence the loss (behind a zero o_proj)', async () => {
    const run = await proj.score({
      modelId, datasetId, signals: ['grad_norm'],
      gradLayers: 'names:model.layers.0.self_attn.q_proj.weight,model.layers.0.self_attn.k_proj.weight,model.layers.0.self_attn.v_proj.weight',
    });
    for (const v of values(run, 'grad_norm').values()) expect(v).toBe(0);
  });
});

describe('grad_sim_base', () => {
  it('matches Rᵀg built entry by entry, cosine with the mean normalised target projection', async () => {
    const targetIds = [ids[1]!, ids[4]!];
    const target = await proj.call('subsets.create', { name: 'grad-target', rule: { kind: 'ids', ids: targetIds } });
    const run = await proj.score({ modelId, datasetId, signals: ['grad_sim_base', 'grad_norm'], gradLayers: 'last:1', gradDim: DIM, seed: SEED, targetSubsetId: target.id });
    const sim = values(run, 'grad_sim_base');
    expect(sim.size).toBe(ROWS);
    const lastNames = model.tensors.filter((t) => t.block === 2).map((t) => t.name);
    const proj64 = new Map(ids.map((id) => [id, directProjection(id, lastNames, DIM, SEED)]));
    const mean = new Float64Array(DIM);
    for (const id of targetIds) {
      const p = proj64.get(id)!;
      const n = Math.hypot(...p);
      p.forEach((v, j) => (mean[j] += v / n / targetIds.length));
    }
    for (const id of ids) expect(Math.abs(sim.get(id)! - cos(proj64.get(id)!, mean)), `example ${id}`).toBeLessThan(1e-4);
    // the targets resemble their own mean more than the others do on average
    const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(avg(targetIds.map((id) => sim.get(id)!))).toBeGreaterThan(avg(ids.filter((id) => !targetIds.includes(id)).map((id) => sim.get(id)!)));
  });

  it('is 1 for an example that is the whole target set, and needs a target set', async () => {
    const target = await proj.call('subsets.create', { name: 'grad-self', rule: { kind: 'ids', ids: [ids[2]!] } });
    const run = await proj.score({ modelId, datasetId, signals: ['grad_sim_base'], gradLayers: 'last:2', gradDim: 256, targetSubsetId: target.id });
    expect(values(run, 'grad_sim_base').get(ids[2]!)!).toBeCloseTo(1, 6);
    await expect(proj.score({ modelId, datasetId, signals: ['grad_sim_base'] })).rejects.toThrow(/target set/);
  });
});

describe('projection', () => {
  it('the chunked projector equals the definition entry by entry (several chunks, a partial last word)', () => {
    const r = rng(9);
    const P = 2 * 4096 + 77;
    const d = 40;
    const rows = [0, 1, 2].map(() => Float32Array.from({ length: P }, () => r() - 0.5));
    const got = projectRows(rows, d, 42);
    rows.forEach((g, b) => {
      for (let j = 0; j < d; j++) {
        let s = 0;
        for (let i = 0; i < P; i++) s += rademacherSign(42, i, j) * g[i]!;
        expect(Math.abs(got[b]![j]! - s / Math.sqrt(d))).toBeLessThan(1e-9 * Math.sqrt(P));
      }
    });
    // each example's projection is the same whatever it is batched with (a resumed pass regroups them)
    expect(projectRows([rows[1]!], d, 42)[0]).toEqual(got[1]);
  });

  it('signs are balanced and another seed gives another matrix', () => {
    let plus = 0;
    let same = 0;
    const n = 200 * 64;
    for (let i = 0; i < 200; i++) {
      for (let j = 0; j < 64; j++) {
        if (rademacherSign(1, i, j) === 1) plus++;
        if (rademacherSign(1, i, j) === rademacherSign(2, i, j)) same++;
      }
    }
    // binomial(n, 1/2): 5 standard deviations
    expect(Math.abs(plus - n / 2)).toBeLessThan(5 * Math.sqrt(n) / 2);
    expect(Math.abs(same - n / 2)).toBeLessThan(5 * Math.sqrt(n) / 2);
  });

  it('keeps the cosines of real per-example gradients (Johnson–Lindenstrauss, d = 4096)', () => {
    const d = 4096;
    const flat = ids.map((id) => Float32Array.from(grads.get(id)!.flatMap((g) => Array.from(g))));
    const p = projectRows(flat, d, 5);
    for (let a = 0; a < ids.length; a++) {
      for (let b = a + 1; b < ids.length; b++) {
        // standard deviation of the estimate ≤ 1/√d ≈ 0.016
        expect(Math.abs(cos(p[a]!, p[b]!) - cos(flat[a]!, flat[b]!))).toBeLessThan(0.08);
      }
      // and norms: E‖p‖² = ‖g‖²
      expect(Math.hypot(...p[a]!) / Math.hypot(...flat[a]!)).toBeGreaterThan(0.9);
      expect(Math.hypot(...p[a]!) / Math.hypot(...flat[a]!)).toBeLessThan(1.1);
    }
  });
});
