/**
 * Llama-family decoder block (Llama, Mistral, Qwen2, SmolLM, TinyLlama) as in transformers' modeling_llama:
 * pre-RMSNorm, rotate-half RoPE, grouped-query attention, SwiGLU MLP, optional q/k/v (and o) and MLP biases.
 */
import * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from './types';
import { attend, linear, mergeHeads, rmsNorm, splitHeads, type Weights } from './layers';
import { applyLora, type LoraHook } from './lora';

const f = Math.fround;

/**
 * inv_freq as transformers computes it (float32 at each step): default, linear (inv_freq / factor) and llama3
 * (_compute_llama3_parameters: low frequencies divided by factor, high kept, the band between smoothed).
 */
export function ropeInvFreq(cfg: ModelConfig): Float32Array {
  const dim = cfg.headDim;
  const inv = new Float32Array(dim / 2);
  for (let i = 0; i < dim / 2; i++) inv[i] = f(1 / f(Math.pow(cfg.ropeTheta, f((2 * i) / dim))));
  const rs = cfg.ropeScaling;
  if (!rs) return inv;
  if (rs.type === 'linear') return inv.map((x) => f(x / rs.factor));
  const lowWavelen = rs.originalMaxPositions / rs.lowFreqFactor;
  const highWavelen = rs.originalMaxPositions / rs.highFreqFactor;
  return inv.map((x) => {
    const wavelen = (2 * Math.PI) / x;
    if (wavelen < highWavelen) return x;
    if (wavelen > lowWavelen) return f(x / rs.factor);
    const smooth = (rs.originalMaxPositions / wavelen - rs.lowFreqFactor) / (rs.highFreqFactor - rs.lowFreqFactor);
    return f((1 - smooth) * (x / rs.factor) + smooth * x);
  });
}

const tableCache = new Map<string, { cos: Float32Array; sin: Float32Array }>();

/** cos/sin tables [T, headDim] (freqs duplicated as cat(freqs, freqs)), cached per config and length. */
export function ropeTables(cfg: ModelConfig, T: number): { cos: Float32Array; sin: Float32Array } {
  const key = `${cfg.headDim}|${cfg.ropeTheta}|${JSON.stringify(cfg.ropeScaling)}|${T}`;
  const hit = tableCache.get(key);
  if (hit) return hit;
  const inv = ropeInvFreq(cfg);
  const half = cfg.headDim / 2;
  const cos = new Float32Array(T * cfg.headDim);
  const sin = new Float32Array(T * cfg.headDim);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < half; i++) {
      const a = f(t * inv[i]);
      const c = Math.cos(a);
      const s = Math.sin(a);
      cos[t * cfg.headDim + i] = cos[t * cfg.headDim + half + i] = c;
      sin[t * cfg.headDim + i] = sin[t * cfg.headDim + half + i] = s;
    }
  }
  if (tableCache.size > 64) tableCache.clear();
  const v = { cos, sin };
  tableCache.set(key, v);
  return v;
}

/**
 * rotate_half(x) == x @ R with R the signed permutation R[k + hd/2, k] = -1, R[k, k + hd/2] = 1: each output is one
 * input times ±1 plus exact zeros, so the same values as transformers' cat(-x2, x1), bit for bit. A matmul because on
 * wasm it runs in XNNPACK, while gather / slice + concat are slow kernels there.
 */
function applyRope(x: tf.Tensor4D, ctx: BlockContext): tf.Tensor4D {
  const [B, H, T, hd] = x.shape;
  const rotated = tf.reshape(tf.matMul(tf.reshape(x, [B * H * T, hd]), ctx.rotate!), [B, H, T, hd]);
  return tf.add(tf.mul(x, ctx.cos!), tf.mul(rotated, ctx.sin!));
}

/**
 * Grouped-query attention without materialising repeat_kv: query heads kv*nRep .. kv*nRep+nRep-1 all use kv
 * head kv, so view q as [B, KV, nRep*T, hd] and multiply against the KV heads directly. Every score is the same
 * dot product as with repeated keys; no Tile (slow on wasm, and its gradient only exists up to rank 4).
 */
function groupedAttend(
  q: tf.Tensor4D,
  k: tf.Tensor4D,
  v: tf.Tensor4D,
  scale: number,
  bias: tf.Tensor4D,
  onProbs?: (probs: tf.Tensor4D) => void,
): tf.Tensor4D {
  const [B, H, T, hd] = q.shape;
  const KV = k.shape[1];
  if (KV === H) return attend(q, k, v, { mul: scale }, bias, onProbs);
  const qg = tf.reshape(q, [B, KV, (H / KV) * T, hd]);
  const scores = tf.add(tf.reshape(tf.mul(tf.matMul(qg, k, false, true), scale), [B, H, T, T]), bias);
  const soft = tf.softmax(scores) as tf.Tensor4D;
  onProbs?.(soft);
  const probs = tf.reshape(soft, [B, KV, (H / KV) * T, T]);
  return tf.reshape(tf.matMul(probs, v), [B, H, T, hd]);
}

export interface BlockContext {
  /** additive attention bias [B|1, 1, T, T] */
  bias: tf.Tensor4D;
  /** [T, headDim] rope tables and the [headDim, headDim] rotate_half matrix (llama only; see applyRope) */
  cos?: tf.Tensor;
  sin?: tf.Tensor;
  rotate?: tf.Tensor2D;
  /** when set, receives the block's attention probabilities [B, heads, T, T] (models/forward.ts forwardWithAttention) */
  onAttention?: (probs: tf.Tensor4D) => void;
  /** LoRA adapters added at the linear layers they target (models/lora.ts) */
  lora?: LoraHook;
}

/** nn.Linear module `key` (weight, optional bias), plus its LoRA update when the context carries one */
function proj(w: Weights, key: string, x: tf.Tensor3D, ctx: BlockContext): tf.Tensor3D {
  return applyLora(ctx.lora, key, x, linear(x, w[`${key}.weight`]!, w[`${key}.bias`]));
}

export function llamaContext(cfg: ModelConfig, T: number, bias: tf.Tensor4D): BlockContext {
  const { cos, sin } = ropeTables(cfg, T);
  const hd = cfg.headDim;
  const half = hd / 2;
  const r = new Float32Array(hd * hd);
  for (let k = 0; k < half; k++) {
    r[(k + half) * hd + k] = -1;
    r[k * hd + k + half] = 1;
  }
  return { bias, cos: tf.tensor2d(cos, [T, hd]), sin: tf.tensor2d(sin, [T, hd]), rotate: tf.tensor2d(r, [hd, hd]) };
}

export function llamaBlock(cfg: ModelConfig, w: Weights, l: number, h: tf.Tensor3D, ctx: BlockContext): tf.Tensor3D {
  const p = `model.layers.${l}`;
  const hd = cfg.headDim;
  const x = rmsNorm(h, w[`${p}.input_layernorm.weight`], cfg.normEps);
  const q = splitHeads(proj(w, `${p}.self_attn.q_proj`, x, ctx), cfg.numHeads, hd);
  const k = splitHeads(proj(w, `${p}.self_attn.k_proj`, x, ctx), cfg.numKvHeads, hd);
  const v = splitHeads(proj(w, `${p}.self_attn.v_proj`, x, ctx), cfg.numKvHeads, hd);
  const a = groupedAttend(applyRope(q, ctx), applyRope(k, ctx), v, Math.pow(hd, -0.5), ctx.bias, ctx.onAttention);
  const o = proj(w, `${p}.self_attn.o_proj`, mergeHeads(a), ctx);
  const h2 = tf.add(h, o) as tf.Tensor3D;
  const y = rmsNorm(h2, w[`${p}.post_attention_layernorm.weight`], cfg.normEps);
  const gate = proj(w, `${p}.mlp.gate_proj`, y, ctx);
  const up = proj(w, `${p}.mlp.up_proj`, y, ctx);
  const act = tf.mul(tf.mul(gate, tf.sigmoid(gate)), up) as tf.Tensor3D; // silu(gate) * up
  const down = proj(w, `${p}.mlp.down_proj`, act, ctx);
  return tf.add(h2, down) as tf.Tensor3D;
}
