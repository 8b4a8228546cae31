/**
 * Token-weighted causal-LM loss: L = Σ_t w_t ℓ_t / Σ_t w_t, where ℓ_t = −log p(x_t | x_<t) is read from the logits at
 * t−1 and w_t is the token mask (0/1). With DFT each term is also scaled by sg(p(x_t)) (the probability, gradient
 * stopped) while the denominator stays the mask count.
 */
import * as tf from '@tensorflow/tfjs';

/** Identity forward, zero gradient: tfjs has no stop_gradient op, so it is a custom gradient. */
export const stopGradient = tf.customGrad(((x: tf.Tensor) => ({
  value: x.clone(),
  gradFunc: (dy: tf.Tensor) => [tf.zerosLike(dy)],
})) as never) as (x: tf.Tensor) => tf.Tensor;

export function weightedLmLoss(
  logits: tf.Tensor3D,
  ids: Int32Array,
  weights: Float32Array,
  B: number,
  T: number,
  opts: { dft: boolean },
): { loss: tf.Scalar; weightSum: number } {
  const V = logits.shape[2];
  const N = B * (T - 1);
  const flatIdx = new Int32Array(N);
  const w = new Float32Array(N);
  let weightSum = 0;
  for (let b = 0; b < B; b++) {
    for (let t = 1; t < T; t++) {
      const n = b * (T - 1) + (t - 1);
      flatIdx[n] = n * V + ids[b * T + t]!;
      w[n] = weights[b * T + t]!;
      weightSum += w[n]!;
    }
  }
  const loss = tf.tidy(() => {
    const pred = logits.slice([0, 0, 0], [B, T - 1, V]).reshape([N * V]);
    // log-softmax over the vocabulary of each position, then pick the target's entry
    const logp = tf.logSoftmax(pred.reshape([N, V])).reshape([N * V]);
    const tgt = tf.gather(logp, tf.tensor1d(flatIdx, 'int32'));
    let wt: tf.Tensor = tf.tensor1d(w);
    if (opts.dft) wt = tf.mul(wt, stopGradient(tf.exp(tgt)));
    // DFT divides by the number of masked tokens, as yongliang-wu/DFT does (loss * probs.detach(), then the mean)
    return tf.div(tf.neg(tf.sum(tf.mul(tgt, wt))), Math.max(weightSum, 1e-8)) as tf.Scalar;
  });
  return { loss, weightSum };
}
