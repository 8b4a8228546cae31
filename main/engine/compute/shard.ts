/**
 * Weights larger than one GPU buffer. WebGPU caps a single binding (maxStorageBufferBindingSize, SwiftShader 1 GiB,
 * many drivers 2–4 GiB, the WebGPU default 128 MiB) and a single buffer (maxBufferSize). A Qwen2.5-0.5B embedding,
 * 151,936 × 896 float32 = 545 MB, and Llama-3.2-1B's (128,256 × 2,048 = 1.05 GB) exceed some of them.
 *
 * On webgpu a weight over the limit is split by vocabulary rows into shards that each fit; the embedding lookup
 * gathers from every shard (rows outside a shard read as 0, so the sum is the one real row, exactly) and the output
 * head concatenates each shard's logits. tfjs-backend-webgpu uploads a tensor on first use, so the whole weight
 * stays in host memory and only its shards reach the GPU.
 * WINNOW_WEBGPU_MAX_BUFFER_BYTES lowers the limit (tests shard a tiny model's embedding with it).
 */
import * as tf from '@tensorflow/tfjs';
import { WinnowError } from '../util/errors';
import { webgpuAdapter } from './webgpu';

/** The largest single tensor the current backend takes, in bytes; null when unlimited (not webgpu). */
export function bufferLimitBytes(): number | null {
  const a = webgpuAdapter();
  if (!a) return null;
  let limit = Math.min(a.maxStorageBufferBindingSize, a.maxBufferSize);
  const cap = Number(process.env.WINNOW_WEBGPU_MAX_BUFFER_BYTES);
  if (Number.isFinite(cap) && cap > 0) limit = Math.min(limit, cap);
  return limit;
}

const shards = new Map<tf.Tensor, tf.Tensor2D[]>();

const mib = (n: number) => `${(n / 2 ** 20).toFixed(0)} MiB`;

/**
 * The row shards of a 2-D weight over the buffer limit, or null when it fits (or the backend has no limit). Cached
 * while the weight lives. A trainable weight (tf.Variable) over the limit cannot be split: refused with the figures.
 */
export function shardsOf(w: tf.Tensor): tf.Tensor2D[] | null {
  const limit = bufferLimitBytes();
  if (limit === null || w.rank !== 2 || w.size * 4 <= limit) return null;
  const hit = shards.get(w);
  if (hit) return hit;
  for (const [k, v] of shards) {
    if (k.isDisposed) {
      tf.dispose(v);
      shards.delete(k);
    }
  }
  const [rows, cols] = w.shape as [number, number];
  if (w instanceof tf.Variable) {
    throw new WinnowError(
      'too_large',
      `the trainable tensor ${w.name} [${rows}, ${cols}] is ${mib(w.size * 4)}, over this GPU's ${mib(limit)} buffer limit; ` +
        'train fewer layers (leave the embedding and output head frozen) or use another backend (WINNOW_BACKEND=wasm)',
    );
  }
  let values: Float32Array;
  try {
    values = w.dataSync() as Float32Array; // still in host memory: not uploaded yet (see above)
  } catch {
    return null; // already on the GPU, so it fitted when it was uploaded
  }
  const perShard = Math.max(1, Math.floor(limit / (cols * 4)));
  const out: tf.Tensor2D[] = [];
  for (let r = 0; r < rows; r += perShard) {
    const n = Math.min(perShard, rows - r);
    out.push(tf.engine().tidy(() => tf.keep(tf.tensor2d(values.slice(r * cols, (r + n) * cols), [n, cols]))));
  }
  shards.set(w, out);
  return out;
}

/** tf.gather(table, ids) over a table that may be sharded: [..ids.shape, cols]. */
export function gatherRows(table: tf.Tensor, ids: tf.Tensor): tf.Tensor {
  const parts = shardsOf(table);
  if (!parts) return tf.gather(table, ids);
  return tf.tidy(() => {
    let out: tf.Tensor | null = null;
    let offset = 0;
    for (const s of parts) {
      const n = s.shape[0];
      const local = tf.sub(ids, tf.scalar(offset, 'int32'));
      const inside = tf.logicalAnd(tf.greaterEqual(local, tf.scalar(0, 'int32')), tf.less(local, tf.scalar(n, 'int32')));
      const idx = tf.minimum(tf.maximum(local, tf.scalar(0, 'int32')), tf.scalar(n - 1, 'int32'));
      const g = tf.mul(tf.gather(s, idx), tf.expandDims(tf.cast(inside, 'float32'), -1));
      out = out ? tf.add(out, g) : g;
      offset += n;
    }
    return out!;
  });
}

/** x [N, in] @ W^T for W [out, in] that may be sharded by rows: [N, out]. */
export function matMulRowsT(x: tf.Tensor2D, w: tf.Tensor): tf.Tensor2D | null {
  const parts = shardsOf(w);
  if (!parts) return null;
  return tf.tidy(() => tf.concat(parts.map((s) => tf.matMul(x, s, false, true)), 1) as tf.Tensor2D);
}

/** Drop every cached shard (tests). */
export function dropShards(): void {
  for (const v of shards.values()) tf.dispose(v);
  shards.clear();
}
