/**
 * The training loss (training/loss.ts weightedLmLoss) with and without DFT weighting, against a direct float64
 * computation written here from the definition:
 *   ℓ_n = logsumexp(z_n) − z_n[y_n]   (z_n: the logits at position t−1 of each row, y_n: token t)
 *   plain:  L = Σ_n w_n ℓ_n / Σ_n w_n
 *   DFT:    L = Σ_n w_n sg(p_n) ℓ_n / Σ_n w_n,   p_n = e^{−ℓ_n}   (yongliang-wu/DFT: loss · probs.detach(), summed
 *           over the loss mask and divided by the mask's token count)
 *   ∂L/∂z_n,v = (c_n / W)(softmax(z_n)_v − [v = y_n]),  c_n = w_n (plain) or w_n p_n (DFT: p_n is a constant)
 * The DFT gradient must not contain the derivative of p_n itself; the test checks it differs from the gradient of
 * Σ w p ℓ / W taken through p.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../../main/engine/compute/backend';
import { weightedLmLoss } from '../../../main/engine/training/loss';

const B = 2;
const T = 5;
const V = 7;

/** deterministic pseudo-random numbers (LCG), so the case is the same on every run */
function numbers(n: number, seed: number, scale: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32 - 0.5) * 2 * scale;
  });
}

const logits = numbers(B * T * V, 7, 3);
const ids = Int32Array.from(numbers(B * T, 11, 1), (x) => Math.floor((x + 1) * 3.5) % V);
// position 0 predicts nothing; a prompt token (0) and a response token weighted 1 in each row
const weights = Float32Array.from([0, 0, 1, 1, 1, /* row 2 */ 0, 1, 0, 1, 1]);

/** per row n = (b, t < T−1): ℓ_n, softmax(z_n), target, weight — in float64 */
function direct() {
  const rows: Array<{ loss: number; soft: number[]; y: number; w: number; at: number }> = [];
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T - 1; t++) {
      const at = (b * T + t) * V;
      const z = Array.from(logits.subarray(at, at + V), Number);
      const m = Math.max(...z);
      const lse = m + Math.log(z.reduce((a, v) => a + Math.exp(v - m), 0));
      const y = ids[b * T + t + 1]!;
      rows.push({ loss: lse - z[y]!, soft: z.map((v) => Math.exp(v - lse)), y, w: weights[b * T + t + 1]!, at });
    }
  }
  const W = rows.reduce((a, r) => a + r.w, 0);
  return { rows, W };
}

function expected(dft: boolean): { loss: number; grad: Float64Array } {
  const { rows, W } = direct();
  const grad = new Float64Array(B * T * V);
  let loss = 0;
  for (const r of rows) {
    const c = r.w * (dft ? Math.exp(-r.loss) : 1);
    loss += (c * r.loss) / W;
    for (let v = 0; v < V; v++) grad[r.at + v] = (c / W) * (r.soft[v]! - (v === r.y ? 1 : 0));
  }
  return { loss, grad };
}

function computed(dft: boolean): { loss: number; grad: Float32Array; weightSum: number } {
  const z = tf.tensor3d(logits, [B, T, V]);
  const g = tf.grad((x: tf.Tensor) => weightedLmLoss(x as tf.Tensor3D, ids, weights, B, T, { dft }).loss)(z);
  const r = weightedLmLoss(z, ids, weights, B, T, { dft });
  const out = { loss: r.loss.dataSync()[0]!, grad: g.dataSync() as Float32Array, weightSum: r.weightSum };
  tf.dispose([z, g, r.loss]);
  return out;
}

beforeAll(async () => {
  await initBackend();
});

describe('training loss (weightedLmLoss)', () => {
  for (const dft of [false, true]) {
    it(`${dft ? 'DFT' : 'plain'}: loss and gradient equal the direct computation`, () => {
      const want = expected(dft);
      const got = computed(dft);
      expect(got.weightSum).toBe(6);
      expect(Math.abs(got.loss - want.loss)).toBeLessThanOrEqual(1e-5 * Math.abs(want.loss));
      let scale = 0;
      for (const v of want.grad) scale = Math.max(scale, Math.abs(v));
      expect(scale).toBeGreaterThan(0);
      want.grad.forEach((v, i) => expect(Math.abs(got.grad[i]! - v), `entry ${i}`).toBeLessThanOrEqual(1e-5 * scale));
      // rows with weight 0 (and every row's last position) get no gradient
      for (let b = 0; b < B; b++) {
        for (let t = 0; t < T; t++) {
          const w = t < T - 1 ? weights[b * T + t + 1]! : 0;
          if (w === 0) for (let v = 0; v < V; v++) expect(got.grad[(b * T + t) * V + v]).toBe(0);
        }
      }
    });
  }

  it('DFT weights each token by its probability, stopped: smaller than the plain loss, and not the gradient through p', () => {
    const plain = expected(false);
    const dft = expected(true);
    expect(dft.loss).toBeLessThan(plain.loss);
    // the gradient of Σ w p ℓ / W with p differentiated too: ∂(pℓ)/∂z = p(1 − ℓ)(softmax − onehot)
    const { rows, W } = direct();
    const through = new Float64Array(B * T * V);
    for (const r of rows) {
      const p = Math.exp(-r.loss);
      for (let v = 0; v < V; v++) through[r.at + v] = ((r.w * p * (1 - r.loss)) / W) * (r.soft[v]! - (v === r.y ? 1 : 0));
    }
    const got = computed(true).grad;
    let diff = 0;
    through.forEach((v, i) => (diff = Math.max(diff, Math.abs(got[i]! - v))));
    expect(diff).toBeGreaterThan(1e-3);
  });
});
