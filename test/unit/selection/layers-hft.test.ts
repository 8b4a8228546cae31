/**
 * The HFT preset (hft:SEED) halves each block's matrices by category, as the Half Fine-Tuning paper freezes half of
 * the parameters "at the category level": in every block, half of its attention matrices and half of its MLP
 * matrices (an odd count rounded up in a seeded half of the blocks), never a norm, bias, embedding or head. Checked
 * here by counting, per block and category, on a Llama-style checkpoint (q k v o / gate up down) and a GPT-2 one
 * (fused qkv and o / fc and proj, with biases).
 */
import { describe, expect, it } from 'vitest';
import { checkpointTensors } from '../../../main/engine/api/layers';
import { resolveLayerSpec } from '../../../main/engine/selection/layers';
import type { TensorInfo } from '../../../main/engine/models/types';
import { writeTinyModel, TINY_GPT2 } from '../models/tiny';
import { STORIES } from '../scoring/helpers';

const ATTENTION = ['q', 'k', 'v', 'o', 'qkv'];
const MLP = ['up', 'gate', 'down', 'fc', 'proj'];

/** chosen / present block matrices per block and category, counted here */
function counts(tensors: TensorInfo[], chosen: string[]) {
  const on = new Set(chosen);
  const out = new Map<string, { present: number; chosen: number }>();
  for (const t of tensors) {
    if (t.block === null || t.shape.length !== 2) continue;
    const cat = ATTENTION.includes(t.kind) ? 'attention' : MLP.includes(t.kind) ? 'mlp' : 'other';
    const key = `${t.block}:${cat}`;
    const c = out.get(key) ?? { present: 0, chosen: 0 };
    c.present++;
    if (on.has(t.name)) c.chosen++;
    out.set(key, c);
  }
  return out;
}

function expectCategoryHalves(tensors: TensorInfo[], seed: number) {
  const chosen = resolveLayerSpec(`hft:${seed}`, tensors);
  const byName = new Map(tensors.map((t) => [t.name, t]));
  // only block matrices
  for (const n of chosen) {
    const t = byName.get(n)!;
    expect(t.block, n).not.toBeNull();
    expect(t.shape.length, n).toBe(2);
  }
  const c = counts(tensors, chosen);
  const totals = new Map<string, { present: number; chosen: number }>();
  for (const [key, v] of c) {
    // within a block: exactly half, or an odd count's half rounded either way
    expect(v.chosen, key).toBeGreaterThanOrEqual(Math.floor(v.present / 2));
    expect(v.chosen, key).toBeLessThanOrEqual(Math.ceil(v.present / 2));
    const cat = key.split(':')[1]!;
    const t = totals.get(cat) ?? { present: 0, chosen: 0 };
    t.present += v.present;
    t.chosen += v.chosen;
    totals.set(cat, t);
  }
  // over the model: each category halved, rounded up
  for (const [cat, t] of totals) expect(t.chosen, cat).toBe(Math.ceil(t.present / 2));
  return chosen;
}

describe('hft preset', () => {
  it('Llama: 2 of the 4 attention matrices of every block, 1 or 2 of its 3 MLP matrices, half of them over the model', () => {
    const tensors = checkpointTensors(STORIES);
    const blocks = new Set(tensors.filter((t) => t.block !== null).map((t) => t.block)).size;
    expect(blocks).toBeGreaterThan(1);
    for (const seed of [0, 1, 7, 12345]) {
      const chosen = expectCategoryHalves(tensors, seed);
      const c = counts(tensors, chosen);
      for (let b = 0; b < blocks; b++) {
        expect(c.get(`${b}:attention`)).toEqual({ present: 4, chosen: 2 });
        expect([1, 2]).toContain(c.get(`${b}:mlp`)!.chosen);
      }
      // deterministic per seed
      expect(resolveLayerSpec(`hft:${seed}`, tensors)).toEqual(chosen);
    }
    // different seeds choose differently
    expect(resolveLayerSpec('hft:1', tensors)).not.toEqual(resolveLayerSpec('hft:2', tensors));
  });

  it('GPT-2: the fused qkv or o, and fc or proj, in every block; biases and norms stay frozen', () => {
    const tensors = checkpointTensors(writeTinyModel(TINY_GPT2, 41));
    for (const seed of [0, 3, 99]) {
      const chosen = expectCategoryHalves(tensors, seed);
      for (const [key, v] of counts(tensors, chosen)) expect(v, key).toEqual({ present: 2, chosen: 1 });
    }
  });
});
