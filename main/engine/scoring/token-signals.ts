/**
 * Per-token signals from one forward pass. Position t holds the model's view of token x_t given x_<t, read from the
 * logits at t−1; position 0 has no prediction (NaN here, null on the wire).
 *   token_loss    ℓ_t = −log p(x_t | x_<t)
 *   token_prob    p(x_t | x_<t)
 *   token_entropy H_t = −Σ_v p(v) log p(v) of the predictive distribution for position t
 *   token_rank    1 + #{v : logit_v > logit_{x_t}}
 */
import * as tf from '@tensorflow/tfjs';
import { readAll } from '../compute/read';

export interface TokenSignalArrays {
  token_loss: Float32Array;
  token_prob: Float32Array;
  token_entropy: Float32Array;
  token_rank: Float32Array;
}

/**
 * @param logits [B, T, V] float32
 * @param ids token ids per row, right-padded to T
 * @param lengths real length of each row
 * @returns per row, arrays of its real length
 */
export async function tokenSignalsFromLogits(
  logits: tf.Tensor3D,
  ids: Int32Array[],
  lengths: number[],
  want: { entropy: boolean; rank: boolean },
  /** more tensors to read in the same round trip (the caller's other outputs); their data is returned in `extra` */
  alsoRead: tf.Tensor[] = [],
): Promise<{ signals: TokenSignalArrays[]; extra: Float32Array[] }> {
  const [B, T, V] = logits.shape;
  const N = B * (T - 1);
  // flat index of target x_{t+1} in the [N·V] prediction matrix (wasm's GatherV2 with batchDims reads out of
  // bounds in tfjs 4.22, so every gather here is a plain 1-D gather)
  const flat = new Int32Array(N);
  for (let b = 0; b < B; b++) {
    const row = ids[b]!;
    for (let t = 0; t < T - 1; t++) {
      const n = b * (T - 1) + t;
      flat[n] = n * V + (t + 1 < row.length ? row[t + 1]! : 0);
    }
  }
  const tensors = tf.tidy(() => {
    const pred = logits.slice([0, 0, 0], [B, T - 1, V]).reshape([N, V]) as tf.Tensor2D;
    const logp = tf.logSoftmax(pred);
    const tgt = tf.tensor1d(flat, 'int32');
    const loss = tf.neg(tf.gather(logp.reshape([N * V]), tgt));
    const result: Record<string, tf.Tensor> = { loss };
    if (want.entropy) result.ent = tf.neg(tf.sum(tf.mul(tf.exp(logp), logp), 1));
    if (want.rank) {
      const tgtLogit = tf.gather(pred.reshape([N * V]), tgt).reshape([N, 1]);
      result.rank = tf.add(tf.sum(tf.cast(tf.greater(pred, tgtLogit), 'float32'), 1), 1);
    }
    return result;
  });
  // one read for everything this batch returns
  const order = [tensors.loss!, ...(tensors.ent ? [tensors.ent] : []), ...(tensors.rank ? [tensors.rank] : [])];
  let data: Float32Array[];
  try {
    data = await readAll([...order, ...alsoRead]);
  } finally {
    tf.dispose(tensors);
  }
  const lossData = data[0]!;
  const entData = tensors.ent ? data[1]! : null;
  const rankData = tensors.rank ? data[tensors.ent ? 2 : 1]! : null;
  const extra = data.slice(order.length);
  const out: TokenSignalArrays[] = [];
  for (let b = 0; b < B; b++) {
    const L = lengths[b]!;
    const mk = () => {
      const a = new Float32Array(L);
      a[0] = NaN;
      return a;
    };
    const s: TokenSignalArrays = { token_loss: mk(), token_prob: mk(), token_entropy: mk(), token_rank: mk() };
    for (let t = 1; t < L; t++) {
      const k = b * (T - 1) + (t - 1);
      const l = lossData[k]!;
      s.token_loss[t] = l;
      s.token_prob[t] = Math.exp(-l);
      s.token_entropy[t] = entData ? entData[k]! : NaN;
      s.token_rank[t] = rankData ? rankData[k]! : NaN;
    }
    out.push(s);
  }
  return { signals: out, extra };
}

/** mean of ℓ_t over positions t ≥ 1 with label_mask[t] = 1; null when there are none */
export function maskedMean(values: Float32Array, labelMask: Uint8Array): number | null {
  let sum = 0;
  let n = 0;
  for (let t = 1; t < values.length; t++) {
    if (labelMask[t] === 1 && Number.isFinite(values[t]!)) {
      sum += values[t]!;
      n++;
    }
  }
  return n ? sum / n : null;
}
