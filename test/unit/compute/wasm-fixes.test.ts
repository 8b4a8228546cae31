/** Each wasm kernel fix against the cpu backend's own kernels. */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../main/engine/compute/backend';

function rand(seed: number, shape: number[]): number[] {
  let a = seed >>> 0;
  const n = shape.reduce((x, y) => x * y, 1);
  return Array.from({ length: n }, () => {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    return a / 2 ** 32 - 0.5;
  });
}

/** Run fn on a backend with fresh tensors from plain arrays; returns plain arrays. */
async function on(backend: 'cpu' | 'wasm', fn: () => tf.Tensor | tf.Tensor[]): Promise<number[][]> {
  await initBackend(backend);
  expect(tf.getBackend()).toBe(backend);
  return tf.tidy(() => {
    const out = fn();
    return (Array.isArray(out) ? out : [out]).map((t) => Array.from(t.dataSync()));
  });
}

function close(a: number[][], b: number[][], tol: number): void {
  expect(a.length).toBe(b.length);
  a.forEach((arr, i) => {
    expect(arr.length).toBe(b[i].length);
    const worst = arr.reduce((m, v, j) => Math.max(m, Math.abs(v - b[i][j])), 0);
    expect(worst).toBeLessThan(tol);
  });
}

describe('wasm kernel fixes', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('UnsortedSegmentSum exists on wasm and matches cpu (float and int, rows of any shape, dropped ids)', async () => {
    const run = () => {
      const x = tf.tensor(rand(1, [6, 3, 2]), [6, 3, 2]);
      const seg = tf.tensor1d([0, 2, 2, 4, -1, 0], 'int32');
      const xi = tf.tensor2d([[1, 2], [3, 4], [5, 6]], [3, 2], 'int32');
      return [tf.unsortedSegmentSum(x, seg, 5), tf.unsortedSegmentSum(xi, tf.tensor1d([1, 1, 0], 'int32'), 2)];
    };
    const cpu = await on('cpu', run);
    const wasm = await on('wasm', run);
    close(wasm, cpu, 1e-6);
    expect(wasm[1]).toEqual([5, 6, 4, 6]);
  });

  it("tf.gather's gradient (embedding lookup) works on wasm and matches cpu", async () => {
    const run = () => {
      const table = tf.tensor2d(rand(2, [10, 4]), [10, 4]);
      const ids = tf.tensor2d([[1, 3, 3], [9, 0, 1]], [2, 3], 'int32');
      const w = tf.tensor(rand(3, [2, 3, 4]), [2, 3, 4]);
      const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, ids), w)))(table);
      return [g];
    };
    close(await on('wasm', run), await on('cpu', run), 1e-6);
  });

  it('BatchMatMul with transposeA/transposeB (2-D, batched, broadcast) and its gradients match cpu', async () => {
    const cases: Array<[number[], number[], boolean, boolean]> = [
      [[5, 7], [9, 7], false, true],
      [[7, 5], [7, 9], true, false],
      [[7, 5], [9, 7], true, true],
      [[3, 5, 7], [3, 9, 7], false, true],
      [[2, 3, 7, 5], [2, 3, 7, 6], true, false],
      [[4, 6, 8], [5, 8], false, true], // broadcast batch
    ];
    const run = () =>
      cases.flatMap(([sa, sb, ta, tb], i) => {
        const a = tf.tensor(rand(10 + i, sa), sa);
        const b = tf.tensor(rand(20 + i, sb), sb);
        const y = tf.matMul(a, b, ta, tb);
        const grads = i < 5 ? tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.square(tf.matMul(p, q, ta, tb))))([a, b]) : [];
        return [y, ...grads];
      });
    close(await on('wasm', run), await on('cpu', run), 1e-5);
  });

  it('the transposed matmul path does not leak tensors', async () => {
    await initBackend('wasm');
    const a = tf.tensor(rand(1, [4, 8]), [4, 8]);
    const b = tf.tensor(rand(2, [6, 8]), [6, 8]);
    tf.tidy(() => tf.matMul(a, b, false, true).dataSync());
    const before = tf.memory();
    for (let i = 0; i < 5; i++) tf.tidy(() => tf.matMul(a, b, false, true).dataSync());
    expect(tf.memory().numTensors).toBe(before.numTensors);
    expect(tf.memory().numBytes).toBe(before.numBytes);
    tf.dispose([a, b]);
  });
});
