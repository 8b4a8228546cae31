/**
 * Building blocks shared by the architectures, written to follow transformers' eager code op for op
 * (float32 throughout) so parity with PyTorch is a matter of rounding, not of formulas.
 */
import * as tf from '@tensorflow/tfjs';

export type Weights = Record<string, tf.Tensor>;

/** nn.Linear: x @ W^T + b with W stored [out, in]. 3-D x is flattened so gradients never see broadcast matmuls. */
export function linear(x: tf.Tensor3D, w: tf.Tensor, b?: tf.Tensor): tf.Tensor3D {
  const [B, T, In] = x.shape;
  let y = tf.matMul(tf.reshape(x, [B * T, In]), w as tf.Tensor2D, false, true);
  if (b) y = tf.add(y, b);
  return tf.reshape(y, [B, T, w.shape[0]]);
}

/** GPT-2 Conv1D: x @ W + b with W stored [in, out]. */
export function conv1d(x: tf.Tensor3D, w: tf.Tensor, b: tf.Tensor): tf.Tensor3D {
  const [B, T, In] = x.shape;
  const y = tf.add(tf.matMul(tf.reshape(x, [B * T, In]), w as tf.Tensor2D), b);
  return tf.reshape(y, [B, T, w.shape[1]!]);
}

/** LlamaRMSNorm: x * rsqrt(mean(x^2) + eps) * weight */
export function rmsNorm(x: tf.Tensor3D, w: tf.Tensor, eps: number): tf.Tensor3D {
  const variance = tf.mean(tf.square(x), -1, true);
  return tf.mul(w, tf.mul(x, tf.rsqrt(tf.add(variance, eps))));
}

/** nn.LayerNorm over the last axis (biased variance, as PyTorch) */
export function layerNorm(x: tf.Tensor3D, w: tf.Tensor, b: tf.Tensor, eps: number): tf.Tensor3D {
  const mean = tf.mean(x, -1, true);
  const centered = tf.sub(x, mean);
  const variance = tf.mean(tf.square(centered), -1, true);
  return tf.add(tf.mul(tf.mul(centered, tf.rsqrt(tf.add(variance, eps))), w), b);
}

/** gelu_new / gelu_pytorch_tanh: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
export function geluNew(x: tf.Tensor): tf.Tensor {
  const inner = tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3))));
  return tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(inner)));
}

/** [B,T,heads*hd] → [B,heads,T,hd] */
export function splitHeads(x: tf.Tensor3D, heads: number, hd: number): tf.Tensor4D {
  const [B, T] = x.shape;
  return tf.transpose(tf.reshape(x, [B, T, heads, hd]), [0, 2, 1, 3]);
}

/** [B,heads,T,hd] → [B,T,heads*hd] */
export function mergeHeads(x: tf.Tensor4D): tf.Tensor3D {
  const [B, H, T, hd] = x.shape;
  return tf.reshape(tf.transpose(x, [0, 2, 1, 3]), [B, T, H * hd]);
}

/**
 * Additive attention bias [B or 1, 1, T, T]: 0 where query i may see key j (j <= i and key j is real),
 * a large negative number elsewhere. transformers adds finfo(float32).min; any value that underflows exp()
 * gives the same probabilities, and -1e9 stays finite when added to scores.
 */
export function attentionBias(T: number, mask?: tf.Tensor2D, slidingWindow?: number | null): tf.Tensor4D {
  // Mistral's sliding window: query i sees keys j with i - window < j <= i
  const lower = slidingWindow && slidingWindow < T ? slidingWindow - 1 : -1;
  const causal = tf.linalg.bandPart(tf.ones([T, T]), lower, 0).reshape([1, 1, T, T]);
  const allowed = mask ? tf.mul(causal, tf.cast(mask, 'float32').reshape([mask.shape[0], 1, 1, T])) : causal;
  return tf.mul(tf.sub(1, allowed), -1e9) as tf.Tensor4D;
}

/**
 * softmax(q k^T scaled + bias) v, all [B,heads,T,hd]. Llama multiplies by hd^-0.5, GPT-2 divides by sqrt(hd);
 * both are kept as written so rounding matches transformers.
 */
export function attend(
  q: tf.Tensor4D,
  k: tf.Tensor4D,
  v: tf.Tensor4D,
  scale: { mul: number } | { div: number },
  bias: tf.Tensor4D,
): tf.Tensor4D {
  const raw = tf.matMul(q, k, false, true);
  const scaled = 'mul' in scale ? tf.mul(raw, scale.mul) : tf.div(raw, scale.div);
  const scores = tf.add(scaled, bias);
  return tf.matMul(tf.softmax(scores), v);
}
