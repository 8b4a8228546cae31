/**
 * GPT-2 block as in transformers' modeling_gpt2: pre-LayerNorm, fused c_attn (Conv1D, weights [in, out]),
 * attention scaled by 1/sqrt(hd), gelu_new MLP. Checkpoints name tensors with or without `transformer.`.
 */
import * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from './types';
import { attend, conv1d, geluNew, layerNorm, mergeHeads, splitHeads, type Weights } from './layers';
import type { BlockContext } from './llama';
import { applyLora } from './lora';

/** 'transformer.' or '' — whichever the weights record uses */
export function gpt2Prefix(w: Record<string, unknown>): string {
  return 'transformer.wte.weight' in w ? 'transformer.' : '';
}

/** Conv1D module `key`, plus its LoRA update when the context carries one */
function proj(w: Weights, key: string, x: tf.Tensor3D, ctx: BlockContext): tf.Tensor3D {
  return applyLora(ctx.lora, key, x, conv1d(x, w[`${key}.weight`]!, w[`${key}.bias`]!));
}

export function gpt2Block(cfg: ModelConfig, w: Weights, l: number, h: tf.Tensor3D, ctx: BlockContext): tf.Tensor3D {
  const p = `${gpt2Prefix(w)}h.${l}`;
  const H = cfg.hiddenSize;
  const x = layerNorm(h, w[`${p}.ln_1.weight`], w[`${p}.ln_1.bias`], cfg.normEps);
  const qkv = proj(w, `${p}.attn.c_attn`, x, ctx);
  const [q, k, v] = tf.split(qkv, [H, H, H], 2) as tf.Tensor3D[];
  const hd = cfg.headDim;
  const a = attend(
    splitHeads(q, cfg.numHeads, hd),
    splitHeads(k, cfg.numHeads, hd),
    splitHeads(v, cfg.numHeads, hd),
    { div: Math.sqrt(hd) },
    ctx.bias,
    ctx.onAttention,
  );
  const o = proj(w, `${p}.attn.c_proj`, mergeHeads(a), ctx);
  const h2 = tf.add(h, o) as tf.Tensor3D;
  const y = layerNorm(h2, w[`${p}.ln_2.weight`], w[`${p}.ln_2.bias`], cfg.normEps);
  const m = proj(w, `${p}.mlp.c_proj`, geluNew(proj(w, `${p}.mlp.c_fc`, y, ctx)) as tf.Tensor3D, ctx);
  return tf.add(h2, m) as tf.Tensor3D;
}
