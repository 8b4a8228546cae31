/**
 * The in-process executor (CLI, tests) reports the backend this process started, so the service's up-front memory
 * checks use that backend's limits. It used to report none, and every check fell back to wasm's 4 GiB heap: the CLI
 * on cpu refused Qwen2.5-0.5B with wasm's figures, and on webgpu it would have ignored the adapter's buffer limits.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../main/engine/compute/backend';
import { InProcessExecutor } from '../../../main/engine/jobs/runners';
import { checkFits } from '../../../main/engine/models/memory';
import { parseModelConfig } from '../../../main/engine/models/config';

const QWEN_05B = parseModelConfig({
  model_type: 'qwen2', hidden_size: 896, intermediate_size: 4864, num_hidden_layers: 24, num_attention_heads: 14,
  num_key_value_heads: 2, vocab_size: 151936, tie_word_embeddings: true,
});

afterAll(async () => {
  await initBackend('wasm');
});

describe('InProcessExecutor.backend', () => {
  it('is the backend the process runs on, and the memory check follows it', async () => {
    const executor = new InProcessExecutor();
    for (const name of ['cpu', 'wasm'] as const) {
      await initBackend(name);
      expect(executor.backend?.name).toBe(name);
    }
    await initBackend('cpu');
    const opts = { batch: 1, seqLen: 256, trainableParams: 0, totalMem: 24 * 2 ** 30 };
    // what the service asks: refused on wasm (the heap), accepted on the backend this process actually runs
    expect(() => checkFits(QWEN_05B, { ...opts, backend: 'wasm' })).toThrow(/does not fit the wasm backend/);
    expect(() => checkFits(QWEN_05B, { ...opts, backend: executor.backend!.name })).not.toThrow();
  });
});
