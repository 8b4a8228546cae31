/**
 * Real model shapes for the GPU benchmark (bench/gpu-run.ts), and a writer of random-weight HF folders in those
 * shapes: config.json as the hub publishes it (the fields Winnow and PyTorch read), BF16 safetensors with the real
 * tensor names (a sharded checkpoint with model.safetensors.index.json where asked), tokenizer files so the engine's
 * loadModel accepts the folder. The folders are generated where the benchmark runs, never committed.
 * Each shape has a tiny twin of the same architecture (same features: qkv bias, tying, GQA, llama3 RoPE, shards)
 * for the smoke run on SwiftShader.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseModelConfig } from '../main/engine/models/config';
import { writeCheckpoint } from '../main/engine/models/safetensors';
import { expectedTensors } from '../main/engine/models/tensors';

export interface BenchShape {
  name: string;
  /** config.json as written */
  config: Record<string, unknown>;
  /** batch × sequence sizes, smaller first (a failure at the large size still leaves figures) */
  sizes: Array<[number, number]>;
  /** write shards of at most this many bytes (HF's model-0000i-of-0000n.safetensors + index) */
  maxShardBytes?: number;
  /** blocks trained (the last ones), as a user fine-tuning the top of the model would */
  trainBlocks: number;
}

const GPT2_SMALL = {
  architectures: ['GPT2LMHeadModel'],
  model_type: 'gpt2',
  vocab_size: 50257,
  n_embd: 768,
  n_layer: 12,
  n_head: 12,
  n_positions: 1024,
  n_ctx: 1024,
  layer_norm_epsilon: 1e-5,
  activation_function: 'gelu_new',
  bos_token_id: 50256,
  eos_token_id: 50256,
  torch_dtype: 'bfloat16',
};

// Qwen/Qwen2.5-0.5B config.json
const QWEN25_05B = {
  architectures: ['Qwen2ForCausalLM'],
  model_type: 'qwen2',
  vocab_size: 151936,
  hidden_size: 896,
  intermediate_size: 4864,
  num_hidden_layers: 24,
  num_attention_heads: 14,
  num_key_value_heads: 2,
  max_position_embeddings: 32768,
  max_window_layers: 24,
  rms_norm_eps: 1e-6,
  rope_theta: 1000000.0,
  sliding_window: 32768,
  use_sliding_window: false,
  tie_word_embeddings: true,
  hidden_act: 'silu',
  bos_token_id: 151643,
  eos_token_id: 151643,
  torch_dtype: 'bfloat16',
};

// HuggingFaceTB/SmolLM2-360M config.json
const SMOLLM2_360M = {
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  vocab_size: 49152,
  hidden_size: 960,
  intermediate_size: 2560,
  num_hidden_layers: 32,
  num_attention_heads: 15,
  num_key_value_heads: 5,
  max_position_embeddings: 8192,
  rms_norm_eps: 1e-5,
  rope_theta: 100000,
  rope_scaling: null,
  tie_word_embeddings: true,
  attention_bias: false,
  mlp_bias: false,
  hidden_act: 'silu',
  bos_token_id: 0,
  eos_token_id: 0,
  torch_dtype: 'bfloat16',
};

// meta-llama/Llama-3.2-1B config.json
const LLAMA32_1B = {
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  vocab_size: 128256,
  hidden_size: 2048,
  intermediate_size: 8192,
  num_hidden_layers: 16,
  num_attention_heads: 32,
  num_key_value_heads: 8,
  head_dim: 64,
  max_position_embeddings: 131072,
  rms_norm_eps: 1e-5,
  rope_theta: 500000.0,
  rope_scaling: { factor: 32.0, high_freq_factor: 4.0, low_freq_factor: 1.0, original_max_position_embeddings: 8192, rope_type: 'llama3' },
  tie_word_embeddings: true,
  attention_bias: false,
  mlp_bias: false,
  hidden_act: 'silu',
  bos_token_id: 128000,
  eos_token_id: 128001,
  torch_dtype: 'bfloat16',
};

const USER_SIZES: Array<[number, number]> = [
  [2, 256],
  [8, 512],
];

export const SHAPES: BenchShape[] = [
  { name: 'gpt2-small', config: GPT2_SMALL, sizes: USER_SIZES, trainBlocks: 2 },
  { name: 'qwen2.5-0.5b', config: QWEN25_05B, sizes: USER_SIZES, trainBlocks: 2 },
  { name: 'smollm2-360m', config: SMOLLM2_360M, sizes: USER_SIZES, trainBlocks: 2 },
  // Llama-3.2-1B is one 2.47 GB file on the hub; written here as shards so the sharded path is measured too
  { name: 'llama-3.2-1b', config: LLAMA32_1B, sizes: USER_SIZES, trainBlocks: 2, maxShardBytes: 1e9 },
];

/** The same architectures, tiny: the smoke run on a software adapter. */
const SMOKE_SIZES: Array<[number, number]> = [
  [1, 16],
  [2, 32],
];
export const SMOKE_SHAPES: BenchShape[] = [
  { name: 'gpt2-small', config: { ...GPT2_SMALL, vocab_size: 512, n_embd: 64, n_layer: 3, n_head: 4, n_positions: 64, n_ctx: 64 }, sizes: SMOKE_SIZES, trainBlocks: 2 },
  {
    name: 'qwen2.5-0.5b',
    config: { ...QWEN25_05B, vocab_size: 600, hidden_size: 56, intermediate_size: 112, num_hidden_layers: 3, num_attention_heads: 7, num_key_value_heads: 1, max_position_embeddings: 64, sliding_window: 64, max_window_layers: 3 },
    sizes: SMOKE_SIZES,
    trainBlocks: 2,
  },
  {
    name: 'smollm2-360m',
    config: { ...SMOLLM2_360M, vocab_size: 400, hidden_size: 60, intermediate_size: 96, num_hidden_layers: 3, num_attention_heads: 5, num_key_value_heads: 5, max_position_embeddings: 64 },
    sizes: SMOKE_SIZES,
    trainBlocks: 2,
  },
  {
    name: 'llama-3.2-1b',
    config: { ...LLAMA32_1B, vocab_size: 700, hidden_size: 64, intermediate_size: 128, num_hidden_layers: 3, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 16, max_position_embeddings: 128 },
    sizes: SMOKE_SIZES,
    trainBlocks: 2,
    maxShardBytes: 60_000,
  },
];

export function shapeByName(name: string, smoke: boolean): BenchShape {
  const list = smoke ? SMOKE_SHAPES : SHAPES;
  const s = list.find((x) => x.name === name);
  if (!s) throw new Error(`unknown shape "${name}" (known: ${list.map((x) => x.name).join(', ')})`);
  return s;
}

/** xorshift128+-style generator of floats in [-1, 1): fast enough for a billion weights (mulberry32 is not). */
function fillUniform(out: Float32Array, seed: number, scale: number): void {
  let s0 = (seed * 0x9e3779b1) >>> 0 || 1;
  let s1 = (seed * 0x85ebca6b + 0x6d2b79f5) >>> 0 || 2;
  for (let i = 0; i < out.length; i++) {
    let x = s0;
    const y = s1;
    s0 = y;
    x ^= x << 23;
    x ^= x >>> 17;
    x ^= y ^ (y >>> 26);
    s1 = x >>> 0;
    out[i] = (((s0 + s1) >>> 0) / 2147483648 - 1) * scale;
  }
}

function hashName(name: string, seed: number): number {
  let h = seed >>> 0;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619) >>> 0;
  return h;
}

/**
 * Write `shape` as an HF folder in `dir` (BF16 weights: uniform, std 0.02 as GPT-2's init; norm weights 1), unless
 * it is already there with the same config. `tokenizerFrom`: a folder whose tokenizer.json/tokenizer_config.json are
 * copied (the benchmark feeds token ids; loadModel only needs a tokenizer to exist).
 */
export function writeRandomModel(shape: BenchShape, dir: string, tokenizerFrom: string, seed = 7): { files: string[]; params: number; written: boolean } {
  const cfg = parseModelConfig(shape.config);
  const expected = expectedTensors(cfg);
  const params = expected.reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1), 0);
  const cfgText = JSON.stringify(shape.config, null, 2) + '\n';
  const done = path.join(dir, '.complete');
  if (fs.existsSync(done) && fs.readFileSync(path.join(dir, 'config.json'), 'utf8') === cfgText) {
    return { files: JSON.parse(fs.readFileSync(done, 'utf8')), params, written: false };
  }
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const tensors = expected.map((t) => {
    const data = new Float32Array(t.shape.reduce((a, b) => a * b, 1));
    const isNormWeight = /(norm|ln_\d|ln_f)\.weight$/.test(t.name);
    if (isNormWeight) data.fill(1);
    else fillUniform(data, hashName(t.name, seed), 0.0346);
    return { name: t.name, shape: t.shape, data };
  });
  const files = writeCheckpoint(dir, tensors, 'BF16', { maxShardBytes: shape.maxShardBytes });
  fs.writeFileSync(path.join(dir, 'config.json'), cfgText);
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) fs.copyFileSync(path.join(tokenizerFrom, f), path.join(dir, f));
  fs.writeFileSync(done, JSON.stringify(files));
  return { files, params, written: true };
}

/** Token ids for a [B, T] batch: uniform over the vocabulary, seeded by the size so both sides read the same ids. */
export function benchIds(vocab: number, B: number, T: number): Int32Array {
  const f = new Float32Array(B * T);
  fillUniform(f, 1000 * B + T, 1);
  return Int32Array.from(f, (x) => Math.min(vocab - 1, Math.floor(((x + 1) / 2) * vocab)));
}
