/** Tiny random HF model folders written for real (config.json + model.safetensors + tokenizer files) in a tmp dir. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseModelConfig } from '../../../main/engine/models/config';
import { writeSafetensors } from '../../../main/engine/models/safetensors';
import { expectedTensors } from '../../../main/engine/models/tensors';
import { mulberry32 } from '../../../main/engine/util/random';

export const STORIES = path.resolve(__dirname, '../../../resources/models/stories260K');

/** deterministic pseudo-random numbers (the engine's mulberry32) so failures reproduce */
export const rng = mulberry32;

export function tmpDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `winnow-${prefix}-`));
}

export const TINY_GPT2 = {
  model_type: 'gpt2',
  architectures: ['GPT2LMHeadModel'],
  vocab_size: 512,
  n_embd: 32,
  n_layer: 2,
  n_head: 4,
  n_positions: 64,
  layer_norm_epsilon: 1e-5,
  activation_function: 'gelu_new',
};

/** GQA (8 heads over 2 kv heads), q/k/v bias (qwen2), untied head */
export const TINY_QWEN2 = {
  model_type: 'qwen2',
  architectures: ['Qwen2ForCausalLM'],
  vocab_size: 512,
  hidden_size: 32,
  intermediate_size: 48,
  num_hidden_layers: 2,
  num_attention_heads: 8,
  num_key_value_heads: 2,
  max_position_embeddings: 128,
  rms_norm_eps: 1e-6,
  rope_theta: 1000000,
  tie_word_embeddings: false,
  bos_token_id: 1,
  eos_token_id: 2,
};

/** Write a random model with the stories260K tokenizer (vocab 512) next to it. */
export function writeTinyModel(raw: Record<string, unknown>, seed = 1, opts: { noPrefix?: boolean } = {}): string {
  const dir = tmpDir(String(raw.model_type));
  const cfg = parseModelConfig(raw);
  const r = rng(seed);
  const tensors = expectedTensors(cfg, opts.noPrefix ? '' : 'transformer.').map((t) => {
    const n = t.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    const isNorm = /norm|ln_/.test(t.name) && t.name.endsWith('weight');
    for (let i = 0; i < n; i++) data[i] = isNorm ? 1 + 0.1 * (r() - 0.5) : 0.2 * (r() - 0.5);
    return { name: t.name, shape: t.shape, data };
  });
  writeSafetensors(path.join(dir, 'model.safetensors'), tensors, 'F32');
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(raw));
  copyStoriesTokenizer(dir);
  return dir;
}

/**
 * The bundled model's tokenizer files, so a tiny model shares its tokenizer id (a hash of these files) and a project's
 * renders: the same rows are rendered once, whichever of the two models asks.
 */
export const STORIES_TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'];

export function copyStoriesTokenizer(dir: string): void {
  for (const f of STORIES_TOKENIZER_FILES) fs.copyFileSync(path.join(STORIES, f), path.join(dir, f));
}
