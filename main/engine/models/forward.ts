/**
 * Forward pass as pure functions over a weights record (HF names → tensors), split into
 * embed → runBlocks → finalNorm → lmHead so training can run frozen blocks outside the gradient tape
 * and make only some weights tf.Variables.
 * Batches are right-padded: `attentionMask` [B,T] is 1 for real tokens, 0 for padding; positions are 0..T-1.
 */
import * as tf from '@tensorflow/tfjs';
import { WinnowError } from '../util/errors';
import { gatherRows } from '../compute/shard';
import { gpt2Block, gpt2Prefix } from './gpt2';
import { attentionBias, layerNorm, linear, rmsNorm, type Weights } from './layers';
import { llamaBlock, llamaContext, type BlockContext } from './llama';
import type { ModelConfig } from './types';
import type { LoraHook } from './lora';

export type { Weights } from './layers';

/** token (+ learned position for GPT-2) embeddings: int32 ids [B,T] → [B,T,H] */
export function embed(cfg: ModelConfig, w: Weights, inputIds: tf.Tensor2D): tf.Tensor3D {
  return tf.tidy(() => {
    const T = inputIds.shape[1];
    if (cfg.arch === 'gpt2') {
      if (T > cfg.maxPositions) {
        throw new WinnowError('too_large', `sequence of ${T} tokens exceeds the model's ${cfg.maxPositions} positions`);
      }
      const p = gpt2Prefix(w);
      const tok = gatherRows(w[`${p}wte.weight`], inputIds);
      const pos = tf.gather(w[`${p}wpe.weight`], tf.range(0, T, 1, 'int32'));
      return tf.add(tok, pos) as tf.Tensor3D;
    }
    // a table over the GPU's buffer limit is gathered shard by shard (compute/shard.ts)
    return gatherRows(w['model.embed_tokens.weight'], inputIds) as tf.Tensor3D;
  });
}

/** Mistral attends within `sliding_window` tokens (HF applies it on every layer); null elsewhere. */
export function slidingWindow(cfg: ModelConfig): number | null {
  const w = cfg.raw.sliding_window;
  return cfg.modelType === 'mistral' && typeof w === 'number' && w > 0 ? w : null;
}

/** Asks runBlocks for one block's attention probabilities [B, heads, T, T] (kept out of the block's tidy). */
export interface AttentionCapture {
  layer: number;
  probs?: tf.Tensor4D;
}

/**
 * Blocks [from, to) (0-based, `to` exclusive). Each block runs in its own tidy so inference memory stays flat.
 * With `capture`, that block also hands out its attention probabilities; every other block runs as without it.
 * With `lora`, the adapters' updates are added at the linear layers they target (models/lora.ts).
 */
export function runBlocks(
  cfg: ModelConfig,
  w: Weights,
  h: tf.Tensor3D,
  from: number,
  to: number,
  attentionMask?: tf.Tensor2D,
  capture?: AttentionCapture,
  lora?: LoraHook,
): tf.Tensor3D {
  if (from < 0 || to > cfg.numLayers || from > to) {
    throw new WinnowError('bad_input', `runBlocks: block range [${from}, ${to}) is outside 0..${cfg.numLayers}`);
  }
  if (from === to) return tf.clone(h);
  const T = h.shape[1];
  const bias = attentionBias(T, attentionMask, slidingWindow(cfg));
  const ctx: BlockContext = { ...(cfg.arch === 'llama' ? llamaContext(cfg, T, bias) : { bias }), lora };
  try {
    let cur = h;
    for (let l = from; l < to; l++) {
      const prev = cur;
      const c = capture?.layer === l ? capture : null;
      const blockCtx: BlockContext = c ? { ...ctx, onAttention: (p) => void (c.probs = tf.keep(p)) } : ctx;
      cur = tf.tidy(() => (cfg.arch === 'llama' ? llamaBlock : gpt2Block)(cfg, w, l, prev, blockCtx));
      if (prev !== h) prev.dispose();
    }
    return cur;
  } finally {
    ctx.bias.dispose();
    ctx.cos?.dispose();
    ctx.sin?.dispose();
    ctx.rotate?.dispose();
  }
}

export function finalNorm(cfg: ModelConfig, w: Weights, h: tf.Tensor3D): tf.Tensor3D {
  return tf.tidy(() => {
    if (cfg.arch === 'gpt2') {
      const p = gpt2Prefix(w);
      return layerNorm(h, w[`${p}ln_f.weight`], w[`${p}ln_f.bias`], cfg.normEps);
    }
    return rmsNorm(h, w['model.norm.weight'], cfg.normEps);
  });
}

/** The output embedding: lm_head, or the input embedding when tied (or when lm_head is absent). */
export function headWeight(cfg: ModelConfig, w: Weights): tf.Tensor {
  const head = w['lm_head.weight'];
  if (head && !cfg.tieWordEmbeddings) return head;
  return cfg.arch === 'gpt2' ? w[`${gpt2Prefix(w)}wte.weight`] : w['model.embed_tokens.weight'];
}

/** logits [B,T,V] */
export function lmHead(cfg: ModelConfig, w: Weights, h: tf.Tensor3D): tf.Tensor3D {
  return tf.tidy(() => linear(h, headWeight(cfg, w)));
}

export function forwardWithHidden(
  cfg: ModelConfig,
  w: Weights,
  ids: tf.Tensor2D,
  mask?: tf.Tensor2D,
): { logits: tf.Tensor3D; hidden: tf.Tensor3D } {
  return tf.tidy(() => {
    const hidden = finalNorm(cfg, w, runBlocks(cfg, w, embed(cfg, w, ids), 0, cfg.numLayers, mask));
    return { logits: lmHead(cfg, w, hidden), hidden };
  });
}

/**
 * Logits, the final normed hidden state and the last block's attention probabilities [B, heads, T, T] (rows are
 * queries, softmax over keys, padding keys at 0), as transformers' output_attentions=True gives for attentions[-1].
 */
export function forwardWithAttention(
  cfg: ModelConfig,
  w: Weights,
  ids: tf.Tensor2D,
  mask?: tf.Tensor2D,
): { logits: tf.Tensor3D; hidden: tf.Tensor3D; attention: tf.Tensor4D } {
  const capture: AttentionCapture = { layer: cfg.numLayers - 1 };
  const out = tf.tidy(() => {
    const hidden = finalNorm(cfg, w, runBlocks(cfg, w, embed(cfg, w, ids), 0, cfg.numLayers, mask, capture));
    return { logits: lmHead(cfg, w, hidden), hidden };
  });
  if (!capture.probs) throw new WinnowError('internal', `forwardWithAttention: block ${capture.layer} gave no attention probabilities`);
  return { ...out, attention: capture.probs };
}

export function forward(cfg: ModelConfig, w: Weights, ids: tf.Tensor2D, mask?: tf.Tensor2D): tf.Tensor3D {
  return tf.tidy(() => lmHead(cfg, w, finalNorm(cfg, w, runBlocks(cfg, w, embed(cfg, w, ids), 0, cfg.numLayers, mask))));
}

/**
 * Greedy decoding without a KV cache (re-runs the whole sequence each step; for tests and demos).
 * Returns only the new ids; stops after EOS (included) or at the model's context length.
 */
export async function greedyGenerate(model: { config: ModelConfig; weights: Weights }, promptIds: number[], n: number): Promise<number[]> {
  const { config: cfg, weights: w } = model;
  const seq = [...promptIds];
  const out: number[] = [];
  for (let i = 0; i < n && seq.length < cfg.maxPositions; i++) {
    const best = tf.tidy(() => {
      const logits = forward(cfg, w, tf.tensor2d([seq], [1, seq.length], 'int32'));
      return tf.argMax(logits.slice([0, seq.length - 1, 0], [1, 1, cfg.vocabSize]).reshape([cfg.vocabSize]));
    });
    const next = (await best.data())[0]!;
    best.dispose();
    seq.push(next);
    out.push(next);
    if (next === cfg.eosTokenId) break;
  }
  return out;
}
