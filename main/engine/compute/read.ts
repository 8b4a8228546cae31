/**
 * Reading tensors back to JS. Every read is asynchronous: tfjs-backend-webgpu's synchronous reads (dataSync,
 * arraySync) go through an OffscreenCanvas, which Node lacks, and on a GPU each read waits for the queue to drain.
 * So reads are batched: the float32 tensors of one step are flattened into one buffer, read once, and split again.
 */
import * as tf from '@tensorflow/tfjs';

/**
 * Read several tensors with a single GPU round trip. Returns one Float32Array per input (int/bool tensors are
 * cast to float32 first; exact for values under 2^24). The inputs are not disposed.
 */
export async function readAll(tensors: tf.Tensor[]): Promise<Float32Array[]> {
  if (!tensors.length) return [];
  if (tensors.length === 1) {
    const t = tensors[0]!;
    if (t.dtype === 'float32') return [Float32Array.from((await t.data()) as Float32Array)];
  }
  const joined = tf.tidy(() => tf.concat(tensors.map((t) => tf.reshape(t.dtype === 'float32' ? t : tf.cast(t, 'float32'), [-1]))));
  try {
    const all = (await joined.data()) as Float32Array;
    const out: Float32Array[] = [];
    let at = 0;
    for (const t of tensors) {
      out.push(all.slice(at, at + t.size));
      at += t.size;
    }
    return out;
  } finally {
    joined.dispose();
  }
}

/** One scalar's value (one round trip). */
export async function readScalar(t: tf.Tensor): Promise<number> {
  return ((await t.data()) as Float32Array)[0]!;
}
