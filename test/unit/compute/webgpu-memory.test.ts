/**
 * GPU memory on webgpu: checkFits refuses, with the figures and what to change, a job whose largest buffer exceeds the
 * adapter's per-buffer limit or whose estimate exceeds the device memory (WINNOW_GPU_MEMORY_BYTES; a software
 * adapter's is the machine's RAM); and scoring batches through the engine leave tf.memory() flat (tensors and GPU
 * bytes): 1,000 batches on a hardware adapter; on a software one (CI's SwiftShader, ~1.7 s a batch on 2 loaded cores)
 * 10, unless WINNOW_LEAK_BATCHES asks for more (WINNOW_LEAK_BATCHES=1000 runs the full count there too).
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { initBackend } from '../../../main/engine/compute/backend';
import { parseModelConfig } from '../../../main/engine/models/config';
import { checkFits, countParams } from '../../../main/engine/models/memory';
import { disposeModel, loadModel } from '../../../main/engine/models/model';
import { forwardBatch } from '../../../main/engine/scoring/passes/forward';
import { TINY_QWEN2, writeTinyModel } from '../models/tiny';
import { webgpuSkipReason } from '../../setup/webgpu';

const QWEN_05B = parseModelConfig({
  model_type: 'qwen2', hidden_size: 896, intermediate_size: 4864, num_hidden_layers: 24, num_attention_heads: 14,
  num_key_value_heads: 2, vocab_size: 151936, tie_word_embeddings: true,
});
const H100 = { software: false, maxStorageBufferBindingSize: 2 ** 32 - 4, maxBufferSize: 2 ** 32 - 4 };
const SWIFTSHADER = { software: true, maxStorageBufferBindingSize: 2 ** 30, maxBufferSize: 2 ** 30 };

describe('checkFits on webgpu', () => {
  afterEach(() => {
    delete process.env.WINNOW_GPU_MEMORY_BYTES;
  });

  it('refuses a batch whose logits exceed one buffer, naming the buffer, the limit and what to change', () => {
    const opts = { batch: 8, seqLen: 512, trainableParams: 1e6, backend: 'webgpu', adapter: SWIFTSHADER, totalMem: 2 ** 40 };
    // training logits 8 × 512 × 151,936 float32 = 2.32 GiB > 1 GiB
    expect(() => checkFits(QWEN_05B, opts)).toThrow(/one GPU buffer of 2\.32 GiB \(logits \[8×512×151936\]\) but this GPU takes at most 1\.00 GiB per buffer .*Use a smaller batch or sequence length/);
    // scoring splits batches by logits size: fits
    expect(() => checkFits(QWEN_05B, { ...opts, trainableParams: 0 })).not.toThrow();
    // a single row trains
    expect(() => checkFits(QWEN_05B, { ...opts, batch: 1 })).not.toThrow();
  });

  it('refuses to differentiate every tensor when the embedding’s gradient exceeds one buffer', () => {
    const small = { ...SWIFTSHADER, maxStorageBufferBindingSize: 128 * 2 ** 20, maxBufferSize: 256 * 2 ** 20 };
    const all = { batch: 1, seqLen: 64, trainableParams: countParams(QWEN_05B), backend: 'webgpu', adapter: small, totalMem: 2 ** 40 };
    // 151,936 × 896 float32 = 0.51 GiB > 128 MiB
    expect(() => checkFits(QWEN_05B, all)).toThrow(/embedding's gradient \[151936×896\] as one GPU buffer of 0\.51 GiB, but this GPU takes at most 0\.13 GiB per buffer\. Leave the embedding out/);
    expect(() => checkFits(QWEN_05B, { ...all, trainableParams: 1e7 })).not.toThrow();
  });

  it('checks the total against WINNOW_GPU_MEMORY_BYTES, or a software adapter’s RAM; unknown memory is not guessed', () => {
    const opts = { batch: 2, seqLen: 512, trainableParams: countParams(QWEN_05B), backend: 'webgpu', adapter: H100, totalMem: 2 ** 40 };
    expect(() => checkFits(QWEN_05B, opts)).not.toThrow(); // hardware, memory not stated: per-buffer check only
    process.env.WINNOW_GPU_MEMORY_BYTES = String(4 * 2 ** 30);
    expect(() => checkFits(QWEN_05B, opts)).toThrow(/does not fit the webgpu backend for training .* but 3\.60 GiB is usable \(90% of 4\.00 GiB, WINNOW_GPU_MEMORY_BYTES\)\. Use a smaller batch/);
    delete process.env.WINNOW_GPU_MEMORY_BYTES;
    expect(() => checkFits(QWEN_05B, { ...opts, adapter: SWIFTSHADER, totalMem: 4 * 2 ** 30 })).toThrow(/the RAM a software adapter uses/);
  });
});

const SKIP = await webgpuSkipReason();
if (SKIP) console.warn(`webgpu leak test skipped: ${SKIP}`);

describe.skipIf(!!SKIP)('no tensor leaks on webgpu', () => {
  afterAll(async () => {
    await initBackend('cpu');
  });

  it('tf.memory() is flat over scoring batches — 1,000 on hardware (forwardBatch: forward, signals, embeddings, one read each)', async () => {
    const info = await initBackend('webgpu');
    const N = Number(process.env.WINNOW_LEAK_BATCHES ?? (info.adapter!.software ? 10 : 1000));
    const m = await loadModel(writeTinyModel({ ...(TINY_QWEN2 as Record<string, unknown>), vocab_size: 512 }, 11));
    try {
      const seqs = (i: number) => [Int32Array.from({ length: 6 }, (_, k) => (i * 7 + k * 13) % 512), Int32Array.from({ length: 6 - (i % 3) }, (_, k) => (i * 5 + k) % 512)];
      const want = { entropy: true, rank: true, embedding: true };
      await forwardBatch(m, seqs(0), want);
      const before = tf.memory() as tf.MemoryInfo & { numBytesInGPU?: number };
      for (let i = 1; i <= N; i++) await forwardBatch(m, seqs(i), want);
      const after = tf.memory() as tf.MemoryInfo & { numBytesInGPU?: number };
      expect(after.numTensors).toBe(before.numTensors);
      expect(after.numBytes).toBe(before.numBytes);
      if (before.numBytesInGPU !== undefined) expect(after.numBytesInGPU).toBeLessThanOrEqual(before.numBytesInGPU);
    } finally {
      disposeModel(m);
    }
  }, 600_000);
});
