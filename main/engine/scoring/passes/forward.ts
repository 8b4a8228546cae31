/**
 * One forward pass of a model over a batch of token sequences (right-padded, attention-masked): the per-token
 * signals of every sequence and, when asked, the `embedding` (mean of the final normed hidden state over the
 * sequence's real tokens) and sstoken's attention term (the last layer's attention, averaged over heads, summed
 * over the prompt's key positions). The scored model, the reference model and the extra passes all go through here.
 */
import * as tf from '@tensorflow/tfjs';
import { forward, forwardWithAttention, forwardWithHidden, type LoadedModel } from '../../models';
import { tokenSignalsFromLogits, type TokenSignalArrays } from '../token-signals';

export interface ForwardWant {
  entropy: boolean;
  rank: boolean;
  embedding: boolean;
  /** per sequence, 1 on the key positions whose attention is summed (sstoken: the prompt, label mask 0) */
  attentionKeys?: Uint8Array[];
}

export interface ForwardResult {
  tokens: TokenSignalArrays[];
  /** one [hiddenSize] vector per sequence, or null when not asked */
  embeddings: Float32Array[] | null;
  /** per sequence and query position t: Σ_{j: key} mean_heads A_last[t, j]; null when not asked */
  keyAttention: Float32Array[] | null;
}

/** logits elements per micro-batch (B·T·V): bounds memory on every backend */
export const MAX_LOGIT_ELEMENTS = 1 << 24;

/** How many sequences of length ≤ maxLen fit one pass under the logits budget (at least 1). */
export function rowsByMemory(maxLen: number, vocabSize: number): number {
  return Math.max(1, Math.floor(MAX_LOGIT_ELEMENTS / Math.max(1, maxLen * vocabSize)));
}

export function padId(model: LoadedModel): number {
  return model.tokenizer.padId ?? model.tokenizer.eosId ?? 0;
}

export async function forwardBatch(model: LoadedModel, seqs: Int32Array[], want: ForwardWant): Promise<ForwardResult> {
  const B = seqs.length;
  const T = Math.max(...seqs.map((s) => s.length));
  const idsFlat = new Int32Array(B * T).fill(padId(model));
  const maskFlat = new Int32Array(B * T);
  seqs.forEach((s, b) => {
    idsFlat.set(s, b * T);
    maskFlat.fill(1, b * T, b * T + s.length);
  });
  const out = tf.tidy((): tf.NamedTensorMap => {
    const ids = tf.tensor2d(idsFlat, [B, T], 'int32');
    const attn = tf.tensor2d(maskFlat, [B, T], 'int32');
    if (want.attentionKeys) {
      const fa = forwardWithAttention(model.config, model.weights, ids, attn);
      const keys = new Float32Array(B * T);
      want.attentionKeys.forEach((k, b) => keys.set(k.subarray(0, Math.min(k.length, seqs[b]!.length)), b * T));
      // mean over heads, then each query row times the 0/1 key vector: [B, T, T] @ [B, T, 1]
      const keyAttn = tf.matMul(tf.mean(fa.attention, 1), tf.tensor3d(keys, [B, T, 1])).reshape([B, T]);
      const res: tf.NamedTensorMap = { logits: fa.logits, keyAttn };
      fa.attention.dispose();
      if (want.embedding) {
        const m = tf.cast(attn, 'float32').reshape([B, T, 1]);
        res.pooled = tf.div(tf.sum(tf.mul(fa.hidden, m), 1), tf.sum(m, 1));
      }
      return res;
    }
    if (!want.embedding) return { logits: forward(model.config, model.weights, ids, attn) };
    const fh = forwardWithHidden(model.config, model.weights, ids, attn);
    // masked mean over real tokens: padding rows are zeroed before the sum, the count is the real length
    const m = tf.cast(attn, 'float32').reshape([B, T, 1]);
    const sum = tf.sum(tf.mul(fh.hidden, m), 1);
    return { logits: fh.logits, pooled: tf.div(sum, tf.sum(m, 1)) };
  });
  const logits = out.logits as tf.Tensor3D;
  const pooled = (out.pooled as tf.Tensor2D | undefined) ?? null;
  const keyAttn = (out.keyAttn as tf.Tensor2D | undefined) ?? null;
  try {
    const { signals: tokens, extra } = await tokenSignalsFromLogits(
      logits,
      seqs,
      seqs.map((s) => s.length),
      { entropy: want.entropy, rank: want.rank },
      [...(pooled ? [pooled] : []), ...(keyAttn ? [keyAttn] : [])],
    );
    let embeddings: Float32Array[] | null = null;
    if (pooled) {
      const H = pooled.shape[1];
      const data = extra[0]!;
      embeddings = seqs.map((_, b) => data.slice(b * H, (b + 1) * H));
    }
    let keyAttention: Float32Array[] | null = null;
    if (keyAttn) {
      const data = extra[pooled ? 1 : 0]!;
      keyAttention = seqs.map((s, b) => data.slice(b * T, b * T + s.length));
    }
    return { tokens, embeddings, keyAttention };
  } finally {
    logits.dispose();
    pooled?.dispose();
    keyAttn?.dispose();
  }
}
