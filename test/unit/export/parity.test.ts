/**
 * The exported masks mean the same in PyTorch as in Winnow. Fixtures were written by test/parity/export/apply_masks.py
 * (plain-torch Llama, float64) from real export bundles of stories260K on GSM8K rows: the batch (input_ids, labels with
 * −100), the layer mask, the masked HF-style loss and the tensors with non-zero gradients. Here Winnow computes the
 * same loss with training/loss.ts weightedLmLoss on the same batch and takes gradients of exactly the mask's tensors.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../../main/engine/compute/backend';
import { loadModel, forward } from '../../../main/engine/models';
import { weightedLmLoss } from '../../../main/engine/training/loss';

const ROOT = resolve(__dirname, '../../..');

interface Fixture {
  model: string;
  input_ids: number[][];
  labels: number[][];
  layer_mask: string[];
  masked_tokens: number;
  loss: number;
  nonzero_grad: string[];
}

beforeAll(async () => {
  await initBackend();
});

describe.each(['export-hft1.json', 'export-all.json'])('PyTorch parity of exported masks (%s)', (file) => {
  const fx = JSON.parse(readFileSync(resolve(ROOT, 'test/fixtures/parity', file), 'utf8')) as Fixture;

  it('masked loss within 1e-5 relative; the same tensors get gradients', async () => {
    const model = await loadModel(resolve(ROOT, fx.model));
    const B = fx.input_ids.length;
    const T = fx.input_ids[0]!.length;
    const ids = Int32Array.from(fx.input_ids.flat());
    // the token mask as Winnow applies it: weight 1 where the exported label is not −100
    const weights = Float32Array.from(fx.labels.flat(), (l) => (l === -100 ? 0 : 1));
    const trainable = new Set(fx.layer_mask);
    const vars = new Map([...trainable].map((n) => [n, tf.variable(model.weights[n]!, true, `p_${n}`)]));
    const w = { ...model.weights, ...Object.fromEntries(vars) };
    let weightSum = 0;
    const { value, grads } = tf.variableGrads(() => {
      const logits = forward(model.config, w, tf.tensor2d(ids, [B, T], 'int32'));
      const r = weightedLmLoss(logits, ids, weights, B, T, { dft: false });
      weightSum = r.weightSum;
      return r.loss;
    }, [...vars.values()]);
    const loss = value.dataSync()[0]!;
    expect(weightSum).toBe(fx.masked_tokens);
    expect(Math.abs(loss - fx.loss) / Math.abs(fx.loss)).toBeLessThanOrEqual(1e-5);
    const nonzero = [...vars.entries()].filter(([, v]) => tf.tidy(() => tf.sum(tf.abs(grads[v.name]!)).dataSync()[0]!) > 0).map(([n]) => n).sort();
    expect(nonzero).toEqual([...fx.nonzero_grad].sort());
    expect(nonzero.length).toBe(trainable.size);
    tf.dispose([value, ...Object.values(grads), ...vars.values()]);
  }, 120_000);
});
