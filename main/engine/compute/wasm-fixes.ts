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
 * (b) wasm's BatchMatMul reaches XNNPACK (SIMD, threaded, weights packed once per `b` tensor) only for an
 * untransposed product with batch 1 on both sides; everything else runs a scalar triple loop at ~0.6–1 GFLOP/s
 * against ~11 for XNNPACK. Attention (batched over heads) and every backward pass (transposes) hit that loop.
 * So: transpose flagged inputs explicitly (wasm Transpose kernel), then run each batch entry as its own 2-D
 * product through the original kernel (XNNPACK) and concatenate. Same products and sums, just another kernel.
 * Measured on stories260K [8,256] forward, 2 shared cores: batched matmuls 0.5–0.9 → ~8 GFLOP/s.
 */
function wrapBatchMatMul(original: KernelFunc): KernelFunc {
  return (args: Args) => {
    const { inputs, backend, attrs } = args;
    const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
    const be = backend as BackendWasm;
    const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const batchA = sizeOf(a.shape.slice(0, -2));
    const batchB = sizeOf(b.shape.slice(0, -2));
    const batched = batchA > 1 || batchB > 1;
    if (!transposeA && !transposeB && !batched) return original(args);
    const kernel = (name: string) => tf.getKernel(name, 'wasm')!.kernelFunc;
    const temps: tf.TensorInfo[] = [];
    const tmp = (t: tf.TensorInfo): tf.TensorInfo => (temps.push(t), t);
    const swapLast = (t: tf.TensorInfo): tf.TensorInfo => {
      const perm = t.shape.map((_, i) => i);
      perm[perm.length - 2] = perm.length - 1;
      perm[perm.length - 1] = perm.length - 2;
      return tmp(kernel('Transpose')({ inputs: { x: t }, backend, attrs: { perm } }) as tf.TensorInfo);
    };
    try {
      const a2 = transposeA ? swapLast(a) : a;
      const b2 = transposeB ? swapLast(b) : b;
      const plain = { ...attrs, transposeA: false, transposeB: false };
      const outBatch = batchA >= batchB ? a.shape.slice(0, -2) : b.shape.slice(0, -2);
      // split only batch shapes we can pair entry by entry (equal, or one side broadcast); others keep the loop
      const pairable = batchA === batchB ? sameShape(a.shape.slice(0, -2), b.shape.slice(0, -2)) : batchA === 1 || batchB === 1;
      if (!batched || !pairable) return original({ inputs: { a: a2, b: b2 }, backend, attrs: plain });
      const [M, K] = a2.shape.slice(-2);
      const N = b2.shape[b2.shape.length - 1];
      const reshape = (t: tf.TensorInfo, shape: number[]) => tmp(kernel('Reshape')({ inputs: { x: t }, backend, attrs: { shape } }) as tf.TensorInfo);
      // Slice and Concat on wasm copy their whole input through JS (readSync) on every call: copy heap ranges instead
      const slice = (t: tf.TensorInfo, i: number, r: number, c: number): tf.TensorInfo => {
        const out = be.makeOutput([1, r, c], 'float32');
        const src = be.typedArrayFromHeap(t) as Float32Array; // after makeOutput, which may grow the heap
        (be.typedArrayFromHeap(out) as Float32Array).set(src.subarray(i * r * c, (i + 1) * r * c));
        return out;
      };
      const a3 = reshape(a2, [batchA, M, K]);
      const b3 = reshape(b2, [batchB, K, N]);
      const n = Math.max(batchA, batchB);
      const joined = tmp(be.makeOutput([n, M, N], 'float32'));
      for (let i = 0; i < n; i++) {
        // a broadcast side is passed whole, so XNNPACK packs it once for all entries
        const ai = batchA === 1 ? a3 : slice(a3, i, M, K);
        const bi = batchB === 1 ? b3 : slice(b3, i, K, N);
        let part: tf.TensorInfo | null = null;
        try {
          part = original({ inputs: { a: ai, b: bi }, backend, attrs: plain }) as tf.TensorInfo;
          const dst = be.typedArrayFromHeap(joined) as Float32Array;
          dst.set(be.typedArrayFromHeap(part) as Float32Array, i * M * N);
        } finally {
          if (ai !== a3) be.disposeData(ai.dataId);
          if (bi !== b3) be.disposeData(bi.dataId);
          if (part) be.disposeData(part.dataId);
        }
      }
      return kernel('Reshape')({ inputs: { x: joined }, backend, attrs: { shape: [...outBatch, M, N] } }) as tf.TensorInfo;
    } finally {
      for (const t of temps) be.disposeData(t.dataId);
    }
  };
}

function sizeOf(shape: number[]): number {
  return shape.reduce((x, y) => x * y, 1);
}

function sameShape(x: number[], y: number[]): boolean {
  return x.length === y.length && x.every((d, i) => d === y[i]);
}

/**
 * (c) wasm's Identity copies its input. tf.clone is Identity, and the engine clones every tensor it saves for the
 * backward pass, so a training step held a copy of each weight per use (GPT-2 small: ~1.3 GB of copies at
 * [1,128]) and ran the 4 GiB heap out. Tensors are immutable (a Variable's assign swaps in a new dataId) and the wasm
 * backend reference-counts dataIds, so sharing is safe — it is what the cpu backend's Identity does.
 */
function shareIdentity(original: KernelFunc): KernelFunc {
  return (args: Args) => {
    const x = (args.inputs as { x: tf.TensorInfo }).x;
    if (x.dtype === 'string') return original(args);
    (args.backend as BackendWasm).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
}
/** Register the fixes once; safe to call before or after the wasm backend is initialised. */
export function registerWasmFixes(): void {
  if (registered) return;
  registered = true;
  if (!tf.getKernel('UnsortedSegmentSum', 'wasm')) {
    tf.registerKernel({ kernelName: 'UnsortedSegmentSum', backendName: 'wasm', kernelFunc: unsortedSegmentSum as KernelFunc });
  }
  const id = tf.getKernel('Identity', 'wasm');
  if (id) {
    tf.unregisterKernel('Identity', 'wasm');
    tf.registerKernel({ ...id, kernelFunc: shareIdentity(id.kernelFunc) });
  }
  const mm = tf.getKernel('BatchMatMul', 'wasm');
  if (mm) {
    tf.unregisterKernel('BatchMatMul', 'wasm');
    tf.registerKernel({ ...mm, kernelFunc: wrapBatchMatMul(mm.kernelFunc) });
  }
}
