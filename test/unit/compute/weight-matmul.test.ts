/** Weight products on wasm (cached transposed copies for frozen weights, fresh copies for variables) against cpu. */
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../main/engine/compute/backend';
import { dropWeightCopies, weightMatMul } from '../../../main/engine/compute/weight-matmul';
import { conv1d, linear } from '../../../main/engine/models/layers';

function rand(seed: number, n: number): Float32Array {
  let a = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    return a / 2 ** 32 - 0.5;
  });
}

/** y, dy/dx, dy/dw, dy/db of sum(y * r) for nn.Linear (w [6,5]) and Conv1D (w [5,6]) layouts */
async function run(backend: 'cpu' | 'wasm', asVariable: boolean): Promise<number[][]> {
  await initBackend(backend);
  const x = tf.tensor3d(rand(1, 2 * 3 * 5), [2, 3, 5]);
  const out: number[][] = [];
  for (const outIn of [true, false]) {
    const w0 = tf.tensor2d(rand(outIn ? 2 : 3, 30), outIn ? [6, 5] : [5, 6]);
    const b0 = tf.tensor1d(rand(4, 6));
    const r = tf.tensor3d(rand(5, 36), [2, 3, 6]);
    const w = asVariable ? tf.variable(w0) : w0;
    const b = asVariable ? tf.variable(b0) : b0;
    const f = (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) =>
      tf.sum(tf.mul(outIn ? linear(xx as tf.Tensor3D, ww, bb) : conv1d(xx as tf.Tensor3D, ww, bb), r)) as tf.Scalar;
    const y = outIn ? linear(x, w, b) : conv1d(x, w, b);
    const g = tf.grads(f)([x, w, b]);
    out.push(Array.from(y.dataSync()), ...g.map((t) => Array.from(t.dataSync())));
    dropWeightCopies([w]);
    tf.dispose([w0, b0, r, y, ...g, ...(asVariable ? [w, b] : [])]);
  }
  x.dispose();
  return out;
}

describe('weightMatMul on wasm', () => {
  afterAll(async () => {
    await initBackend('cpu');
  });

  it.each([
    ['frozen tensors (cached transposed copy)', false],
    ['tf.Variables (fresh copy per product)', true],
  ])('%s: values and gradients (x, weight, bias) match cpu', async (_l, asVariable) => {
    const cpu = await run('cpu', asVariable as boolean);
    const wasm = await run('wasm', asVariable as boolean);
    expect(wasm.length).toBe(cpu.length);
    cpu.forEach((arr, i) => {
      const worst = arr.reduce((m, v, j) => Math.max(m, Math.abs(v - wasm[i]![j]!)), 0);
      expect(worst, `output ${i}`).toBeLessThan(1e-5);
    });
  });

  it('takes the wasm path only on wasm, and leaves no tensors behind once copies are dropped', async () => {
    await initBackend('cpu');
    const x = tf.ones([2, 3]) as tf.Tensor2D;
    const w = tf.ones([4, 3]);
    expect(weightMatMul(x, w, true)).toBeNull();
    await initBackend('wasm');
    const before = tf.memory().numTensors;
    const xs = tf.ones([2, 3]) as tf.Tensor2D;
    const ws = tf.ones([4, 3]);
    const y = weightMatMul(xs, ws, true)!;
    expect(y.shape).toEqual([2, 4]);
    expect(Array.from(y.dataSync())).toEqual(Array(8).fill(3));
    dropWeightCopies([ws]);
    tf.dispose([xs, ws, y]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, w]);
  });
});
