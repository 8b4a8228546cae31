/**
 * Products with model weights on wasm, as a kernel of our own ('WinnowWeightMatMul') with a registered gradient.
 *
 * Why: wasm's fast matmul (XNNPACK) only takes untransposed 2-D products, and packs the right-hand matrix once per
 * tensor, keeping the packed copy while that tensor lives. HF stores nn.Linear weights [out, in], so x @ W^T needs
 * a transpose per call (a copy, then a fresh packing). Here each weight gets a cached transposed copy, so the forward
 * (x @ W^T = x @ cached) and the input gradient (dy @ W) are both untransposed products of long-lived tensors.
 * The weight gradient (dy^T x) is still there, computed only when something differentiates with respect to the weight
 * (tfjs evaluates per-input gradients lazily), so tf.grads over raw weight tensors keeps working.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

const KERNEL = 'WinnowWeightMatMul';
let registered = false;

type KernelFunc = tf.KernelConfig['kernelFunc'];
type Args = Parameters<KernelFunc>[0];

/** inputs: x [M,K], w (as stored), wt (w transposed), bias? ; attrs.outIn: w is [N,K] (nn.Linear) rather than [K,N] */
function kernelFunc({ inputs, backend, attrs }: Args): tf.TensorInfo {
  const be = backend as BackendWasm;
  const { x, w, wt, bias } = inputs as { x: tf.TensorInfo; w: tf.TensorInfo; wt: tf.TensorInfo; bias?: tf.TensorInfo };
  const b = (attrs as { outIn: boolean }).outIn ? wt : w;
  const reshape = tf.getKernel('Reshape', 'wasm')!.kernelFunc;
  const r = (t: tf.TensorInfo, shape: number[]) => reshape({ inputs: { x: t }, backend, attrs: { shape } }) as tf.TensorInfo;
  const [M, K] = x.shape;
  const N = b.shape[1];
  const a3 = r(x, [1, M, K]);
  const b3 = r(b, [1, K, N]);
  try {
    const y = tf.getKernel('_FusedMatMul', 'wasm')!.kernelFunc({
      inputs: bias ? { a: a3, b: b3, bias } : { a: a3, b: b3 },
      backend,
      attrs: { transposeA: false, transposeB: false, activation: 'linear', leakyreluAlpha: 0 },
    }) as tf.TensorInfo;
    const out = r(y, [M, N]);
    be.disposeData(y.dataId);
    return out;
  } finally {
    be.disposeData(a3.dataId);
    be.disposeData(b3.dataId);
  }
}

function register(): void {
  if (registered) return;
  registered = true;
  tf.registerKernel({ kernelName: KERNEL, backendName: 'wasm', kernelFunc });
  tf.registerKernel({ kernelName: FRESH, backendName: 'wasm', kernelFunc: freshKernel });
  tf.registerGradient({
    kernelName: FRESH,
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, saved, attrs) => {
      const [a, b] = saved as tf.Tensor2D[];
      const g = dy as tf.Tensor2D;
      const tB = (attrs as unknown as { transposeB: boolean }).transposeB;
      return {
        a: () => freshMatMul(g, b, !tB),
        b: () => (tB ? tf.matMul(g, a, true, false) : tf.matMul(a, g, true, false)),
        bias: () => tf.sum(g, 0),
      };
    },
  });
  tf.registerGradient({
    kernelName: KERNEL,
    inputsToSave: ['x', 'w', 'wt'],
    gradFunc: (dy, saved, attrs) => {
      const [x, w, wt] = saved as tf.Tensor2D[];
      const g = dy as tf.Tensor2D;
      const outIn = (attrs as unknown as { outIn: boolean }).outIn;
      return {
        // dx = dy @ W (nn.Linear) or dy @ W^T (Conv1D): the [N,K] one of the pair, untransposed
        x: () => tf.matMul(g, outIn ? w : wt),
        w: () => (outIn ? tf.matMul(g, x, true, false) : tf.matMul(x, g, true, false)),
        wt: () => tf.zerosLike(wt), // the cached copy is made outside any tape, so nothing differentiates it
        bias: () => tf.sum(g, 0),
      };
    },
  });
}

/**
 * 'WinnowMatMulFreshB': a @ b^T (transposeB) or a @ b, with b's transpose or copy made inside the kernel and freed
 * right after. For trainable weights (tf.Variable): XNNPACK keeps a packed copy of every right-hand tensor until that
 * tensor is disposed, so multiplying by a variable directly would hold a packed copy of every trainable weight
 * through the step (GPT-2 small: +0.5 GB, enough to run the 4 GiB heap out during full training).
 */
const FRESH = 'WinnowMatMulFreshB';

function freshKernel({ inputs, backend, attrs }: Args): tf.TensorInfo {
  const be = backend as BackendWasm;
  const { a, b, bias } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo; bias?: tf.TensorInfo };
  let fresh: tf.TensorInfo;
  if ((attrs as { transposeB: boolean }).transposeB) {
    fresh = tf.getKernel('Transpose', 'wasm')!.kernelFunc({ inputs: { x: b }, backend, attrs: { perm: [1, 0] } }) as tf.TensorInfo;
  } else {
    fresh = be.makeOutput(b.shape, 'float32');
    (be.typedArrayFromHeap(fresh) as Float32Array).set(be.typedArrayFromHeap(b) as Float32Array);
  }
  try {
    return kernelFunc({ inputs: bias ? { x: a, w: fresh, wt: fresh, bias } : { x: a, w: fresh, wt: fresh }, backend, attrs: { outIn: false } });
  } finally {
    be.disposeData(fresh.dataId);
  }
}

function freshMatMul(a: tf.Tensor2D, b: tf.Tensor2D, transposeB: boolean, bias?: tf.Tensor): tf.Tensor2D {
  register();
  const inputs: tf.NamedTensorMap = bias ? { a, b, bias } : { a, b };
  return tf.engine().runKernel(FRESH, inputs, { transposeB } as unknown as tf.NamedAttrMap) as tf.Tensor2D;
}

const transposed = new Map<tf.Tensor, tf.Tensor2D>();
/** tensors + 2× a new copy (XNNPACK packs it again) must stay under this share of the 4 GiB wasm heap */
const CACHE_CEILING_BYTES = 2.5 * 2 ** 30;

/** The cached transposed copy of a 2-D weight, or null (not wasm, over the memory ceiling). */
function transposedCopy(w: tf.Tensor): tf.Tensor2D | null {
  const hit = transposed.get(w);
  if (hit && !hit.isDisposed) return hit;
  for (const [k, v] of transposed) {
    if (k.isDisposed) {
      v.dispose();
      transposed.delete(k);
    }
  }
  if (tf.memory().numBytes + 2 * w.size * 4 > CACHE_CEILING_BYTES) return null;
  // made outside any gradient tape and any tidy scope: it lives as long as the weight
  const t = tf.engine().tidy(() => tf.keep(tf.transpose(w as tf.Tensor2D)));
  transposed.set(w, t);
  return t;
}

/**
 * x [M,K] times a weight: nn.Linear layout (w [N,K], outIn) gives x @ w^T, Conv1D layout (w [K,N]) gives x @ w; plus
 * bias. A tf.Variable (trainable, changes every step, so no cached copy) goes through WinnowMatMulFreshB. Returns
 * null where the plain ops should be used instead (backend other than wasm, or no room for the copy).
 */
export function weightMatMul(x: tf.Tensor2D, w: tf.Tensor, outIn: boolean, bias?: tf.Tensor): tf.Tensor2D | null {
  if (tf.getBackend() !== 'wasm' || w.rank !== 2 || (bias && bias.rank !== 1)) return null;
  if (w instanceof tf.Variable) return freshMatMul(x, w as tf.Tensor2D, outIn, bias);
  const wt = transposedCopy(w);
  if (!wt) return null;
  register();
  const inputs: tf.NamedTensorMap = bias ? { x, w, wt, bias } : { x, w, wt };
  return tf.engine().runKernel(KERNEL, inputs, { outIn } as unknown as tf.NamedAttrMap) as tf.Tensor2D;
}

/** Free the cached copies of these weights (when their model is disposed). */
export function dropWeightCopies(weights: Iterable<tf.Tensor>): void {
  for (const w of weights) {
    transposed.get(w)?.dispose();
    transposed.delete(w);
  }
}
