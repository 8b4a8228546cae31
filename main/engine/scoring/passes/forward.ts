/**
 * One forward pass of a model over a batch of token sequences (right-padded, attention-masked): the per-token
 * signals of every sequence and, when asked, the `embedding` (mean of the final normed hidden state over the
 * sequence's real tokens). The scored model, the reference model and the answer-only pass all go through here.
 */
import * as tf from '@tensorflow/tfjs';
import { forward, forwardWithHidden, type LoadedModel } from '../../models';
import { tokenSignalsFromLogits, type TokenSignalArrays } from '../token-signals';

export interface ForwardWant {
  entropy: boolean;
  rank: boolean;
  embedding: boolean;
}

export interface ForwardResult {
  tokens: TokenSignalArrays[];
  /** one [hiddenSize] vector per sequence, or null when not asked */
  embeddings: Float32Array[] | null;
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

export function forwardBatch(model: LoadedModel, seqs: Int32Array[], want: ForwardWant): ForwardResult {
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
    if (!want.embedding) return { logits: forward(model.config, model.weights, ids, attn) };
    const fh = forwardWithHidden(model.config, model.weights, ids, attn);
    // masked mean over real tokens: padding rows are zeroed before the sum, the count is the real length
    const m = tf.cast(attn, 'float32').reshape([B, T, 1]);
    const sum = tf.sum(tf.mul(fh.hidden, m), 1);
    return { logits: fh.logits, pooled: tf.div(sum, tf.sum(m, 1)) };
  });
  const logits = out.logits as tf.Tensor3D;
  const pooled = (out.pooled as tf.Tensor2D | undefined) ?? null;
  try {
    const tokens = tokenSignalsFromLogits(
      logits,
      seqs,
      seqs.map((s) => s.length),
      { entropy: want.entropy, rank: want.rank },
    );
    let embeddings: Float32Array[] | null = null;
    if (pooled) {
      const H = pooled.shape[1];
      const data = pooled.dataSync() as Float32Array;
      embeddings = seqs.map((_, b) => data.slice(b * H, (b + 1) * H));
    }
    return { tokens, embeddings };
  } finally {
    logits.dispose();
    pooled?.dispose();
  }
}
