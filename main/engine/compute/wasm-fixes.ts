/**
 * Kernel fixes for the TF.js 4.22 'wasm' backend. Each is registered for 'wasm' only, so 'cpu' and 'tensorflow'
 * keep their own kernels; tests compare every fix against 'cpu'.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

type KernelFunc = tf.KernelConfig['kernelFunc'];
type Args = Parameters<KernelFunc>[0];

let registered = false;

/**
 * (a) UnsortedSegmentSum has no wasm kernel, and tf.gather's gradient (embedding lookups) uses it, so training
 * through an embedding fails on wasm with "kernel not registered". A plain JS kernel: read both inputs, add each
 * row of x into its segment, write a new tensor. O(size of x), runs only on backward passes.
 */
function unsortedSegmentSum({ inputs, backend, attrs }: Args): tf.TensorInfo {
  const be = backend as BackendWasm;
  const { x, segmentIds } = inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
  const numSegments = (attrs as { numSegments: number }).numSegments;
  const xv = be.readSync(x.dataId) as Float32Array | Int32Array;
  const ids = be.readSync(segmentIds.dataId) as Int32Array;
  const inner = x.shape.slice(segmentIds.shape.length);
  const rowSize = inner.reduce((a, b) => a * b, 1);
  const out = x.dtype === 'int32' ? new Int32Array(numSegments * rowSize) : new Float32Array(numSegments * rowSize);
  for (let r = 0; r < ids.length; r++) {
    const s = ids[r];
    if (s < 0 || s >= numSegments) continue; // TF drops out-of-range segment ids
    const src = r * rowSize;
    const dst = s * rowSize;
    for (let k = 0; k < rowSize; k++) out[dst + k] += xv[src + k];
  }
  const shape = [numSegments, ...inner];
  return { dataId: be.write(out, shape, x.dtype), shape, dtype: x.dtype };
}

/**
 * (b) wasm's BatchMatMul with transposeA/transposeB takes a much slower path than the plain product. Every
 * q/k/v/o and MLP projection of an HF checkpoint is `x @ W^T`, and every backward pass transposes, so: transpose
 * the flagged input explicitly with the wasm Transpose kernel, then call the original kernel untransposed.
 * Measured [1,512,768] x [3072,768]^T, interleaved A/B in one process, 2 shared cores under load (~4):
 * plain 1.09 GFLOP/s, transposeB before 0.54, after 1.05 (the transpose costs O(K*N), the product O(M*K*N)).
 */
function wrapBatchMatMul(original: KernelFunc): KernelFunc {
  return (args: Args) => {
    const { inputs, backend, attrs } = args;
    const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
    if (!transposeA && !transposeB) return original(args);
    const transpose = tf.getKernel('Transpose', 'wasm')!.kernelFunc;
    const be = backend as BackendWasm;
    const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const swapLast = (t: tf.TensorInfo): tf.TensorInfo => {
      const perm = t.shape.map((_, i) => i);
      perm[perm.length - 2] = perm.length - 1;
      perm[perm.length - 1] = perm.length - 2;
      return transpose({ inputs: { x: t }, backend, attrs: { perm } }) as tf.TensorInfo;
    };
    const a2 = transposeA ? swapLast(a) : a;
    const b2 = transposeB ? swapLast(b) : b;
    try {
      return original({ inputs: { a: a2, b: b2 }, backend, attrs: { ...attrs, transposeA: false, transposeB: false } });
    } finally {
      if (a2 !== a) be.disposeData(a2.dataId);
      if (b2 !== b) be.disposeData(b2.dataId);
    }
  };
}

/** Register the fixes once; safe to call before or after the wasm backend is initialised. */
export function registerWasmFixes(): void {
  if (registered) return;
  registered = true;
  if (!tf.getKernel('UnsortedSegmentSum', 'wasm')) {
    tf.registerKernel({ kernelName: 'UnsortedSegmentSum', backendName: 'wasm', kernelFunc: unsortedSegmentSum as KernelFunc });
  }
  const mm = tf.getKernel('BatchMatMul', 'wasm');
  if (mm) {
    tf.unregisterKernel('BatchMatMul', 'wasm');
    tf.registerKernel({ ...mm, kernelFunc: wrapBatchMatMul(mm.kernelFunc) });
  }
}
