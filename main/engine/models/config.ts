/**
 * HF `config.json` → ModelConfig, with HF's defaults (transformers' GPT2Config / LlamaConfig / MistralConfig /
 * Qwen2Config) so a config that omits a field means what it means in transformers.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { WinnowError } from '../util/errors';
import type { ModelConfig } from './types';

export const SUPPORTED_MODEL_TYPES = ['gpt2', 'llama', 'mistral', 'qwen2'] as const;

type Raw = Record<string, unknown>;

class Fields {
  constructor(
    private raw: Raw,
    private file: string,
  ) {}
  private fail(field: string, what: string): never {
    throw new WinnowError('parse_error', `${this.file}: field "${field}" ${what}`, { file: this.file, field });
  }
  posInt(field: string, dflt?: number): number {
    const v = this.raw[field];
    if (v === undefined || v === null) {
      if (dflt !== undefined) return dflt;
      this.fail(field, 'is missing');
    }
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) this.fail(field, 'must be a positive integer');
    return v;
  }
  posNum(field: string, dflt: number): number {
    const v = this.raw[field];
    if (v === undefined || v === null) return dflt;
    if (typeof v !== 'number' || !(v > 0)) this.fail(field, 'must be a positive number');
    return v;
  }
  bool(field: string, dflt: boolean): boolean {
    const v = this.raw[field];
    if (v === undefined || v === null) return dflt;
    if (typeof v !== 'boolean') this.fail(field, 'must be true or false');
    return v;
  }
  /** token ids: a number, null, or (eos in many chat models) a list whose first entry is used */
  tokenId(field: string, dflt: number | null): number | null {
    let v = this.raw[field];
    if (v === undefined) return dflt;
    if (Array.isArray(v)) v = v.length ? v[0] : null;
    if (v === null) return null;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) this.fail(field, 'must be a token id (non-negative integer) or a list of them');
    return v;
  }
}

function ropeScaling(raw: Raw, file: string): ModelConfig['ropeScaling'] {
  // transformers >= 4.45 writes `rope_type`; older configs write `type`; v5 nests it in `rope_parameters`.
  const rs = (raw.rope_scaling ?? raw.rope_parameters) as Raw | null | undefined;
  if (rs === undefined || rs === null) return null;
  if (typeof rs !== 'object') {
    throw new WinnowError('parse_error', `${file}: field "rope_scaling" must be an object or null`, { file, field: 'rope_scaling' });
  }
  const type = (rs.rope_type ?? rs.type ?? 'default') as string;
  const num = (k: string, d?: number): number => {
    const v = rs[k] ?? d;
    if (typeof v !== 'number' || !(v > 0)) {
      throw new WinnowError('parse_error', `${file}: field "rope_scaling.${k}" must be a positive number`, { file, field: `rope_scaling.${k}` });
    }
    return v;
  };
  if (type === 'default') return null;
  if (type === 'linear') return { type: 'linear', factor: num('factor') };
  if (type === 'llama3') {
    return {
      type: 'llama3',
      factor: num('factor'),
      lowFreqFactor: num('low_freq_factor'),
      highFreqFactor: num('high_freq_factor'),
      originalMaxPositions: num('original_max_position_embeddings'),
    };
  }
  throw new WinnowError(
    'unsupported',
    `${file}: rope_scaling.rope_type "${type}" is not supported (supported: default, linear, llama3)`,
    { file, field: 'rope_scaling.rope_type', value: type },
  );
}

/** GPT-2's config.json (n_embd, n_head, …), refusing the options Winnow does not implement. */
function gpt2Config(raw: Raw, f: Fields, file: string, modelType: string): ModelConfig {
  const act = raw.activation_function ?? 'gelu_new';
  if (act !== 'gelu_new' && act !== 'gelu_pytorch_tanh') {
    throw new WinnowError('unsupported', `${file}: field "activation_function" is "${String(act)}"; only "gelu_new" is supported`, {
      file,
      field: 'activation_function',
    });
  }
  for (const flag of ['scale_attn_by_inverse_layer_idx', 'reorder_and_upcast_attn']) {
    if (raw[flag] === true) {
      throw new WinnowError('unsupported', `${file}: field "${flag}" is true; not supported`, { file, field: flag });
    }
  }
  // transformers then leaves the attention scores unscaled; Winnow always divides by sqrt(head_dim)
  if (raw.scale_attn_weights === false) {
    throw new WinnowError('unsupported', `${file}: field "scale_attn_weights" is false; only scaled attention is supported`, {
      file,
      field: 'scale_attn_weights',
    });
  }
  const hidden = f.posInt('n_embd', 768);
  const heads = f.posInt('n_head', 12);
  if (hidden % heads) {
    throw new WinnowError('parse_error', `${file}: field "n_embd" (${hidden}) must be divisible by "n_head" (${heads})`, { file });
  }
  return {
    modelType,
    arch: 'gpt2',
    vocabSize: f.posInt('vocab_size', 50257),
    hiddenSize: hidden,
    numLayers: f.posInt('n_layer', 12),
    numHeads: heads,
    numKvHeads: heads,
    headDim: hidden / heads,
    intermediateSize: f.posInt('n_inner', 4 * hidden),
    maxPositions: f.posInt('n_positions', 1024),
    normEps: f.posNum('layer_norm_epsilon', 1e-5),
    ropeTheta: 0,
    ropeScaling: null,
    tieWordEmbeddings: f.bool('tie_word_embeddings', true),
    attentionBias: true,
    mlpBias: true,
    bosTokenId: f.tokenId('bos_token_id', 50256),
    eosTokenId: f.tokenId('eos_token_id', 50256),
    raw,
  };
}

/** The Llama family's config.json (llama, mistral, qwen2): grouped-query heads, RoPE, SiLU MLP. */
function llamaFamilyConfig(raw: Raw, f: Fields, file: string, modelType: 'llama' | 'mistral' | 'qwen2'): ModelConfig {
  const hidden = f.posInt('hidden_size');
  const heads = f.posInt('num_attention_heads');
  const kvHeads = f.posInt('num_key_value_heads', heads);
  if (heads % kvHeads) {
    throw new WinnowError(
      'parse_error',
      `${file}: field "num_attention_heads" (${heads}) must be a multiple of "num_key_value_heads" (${kvHeads})`,
      { file, field: 'num_key_value_heads' },
    );
  }
  if (raw.head_dim == null && hidden % heads) {
    throw new WinnowError('parse_error', `${file}: field "hidden_size" (${hidden}) must be divisible by "num_attention_heads" (${heads})`, {
      file,
    });
  }
  if (raw.hidden_act !== undefined && raw.hidden_act !== 'silu') {
    throw new WinnowError('unsupported', `${file}: field "hidden_act" is "${String(raw.hidden_act)}"; only "silu" is supported`, {
      file,
      field: 'hidden_act',
    });
  }
  if (modelType === 'qwen2' && raw.use_sliding_window === true) {
    // Qwen2 applies its window only above max_window_layers; not implemented, so refuse rather than differ.
    throw new WinnowError('unsupported', `${file}: field "use_sliding_window" is true; Qwen2 sliding-window attention is not supported`, {
      file,
      field: 'use_sliding_window',
    });
  }
  const ropeParams = raw.rope_parameters as Raw | undefined;
  const ropeThetaRaw = raw.rope_theta ?? ropeParams?.rope_theta;
  const ropeTheta = typeof ropeThetaRaw === 'number' && ropeThetaRaw > 0 ? ropeThetaRaw : 10000;
  if (ropeThetaRaw !== undefined && ropeThetaRaw !== null && ropeTheta !== ropeThetaRaw) {
    throw new WinnowError('parse_error', `${file}: field "rope_theta" must be a positive number`, { file, field: 'rope_theta' });
  }
  const defaults = {
    llama: { maxPos: 2048, eps: 1e-6 },
    mistral: { maxPos: 4096 * 32, eps: 1e-6 },
    qwen2: { maxPos: 32768, eps: 1e-6 },
  }[modelType];
  return {
    modelType,
    arch: 'llama',
    vocabSize: f.posInt('vocab_size', 32000),
    hiddenSize: hidden,
    numLayers: f.posInt('num_hidden_layers'),
    numHeads: heads,
    numKvHeads: kvHeads,
    headDim: f.posInt('head_dim', Math.floor(hidden / heads)),
    intermediateSize: f.posInt('intermediate_size'),
    maxPositions: f.posInt('max_position_embeddings', defaults.maxPos),
    normEps: f.posNum('rms_norm_eps', defaults.eps),
    ropeTheta,
    ropeScaling: ropeScaling(raw, file),
    tieWordEmbeddings: f.bool('tie_word_embeddings', false),
    // Qwen2's q/k/v always carry a bias (its config has no attention_bias field).
    attentionBias: modelType === 'qwen2' ? true : f.bool('attention_bias', false),
    mlpBias: modelType === 'llama' ? f.bool('mlp_bias', false) : false,
    bosTokenId: f.tokenId('bos_token_id', modelType === 'qwen2' ? null : 1),
    eosTokenId: f.tokenId('eos_token_id', modelType === 'qwen2' ? null : 2),
    raw,
  };
}

/** Parse an already-read config object. `file` is only used in messages. */
export function parseModelConfig(raw: Raw, file = 'config.json'): ModelConfig {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new WinnowError('parse_error', `${file}: must be a JSON object`, { file });
  }
  const modelType = raw.model_type;
  if (typeof modelType !== 'string') {
    throw new WinnowError('parse_error', `${file}: field "model_type" is missing`, { file, field: 'model_type' });
  }
  const f = new Fields(raw, file);
  if (modelType === 'gpt2') return gpt2Config(raw, f, file, modelType);
  if (modelType === 'llama' || modelType === 'mistral' || modelType === 'qwen2') return llamaFamilyConfig(raw, f, file, modelType);
  throw new WinnowError(
    'unsupported',
    `${file}: model_type "${modelType}" is not supported (supported: ${SUPPORTED_MODEL_TYPES.join(', ')})`,
    { file, field: 'model_type', value: modelType },
  );
}

export function readModelConfig(dir: string): ModelConfig {
  const file = path.join(dir, 'config.json');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new WinnowError('not_found', `${file}: config.json not found (is this a Hugging Face model folder?)`, { file });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new WinnowError('parse_error', `${file}: not valid JSON (${(err as Error).message})`, { file });
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new WinnowError('parse_error', `${file}: must be a JSON object`, { file });
  }
  return parseModelConfig(raw as Raw, file);
}
