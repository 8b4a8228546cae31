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
  const N = B * T;
  // row n = (b, t) of the logits predicts ids[b, t+1]; the last position of each row predicts nothing (weight 0)
  const target = new Int32Array(N);
  const w = new Float32Array(N);
  let weightSum = 0;
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T - 1; t++) {
      target[b * T + t] = ids[b * T + t + 1]!;
      w[b * T + t] = weights[b * T + t + 1]!;
      weightSum += weights[b * T + t + 1]!;
    }
  }
  const loss = tf.tidy(() => maskedCrossEntropy(logits.reshape([N, V]) as tf.Tensor2D, target, w, Math.max(weightSum, 1e-8), opts.dft));
  return { loss, weightSum };
}

/**
 * Σ_n c_n ℓ_n / W with ℓ_n = logsumexp(z_n) − z_n[y_n], as one op with its own gradient ((softmax(z_n) − onehot(y_n)) ·
 * c_n / W): the tape keeps only the logits, where log-softmax, gather and their gradients would each keep or make
 * another [N, V] copy (GPT-2's vocabulary at [4,128]: 100 MB each). c_n = w_n, or w_n · p_n (p_n = e^{−ℓ_n}, a constant
 * for the gradient) with DFT — yongliang-wu/DFT's loss · probs.detach(), divided by the mask count.
 */
function maskedCrossEntropy(z: tf.Tensor2D, target: Int32Array, w: Float32Array, W: number, dft: boolean): tf.Scalar {
  const [N, V] = z.shape;
  const flat = new Int32Array(N);
  for (let n = 0; n < N; n++) flat[n] = n * V + target[n]!;
  const op = tf.customGrad(((zz: tf.Tensor2D, save: tf.GradSaveFunc) => {
    // in a tidy of its own, so logsumexp's [N, V] temporaries go now rather than at the end of the training step
    const [lse, c, value] = tf.tidy(() => {
      const lse = tf.logSumExp(zz, 1); // [N]
      const nll = tf.sub(lse, tf.gather(zz.reshape([N * V]), tf.tensor1d(flat, 'int32'))); // ℓ_n
      const c = dft ? tf.mul(tf.tensor1d(w), tf.exp(tf.neg(nll))) : tf.tensor1d(w);
      return [lse, c, tf.div(tf.sum(tf.mul(nll, c)), W)];
    });
    save([zz, lse!, c!]);
    return {
      value: value!,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [zs, lses, cs] = saved as [tf.Tensor2D, tf.Tensor1D, tf.Tensor1D];
        const scale = tf.mul(tf.div(cs, W), dy).reshape([N, 1]);
        // one [N, V] temporary at a time: shifted, exponentiated, scaled, then the −c_n/W at each target
        let g = tf.sub(zs, lses.reshape([N, 1]));
        g = replace(g, tf.exp(g));
        g = replace(g, tf.mul(g, scale));
        const rows = tf.tensor2d(Int32Array.from({ length: 2 * N }, (_, i) => (i % 2 === 0 ? i / 2 : target[(i - 1) / 2]!)), [N, 2], 'int32');
        const atTarget = tf.scatterND(rows, tf.neg(scale.reshape([N])), [N, V]);
        g = replace(g, tf.add(g, atTarget));
        atTarget.dispose();
        return [g];
      },
    };
  }) as never) as (zz: tf.Tensor2D) => tf.Scalar;
  return op(z);
}

function replace<T extends tf.Tensor>(old: tf.Tensor, next: T): T {
  old.dispose();
  return next;
}
