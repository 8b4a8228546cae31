/**
 * Building blocks shared by the architectures, written to follow transformers' eager code op for op
 * (float32 throughout) so parity with PyTorch is a matter of rounding, not of formulas.
 */
import * as tf from '@tensorflow/tfjs';
import { weightMatMul } from '../compute/weight-matmul';
import { matMulRowsT } from '../compute/shard';

export type Weights = Record<string, tf.Tensor>;

/** nn.Linear: x @ W^T + b with W stored [out, in]. 3-D x is flattened so gradients never see broadcast matmuls. */
export function linear(x: tf.Tensor3D, w: tf.Tensor, b?: tf.Tensor): tf.Tensor3D {
  const [B, T, In] = x.shape;
  const x2 = tf.reshape(x, [B * T, In]) as tf.Tensor2D;
  // a weight over the GPU's buffer limit (an output head) runs shard by shard (compute/shard.ts)
  const y = weightMatMul(x2, w, true, b) ?? addBias(matMulRowsT(x2, w) ?? tf.matMul(x2, w as tf.Tensor2D, false, true), b);
  return tf.reshape(y, [B, T, w.shape[0]]);
}

/** GPT-2 Conv1D: x @ W + b with W stored [in, out]. */
export function conv1d(x: tf.Tensor3D, w: tf.Tensor, b: tf.Tensor): tf.Tensor3D {
  const [B, T, In] = x.shape;
  const x2 = tf.reshape(x, [B * T, In]) as tf.Tensor2D;
  const y = weightMatMul(x2, w, false, b) ?? tf.add(tf.matMul(x2, w as tf.Tensor2D), b);
  return tf.reshape(y, [B, T, w.shape[1]!]);
}

function addBias(y: tf.Tensor, b?: tf.Tensor): tf.Tensor {
  return b ? tf.add(y, b) : y;
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

/**
 * gelu_new / gelu_pytorch_tanh: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), with its derivative written out:
 * the tape then keeps only x, where the composed ops would keep eight [B·T, intermediate] tensors per block
 * (GPT-2 small at [4,128]: ~0.5 GB over 12 blocks).
 */
export const geluNew = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
  save([x]);
  return {
    // its own tidy: the intermediates go now, not at the end of the enclosing scope (the whole training step)
    value: tf.tidy(() => geluValue(x)),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const xs = saved[0]!;
      return tf.tidy(() => {
        // d/dx = 0.5 (1 + t) + 0.5 x (1 − t²) · c (1 + 3·0.044715 x²),  t = tanh(c (x + 0.044715 x³))
        const c = Math.sqrt(2 / Math.PI);
        const x2 = tf.mul(xs, xs);
        const t = tf.tanh(tf.mul(c, tf.add(xs, tf.mul(0.044715, tf.mul(x2, xs)))));
        const du = tf.mul(c, tf.add(1, tf.mul(3 * 0.044715, x2)));
        const d = tf.add(tf.mul(0.5, tf.add(1, t)), tf.mul(tf.mul(0.5, xs), tf.mul(tf.sub(1, tf.square(t)), du)));
        return tf.mul(dy, d);
      });
    },
  };
}) as never) as (x: tf.Tensor) => tf.Tensor;

function geluValue(x: tf.Tensor): tf.Tensor {
  // torch.pow(x, 3.0) on CPU computes x * x * x
  const inner = tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.mul(tf.mul(x, x), x))));
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

/** backends whose dataSync is a cheap host copy (no GPU round trip) */
const SYNC_READ_BACKENDS = new Set(['cpu', 'wasm', 'tensorflow']);

/** attentionBias with the key mask left on the device: exactly 0 or -1e9, as the JS loop writes. */
function biasOnDevice(T: number, window: number, mask: tf.Tensor2D): tf.Tensor4D {
  const band = new Uint8Array(T * T);
  for (let i = 0; i < T; i++) for (let j = 0; j <= i; j++) if (i - j < window) band[i * T + j] = 1;
  return tf.tidy(() => {
    const causal = tf.tensor4d(band, [1, 1, T, T], 'bool');
    const keys = tf.notEqual(mask.reshape([mask.shape[0], 1, 1, T]), 0);
    const ok = tf.logicalAnd(causal, keys);
    const shape = ok.shape as [number, number, number, number];
    return tf.where(ok, tf.zeros(shape), tf.fill(shape, -1e9)) as tf.Tensor4D;
  });
}

/**
 * Additive attention bias [B or 1, 1, T, T]: 0 where query i may see key j (j <= i and key j is real),
 * a large negative number elsewhere. transformers adds finfo(float32).min; any value that underflows exp()
 * gives the same probabilities, and -1e9 stays finite when added to scores.
 */
export function attentionBias(T: number, mask?: tf.Tensor2D, slidingWindow?: number | null): tf.Tensor4D {
  // Built in JS: bandPart/mul/sub on [B,1,T,T] are several slow kernels on wasm for what is a few loops here.
  // Mistral's sliding window: query i sees keys j with i - window < j <= i
  const window = slidingWindow && slidingWindow < T ? slidingWindow : T;
  // a GPU backend cannot read the mask back synchronously: the same values from device ops (causal band built here,
  // the key mask broadcast on the device)
  if (mask && !SYNC_READ_BACKENDS.has(tf.getBackend())) return biasOnDevice(T, window, mask);
  const m = mask ? mask.dataSync() : null;
  const Bm = mask ? mask.shape[0] : 1;
  const out = new Float32Array(Bm * T * T);
  for (let b = 0; b < Bm; b++) {
    for (let i = 0; i < T; i++) {
      const row = (b * T + i) * T;
      for (let j = 0; j < T; j++) {
        const ok = j <= i && i - j < window && (!m || m[b * T + j] !== 0);
        out[row + j] = ok ? 0 : -1e9;
      }
    }
  }
  return tf.tensor4d(out, [Bm, 1, T, T]);
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
  onProbs?: (probs: tf.Tensor4D) => void,
): tf.Tensor4D {
  const raw = tf.matMul(q, k, false, true);
  const scaled = 'mul' in scale ? tf.mul(raw, scale.mul) : tf.div(raw, scale.div);
  const scores = tf.add(scaled, bias);
  const probs = tf.softmax(scores) as tf.Tensor4D;
  onProbs?.(probs);
  return tf.matMul(probs, v);
}
