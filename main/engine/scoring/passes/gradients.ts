/**
 * Gradient signals over N examples, one backward pass per example (batch 1) through every parameter:
 *   fim             surgical fine-tuning (ymtao5219/surgical_fine_tuning code/fim_calculator.py): F = (1/N) Σ_n g_n²
 *                   per tensor (empirical Fisher diagonal), tensor score = ‖F_tensor‖_F. A block's score is the sum over
 *                   its tensors (api/layers.ts sums layer_scores per block) — no size normalisation, as in the paper.
 *   layer_grad_norm (1/N) Σ_n ‖g_n,tensor‖₂
 * where g_n = ∇ of the example's mean response NLL (weightedLmLoss over its label mask). A tied input/output
 * embedding is one tensor and gets both uses' gradient, as in PyTorch.
 */
import * as tf from '@tensorflow/tfjs';
import { forward, type LoadedModel } from '../../models';
import { weightedLmLoss } from '../../training/loss';

export interface GradientExample {
  tokenIds: Int32Array;
  labelMask: Uint8Array;
}

export interface GradientScores {
  names: string[];
  /** ‖F_tensor‖_F per tensor, in `names` order */
  fim: Float64Array;
  /** mean over examples of ‖g_tensor‖₂ */
  gradNorm: Float64Array;
  examples: number;
}

/** Deterministic choice of `n` ids (seeded Fisher–Yates over the ids in the given order; mulberry32). */
export function seededChoice<T>(items: T[], n: number, seed: number): T[] {
  const a = items.slice();
  let s = seed >>> 0;
  const rand = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const k = Math.min(n, a.length);
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(rand() * (a.length - i));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a.slice(0, k);
}

/**
 * @param onExample called after each example; returning false stops early (cancel): the caller then discards the
 *   partial sums — the pass is not resumable mid-way and restarts from its first example.
 */
export async function gradientScores(
  model: LoadedModel,
  examples: GradientExample[],
  onExample?: (done: number) => boolean | void,
): Promise<GradientScores | null> {
  const names = Object.keys(model.weights);
  const xs = names.map((n) => model.weights[n]!);
  const acc = xs.map((x) => tf.zerosLike(x));
  const normSum = new Float64Array(names.length);
  const cfg = model.config;
  try {
    for (let i = 0; i < examples.length; i++) {
      const ex = examples[i]!;
      const T = ex.tokenIds.length;
      const weights = Float32Array.from(ex.labelMask, (m, t) => (t > 0 && m === 1 ? 1 : 0));
      const sq = tf.tidy(() => {
        const ids = tf.tensor2d(ex.tokenIds, [1, T], 'int32');
        const lossOf = (...ws: tf.Tensor[]): tf.Scalar => {
          const rec: Record<string, tf.Tensor> = {};
          names.forEach((n, k) => (rec[n] = ws[k]!));
          const logits = forward(cfg, rec, ids);
          return weightedLmLoss(logits, ex.tokenIds, weights, 1, T, { dft: false }).loss;
        };
        const grads = tf.grads(lossOf)(xs);
        return grads.map((g) => tf.square(g));
      });
      const norms = tf.tidy(() => tf.sqrt(tf.stack(sq.map((s) => tf.sum(s)))));
      const nd = (await norms.data()) as Float32Array;
      norms.dispose();
      for (let k = 0; k < names.length; k++) {
        normSum[k] += nd[k]!;
        const next = tf.add(acc[k]!, sq[k]!);
        acc[k]!.dispose();
        sq[k]!.dispose();
        acc[k] = next;
      }
      if (onExample?.(i + 1) === false) return null;
      await new Promise((r) => setImmediate(r));
    }
    const N = Math.max(1, examples.length);
    const fro = tf.tidy(() => tf.sqrt(tf.stack(acc.map((a) => tf.sum(tf.square(tf.div(a, N)))))));
    const fim = Float64Array.from((await fro.data()) as Float32Array);
    fro.dispose();
    return { names, fim, gradNorm: normSum.map((s) => s / N), examples: examples.length };
  } finally {
    for (const a of acc) a.dispose();
  }
}

/**
 * ∇ of one example's mean response NLL (batch 1) with respect to the named weights, in `names` order; every other
 * weight is a constant. null when the example has no position to learn (its gradient is not defined: 0/0).
 * The caller disposes the returned tensors.
 */
export function exampleGradients(model: LoadedModel, ex: GradientExample, names: string[]): tf.Tensor[] | null {
  const T = ex.tokenIds.length;
  const weights = Float32Array.from(ex.labelMask, (m, t) => (t > 0 && m === 1 ? 1 : 0));
  if (!weights.some((w) => w > 0)) return null;
  return tf.tidy((): tf.Tensor[] => {
    const ids = tf.tensor2d(ex.tokenIds, [1, T], 'int32');
    const lossOf = (...ws: tf.Tensor[]): tf.Scalar => {
      const rec: Record<string, tf.Tensor> = { ...model.weights };
      names.forEach((n, k) => (rec[n] = ws[k]!));
      const logits = forward(model.config, rec, ids);
      return weightedLmLoss(logits, ex.tokenIds, weights, 1, T, { dft: false }).loss;
    };
    return tf.grads(lossOf)(names.map((n) => model.weights[n]!));
  });
}
