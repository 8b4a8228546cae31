/**
 * Weights over the GPU's buffer limit are split by rows (compute/shard.ts). WINNOW_WEBGPU_MAX_BUFFER_BYTES = 1 MiB
 * lowers the engine's limit (a device never goes below WebGPU's 128 MiB default: lower requests get the default), and a
 * tiny Llama's embedding and output head (5,000 × 64 float32 = 1.22 MiB each) exceed it: the logits still match cpu (max |Δ| ≤ 1e-4) for ids
 * in both shards, scoring runs, and a trainable tensor over the limit is refused with its figures.
 */
process.env.WINNOW_WEBGPU_MAX_BUFFER_BYTES = String(1 << 20);

import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { getBackendInfo, initBackend } from '../../../main/engine/compute/backend';
import { bufferLimitBytes, gatherRows, shardsOf } from '../../../main/engine/compute/shard';
import { forward } from '../../../main/engine/models/forward';
import { disposeModel, loadModel } from '../../../main/engine/models/model';
import { forwardBatch } from '../../../main/engine/scoring/passes/forward';
import { writeTinyModel } from '../models/tiny';
import { webgpuSkipReason } from '../../setup/webgpu';

const SKIP = await webgpuSkipReason();
if (SKIP) console.warn(`webgpu sharding tests skipped: ${SKIP}`);

const WIDE_LLAMA = {
  model_type: 'llama', architectures: ['LlamaForCausalLM'], vocab_size: 5000, hidden_size: 64, intermediate_size: 96,
  num_hidden_layers: 1, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 64, rms_norm_eps: 1e-5,
  rope_theta: 10000, tie_word_embeddings: false, bos_token_id: 1, eos_token_id: 2,
};
const IDS = [[1, 4999, 17, 4096, 4095, 2500, 300, 4200]];

afterAll(async () => {
  delete process.env.WINNOW_WEBGPU_MAX_BUFFER_BYTES;
  await initBackend('cpu');
});

describe.skipIf(!!SKIP)('weights over the buffer limit on webgpu', () => {
  const dir = writeTinyModel(WIDE_LLAMA, 9);

  it('the limit is the lowered one, and the embedding and head are split into shards that fit', async () => {
    await initBackend('webgpu');
    expect(getBackendInfo()!.adapter!.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(128 << 20);
    expect(bufferLimitBytes()).toBe(1 << 20);
    const m = await loadModel(dir);
    try {
      for (const name of ['model.embed_tokens.weight', 'lm_head.weight']) {
        const parts = shardsOf(m.weights[name]!)!;
        expect(parts.map((p) => p.shape[0]), name).toEqual([4096, 904]);
        for (const p of parts) expect(p.size * 4).toBeLessThanOrEqual(1 << 20);
      }
      expect(shardsOf(m.weights['model.layers.0.mlp.up_proj.weight']!)).toBeNull();
    } finally {
      disposeModel(m);
    }
  });

  it('logits match cpu for ids in both shards; scoring runs', async () => {
    const logitsOn = async (backend: 'cpu' | 'webgpu') => {
      await initBackend(backend);
      const m = await loadModel(dir);
      try {
        const t = forward(m.config, m.weights, tf.tensor2d(IDS, [1, IDS[0]!.length], 'int32'));
        const out = (await t.data()) as Float32Array;
        t.dispose();
        const scored = await forwardBatch(m, [Int32Array.from(IDS[0]!)], { entropy: true, rank: false, embedding: false });
        return { out, loss: scored.tokens[0]!.token_loss };
      } finally {
        disposeModel(m);
      }
    };
    const cpu = await logitsOn('cpu');
    const gpu = await logitsOn('webgpu');
    let worst = 0;
    for (let i = 0; i < cpu.out.length; i++) worst = Math.max(worst, Math.abs(cpu.out[i]! - gpu.out[i]!));
    expect(worst).toBeLessThanOrEqual(1e-4);
    for (let t = 1; t < IDS[0]!.length; t++) expect(Math.abs(gpu.loss[t]! - cpu.loss[t]!)).toBeLessThanOrEqual(1e-4);
  });

  it('a sharded gather equals a plain one, exactly', async () => {
    await initBackend('webgpu');
    const table = tf.tensor2d(Float32Array.from({ length: 5000 * 64 }, (_, i) => Math.sin(i)), [5000, 64]);
    const ids = tf.tensor2d(IDS, [1, IDS[0]!.length], 'int32');
    const got = (await gatherRows(table, ids).data()) as Float32Array;
    const src = Float32Array.from({ length: 5000 * 64 }, (_, i) => Math.sin(i));
    IDS[0]!.forEach((id, k) => expect(Array.from(got.subarray(k * 64, (k + 1) * 64))).toEqual(Array.from(src.subarray(id * 64, (id + 1) * 64))));
    tf.dispose([table, ids]);
  });

  it('refuses to train a tensor over the limit, with its size and what to change', async () => {
    await initBackend('webgpu');
    const v = tf.variable(tf.zeros([5000, 64]), true, 'big.embed');
    expect(() => shardsOf(v)).toThrow(/big\.embed \[5000, 64\] is 1 MiB, over this GPU's 1 MiB buffer limit; train fewer layers/);
    v.dispose();
  });
});
