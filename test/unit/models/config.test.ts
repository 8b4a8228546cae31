import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseModelConfig, readModelConfig } from '../../../main/engine/models/config';
import { WinnowError } from '../../../main/engine/util/errors';
import { STORIES, tmpDir } from './tiny';

function err(fn: () => unknown): WinnowError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(WinnowError);
    return e as WinnowError;
  }
  throw new Error('expected an error');
}

const llama = {
  model_type: 'llama',
  hidden_size: 2048,
  intermediate_size: 5632,
  num_hidden_layers: 22,
  num_attention_heads: 32,
  num_key_value_heads: 4,
  rms_norm_eps: 1e-5,
  vocab_size: 32000,
  max_position_embeddings: 2048,
  bos_token_id: 1,
  eos_token_id: 2,
};

describe('config.json parsing', () => {
  it('gpt2: HF field names and defaults (tied head, biases)', () => {
    const c = parseModelConfig({ model_type: 'gpt2', n_embd: 768, n_layer: 12, n_head: 12, n_positions: 1024, vocab_size: 50257 });
    expect(c).toMatchObject({
      arch: 'gpt2',
      hiddenSize: 768,
      numLayers: 12,
      numHeads: 12,
      numKvHeads: 12,
      headDim: 64,
      intermediateSize: 3072,
      maxPositions: 1024,
      normEps: 1e-5,
      tieWordEmbeddings: true,
      attentionBias: true,
      mlpBias: true,
      bosTokenId: 50256,
      eosTokenId: 50256,
    });
  });

  it('llama (TinyLlama-shaped): GQA, defaults for rope_theta, head_dim, untied head', () => {
    const c = parseModelConfig(llama);
    expect(c).toMatchObject({
      arch: 'llama',
      numKvHeads: 4,
      headDim: 64,
      ropeTheta: 10000,
      ropeScaling: null,
      tieWordEmbeddings: false,
      attentionBias: false,
      mlpBias: false,
      normEps: 1e-5,
    });
    // num_key_value_heads defaults to the number of heads; head_dim given explicitly wins
    const d = parseModelConfig({ ...llama, num_key_value_heads: undefined, head_dim: 128 });
    expect(d.numKvHeads).toBe(32);
    expect(d.headDim).toBe(128);
  });

  it('SmolLM-style llama: tied embeddings, eos as a list, mlp_bias', () => {
    const c = parseModelConfig({ ...llama, tie_word_embeddings: true, eos_token_id: [2, 7], mlp_bias: true, rope_theta: 100000 });
    expect(c.tieWordEmbeddings).toBe(true);
    expect(c.eosTokenId).toBe(2);
    expect(c.mlpBias).toBe(true);
    expect(c.ropeTheta).toBe(100000);
  });

  it('qwen2 always has q/k/v bias; mistral parses', () => {
    expect(parseModelConfig({ ...llama, model_type: 'qwen2' }).attentionBias).toBe(true);
    expect(parseModelConfig({ ...llama, model_type: 'mistral', sliding_window: 4096 }).arch).toBe('llama');
  });

  it('rope_scaling: linear and llama3 (rope_type or legacy type); others unsupported naming rope_scaling.rope_type', () => {
    expect(parseModelConfig({ ...llama, rope_scaling: { type: 'linear', factor: 4 } }).ropeScaling).toEqual({ type: 'linear', factor: 4 });
    expect(
      parseModelConfig({
        ...llama,
        rope_scaling: { rope_type: 'llama3', factor: 32, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 },
      }).ropeScaling,
    ).toEqual({ type: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192 });
    const e = err(() => parseModelConfig({ ...llama, rope_scaling: { rope_type: 'yarn', factor: 4 } }));
    expect(e.code).toBe('unsupported');
    expect(e.message).toMatch(/rope_scaling\.rope_type "yarn"/);
  });

  it('errors name the field, the model_type, or the path', () => {
    const e1 = err(() => parseModelConfig({ model_type: 'bert', hidden_size: 8 }));
    expect(e1.code).toBe('unsupported');
    expect(e1.message).toMatch(/model_type "bert" is not supported \(supported: gpt2, llama, mistral, qwen2\)/);
    expect(err(() => parseModelConfig({ ...llama, num_attention_heads: 0 })).message).toMatch(
      /config\.json: field "num_attention_heads" must be a positive integer/,
    );
    expect(err(() => parseModelConfig({ ...llama, num_hidden_layers: undefined })).message).toMatch(/field "num_hidden_layers" is missing/);
    expect(err(() => parseModelConfig({ ...llama, num_key_value_heads: 5 })).message).toMatch(/multiple of "num_key_value_heads"/);
    expect(err(() => parseModelConfig({ model_type: 'gpt2', activation_function: 'relu' })).message).toMatch(/field "activation_function" is "relu"/);
    expect(err(() => parseModelConfig({ ...llama, model_type: 'qwen2', use_sliding_window: true })).code).toBe('unsupported');
    const dir = tmpDir('cfg');
    const e2 = err(() => readModelConfig(dir));
    expect(e2.code).toBe('not_found');
    expect(e2.message).toContain(path.join(dir, 'config.json'));
    fs.writeFileSync(path.join(dir, 'config.json'), '{ nope');
    expect(err(() => readModelConfig(dir)).message).toMatch(/config\.json: not valid JSON/);
  });

  it('reads the bundled stories260K config', () => {
    const c = readModelConfig(STORIES);
    expect(c).toMatchObject({ arch: 'llama', hiddenSize: 64, numLayers: 5, numHeads: 8, numKvHeads: 4, headDim: 8, vocabSize: 512 });
    expect(c.tieWordEmbeddings).toBe(true);
    expect(c.raw.architectures).toEqual(['LlamaForCausalLM']);
  });
});
