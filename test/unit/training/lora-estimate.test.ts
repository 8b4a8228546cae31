/**
 * train.estimate with a LoRA block (issue #16): the trainable count is r·(in + out) over the adapted modules, worked
 * out here from the tiny model's shapes; gradients and Adam's moments are that count's size; the tape keeps only the
 * blocks from the lowest adapted one up (so adapters on the last block need far less than on every block), plus each
 * module's low-rank product and, with dropout, its dropped input; the adapted weights are listed for the Layers grid.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../main/engine/compute/backend';
import { estimateMemory } from '../../../main/engine/models/memory';
import { readModelConfig } from '../../../main/engine/models/config';
import { writeTinyModel } from '../models/tiny';
import { TestProject } from '../scoring/helpers';

beforeAll(async () => {
  await initBackend();
});

// hidden 16, 2 heads of 8, 1 KV head: q and o are 16→16, k and v 16→8; MLP 16→24→16
const TINY_LLAMA = {
  model_type: 'llama', architectures: ['LlamaForCausalLM'], vocab_size: 512, hidden_size: 16, intermediate_size: 24,
  num_hidden_layers: 4, num_attention_heads: 2, num_key_value_heads: 1, max_position_embeddings: 512, rms_norm_eps: 1e-5,
  rope_theta: 10000, tie_word_embeddings: false, bos_token_id: 1, eos_token_id: 2,
};

describe('train.estimate with LoRA', () => {
  let proj: TestProject;
  let dir = '';
  let modelId = 0;
  beforeAll(async () => {
    proj = new TestProject('loraest');
    dir = writeTinyModel(TINY_LLAMA, 7);
    modelId = await proj.addModel(dir);
  });
  afterAll(() => proj?.close());

  const ask = (layers: string, lora: { r: number; alpha: number; dropout: number; rslora: boolean; targets?: string[] }) =>
    proj.call('train.estimate', { modelId, layers, batchSize: 2, maxTokens: 32, gradAccum: 1, lora });

  it('counts A and B of the targeted modules, their gradients and Adam state, and lists the adapted weights', async () => {
    const e = await ask('last:1', { r: 4, alpha: 8, dropout: 0, rslora: false, targets: ['attention'] });
    // q 4·(16+16), k 4·(16+8), v 4·(16+8), o 4·(16+16)
    const count = 4 * (32 + 24 + 24 + 32);
    expect(e.trainableParams).toBe(count);
    expect(e.trainableTensors).toBe(4);
    expect(e.memory.gradBytes).toBe(count * 4);
    expect(e.memory.optimizerBytes).toBe(count * 8);
    expect(e.lora).toEqual({
      targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj'],
      blocks: [3],
      tensors: ['q_proj', 'k_proj', 'v_proj', 'o_proj'].map((p) => `model.layers.3.self_attn.${p}.weight`),
      scale: 2,
    });
    // the weights are the whole model's, as for any run
    const full = await proj.call('train.estimate', { modelId, layers: 'last:1', batchSize: 2, maxTokens: 32 });
    expect(e.memory.weightsBytes).toBe(full.memory.weightsBytes);
    expect(e.totalParams).toBe(full.totalParams);
    expect(full.lora).toBeNull();
  });

  it('keeps on the tape only the blocks from the lowest adapted one up, plus the adapters’ own intermediates', async () => {
    const cfg = readModelConfig(dir);
    const r = 2;
    const last = await ask('last:1', { r, alpha: 2, dropout: 0, rslora: false, targets: ['q_proj', 'v_proj'] });
    const every = await ask('all', { r, alpha: 2, dropout: 0, rslora: false, targets: ['q_proj', 'v_proj'] });
    const tokens = 2 * 32;
    // one block on the tape and two modules' [tokens, r] products, against all four blocks and eight modules
    const want = (blocks: number, modules: number, params: number) =>
      estimateMemory(cfg, { batch: 2, seqLen: 32, trainableParams: params, tapeBlocks: blocks, extraTapeElements: modules * tokens * r }).activationBytes;
    expect(last.memory.activationBytes).toBe(want(1, 2, last.trainableParams));
    expect(every.memory.activationBytes).toBe(want(4, 8, every.trainableParams));
    expect(last.memory.activationBytes).toBeLessThan(every.memory.activationBytes);
    // dropout keeps each module's dropped input [tokens, 16] as well
    const drop = await ask('last:1', { r, alpha: 2, dropout: 0.1, rslora: false, targets: ['q_proj', 'v_proj'] });
    expect(drop.memory.activationBytes).toBe(
      estimateMemory(cfg, { batch: 2, seqLen: 32, trainableParams: drop.trainableParams, tapeBlocks: 1, extraTapeElements: 2 * tokens * (r + 16) }).activationBytes,
    );
    expect(drop.memory.activationBytes).toBeGreaterThan(last.memory.activationBytes);
  });

  it('rsLoRA scales by alpha/√r; the default targets are PEFT’s; bad targets and LoRA with a parameter mask are refused', async () => {
    expect((await ask('all', { r: 4, alpha: 8, dropout: 0, rslora: true })).lora).toMatchObject({ scale: 4, targets: ['q_proj', 'v_proj'], blocks: [0, 1, 2, 3] });
    await expect(ask('all', { r: 4, alpha: 8, dropout: 0, rslora: false, targets: ['c_attn'] })).rejects.toThrow(/c_attn match no linear module/);
    await expect(proj.call('train.estimate', { modelId, layers: 'all', batchSize: 1, maxTokens: 8, paramMaskId: 1, lora: { r: 2, alpha: 2, dropout: 0, rslora: false } })).rejects.toThrow(
      /LoRA or with a parameter mask/,
    );
  });
});
