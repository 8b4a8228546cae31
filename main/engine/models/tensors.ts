/**
 * The tensors each architecture needs (HF names and shapes) and their classification for layer selection.
 * GPT-2 checkpoints exist with and without the `transformer.` prefix; names are kept exactly as stored.
 */
import type { ModelConfig, TensorInfo } from './types';

export interface ExpectedTensor {
  name: string;
  shape: number[];
}

/** Tensors that some checkpoints carry but that are buffers, not weights: never loaded, never saved. */
export function isIgnoredBuffer(name: string): boolean {
  return /\.attn\.(bias|masked_bias)$/.test(name) || name.endsWith('rotary_emb.inv_freq');
}

export function expectedTensors(cfg: ModelConfig, gpt2Prefix = 'transformer.'): ExpectedTensor[] {
  const H = cfg.hiddenSize;
  const V = cfg.vocabSize;
  const I = cfg.intermediateSize;
  const out: ExpectedTensor[] = [];
  const add = (name: string, shape: number[]): void => void out.push({ name, shape });
  if (cfg.arch === 'gpt2') {
    const p = gpt2Prefix;
    add(`${p}wte.weight`, [V, H]);
    add(`${p}wpe.weight`, [cfg.maxPositions, H]);
    for (let l = 0; l < cfg.numLayers; l++) {
      const b = `${p}h.${l}`;
      add(`${b}.ln_1.weight`, [H]);
      add(`${b}.ln_1.bias`, [H]);
      add(`${b}.attn.c_attn.weight`, [H, 3 * H]); // Conv1D: [in, out]
      add(`${b}.attn.c_attn.bias`, [3 * H]);
      add(`${b}.attn.c_proj.weight`, [H, H]);
      add(`${b}.attn.c_proj.bias`, [H]);
      add(`${b}.ln_2.weight`, [H]);
      add(`${b}.ln_2.bias`, [H]);
      add(`${b}.mlp.c_fc.weight`, [H, I]);
      add(`${b}.mlp.c_fc.bias`, [I]);
      add(`${b}.mlp.c_proj.weight`, [I, H]);
      add(`${b}.mlp.c_proj.bias`, [H]);
    }
    add(`${p}ln_f.weight`, [H]);
    add(`${p}ln_f.bias`, [H]);
    if (!cfg.tieWordEmbeddings) add('lm_head.weight', [V, H]);
    return out;
  }
  const q = cfg.numHeads * cfg.headDim;
  const kv = cfg.numKvHeads * cfg.headDim;
  add('model.embed_tokens.weight', [V, H]);
  for (let l = 0; l < cfg.numLayers; l++) {
    const b = `model.layers.${l}`;
    add(`${b}.input_layernorm.weight`, [H]);
    add(`${b}.self_attn.q_proj.weight`, [q, H]);
    add(`${b}.self_attn.k_proj.weight`, [kv, H]);
    add(`${b}.self_attn.v_proj.weight`, [kv, H]);
    add(`${b}.self_attn.o_proj.weight`, [H, q]);
    if (cfg.attentionBias) {
      add(`${b}.self_attn.q_proj.bias`, [q]);
      add(`${b}.self_attn.k_proj.bias`, [kv]);
      add(`${b}.self_attn.v_proj.bias`, [kv]);
      // Llama/Mistral put a bias on o_proj too when attention_bias is set; Qwen2 never does.
      if (cfg.modelType !== 'qwen2') add(`${b}.self_attn.o_proj.bias`, [H]);
    }
    add(`${b}.post_attention_layernorm.weight`, [H]);
    add(`${b}.mlp.gate_proj.weight`, [I, H]);
    add(`${b}.mlp.up_proj.weight`, [I, H]);
    add(`${b}.mlp.down_proj.weight`, [H, I]);
    if (cfg.mlpBias) {
      add(`${b}.mlp.gate_proj.bias`, [I]);
      add(`${b}.mlp.up_proj.bias`, [I]);
      add(`${b}.mlp.down_proj.bias`, [H]);
    }
  }
  add('model.norm.weight', [H]);
  if (!cfg.tieWordEmbeddings) add('lm_head.weight', [V, H]);
  return out;
}

const LLAMA_KINDS: Array<[RegExp, string]> = [
  [/self_attn\.q_proj\./, 'q'],
  [/self_attn\.k_proj\./, 'k'],
  [/self_attn\.v_proj\./, 'v'],
  [/self_attn\.o_proj\./, 'o'],
  [/mlp\.gate_proj\./, 'gate'],
  [/mlp\.up_proj\./, 'up'],
  [/mlp\.down_proj\./, 'down'],
  [/layernorm\.|(^|\.)norm\./, 'norm'],
  [/embed_tokens\./, 'embed'],
  [/^lm_head\./, 'head'],
];
const GPT2_KINDS: Array<[RegExp, string]> = [
  [/attn\.c_attn\./, 'qkv'],
  [/attn\.c_proj\./, 'o'],
  [/mlp\.c_fc\./, 'fc'],
  [/mlp\.c_proj\./, 'proj'],
  [/(^|\.)ln_(1|2|f)\./, 'norm'],
  [/(^|\.)wte\./, 'embed'],
  [/(^|\.)wpe\./, 'pos_embed'],
  [/^lm_head\./, 'head'],
];

export function classifyTensor(cfg: ModelConfig, name: string, shape: number[]): TensorInfo {
  const m = /(?:^|\.)(?:layers|h)\.(\d+)\./.exec(name);
  const kinds = cfg.arch === 'gpt2' ? GPT2_KINDS : LLAMA_KINDS;
  const kind = kinds.find(([re]) => re.test(name))?.[1] ?? 'other';
  return { name, shape, block: m ? Number(m[1]) : null, kind, size: shape.reduce((a, b) => a * b, 1) };
}

/** Every tensor of the weights record, classified, in checkpoint order (embeddings, blocks, final norm, head). */
export function listTensors(cfg: ModelConfig, weights: Record<string, { shape: number[] }>): TensorInfo[] {
  return Object.entries(weights).map(([name, t]) => classifyTensor(cfg, name, t.shape));
}
