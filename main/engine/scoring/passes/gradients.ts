/**
 * Gradient signals, one backward pass per example (batch 1):
 *   fim             surgical fine-tuning (ymtao5219/surgical_fine_tuning code/fim_calculator.py): F = (1/N) Σ_n g_n²
 *                   per tensor (empirical Fisher diagonal), tensor score = ‖F_tensor‖_F. A block's score is the sum over
 *                   its tensors (api/layers.ts sums layer_scores per block) — no size normalisation, as in the paper.
 *   layer_grad_norm per tensor (1/N) Σ_n ‖g_n,tensor‖₂, and per block (1/N) Σ_n ‖g_n,block‖₂ with ‖g_n,block‖₂ =
 *                   sqrt(Σ over the block's tensors of Σ g²) — the block's whole gradient, not a sum of tensor norms
 *   grad_norm       ‖g_n‖₂ over the chosen parameter set (per example)
 * where g_n = ∇ of the example's response NLL (weightedLmLoss over its label mask). For grad_norm / grad_sim it is
 * the mean over the response tokens; for fim and layer_grad_norm the run's `fimLoss` says which: 'sum' (Σ_t ℓ_t, the
 * example's log-likelihood — what fim_calculator.py differentiates: one scalar per example, no division by its
 * length) or 'mean' (Σ_t ℓ_t / T, each example's gradient 1/T of the sum's). The sum form is the mean form's
 * gradient times T (the example's label count), applied as a scale here. A tied input/output embedding is one
 * tensor and gets both uses' gradient, as in PyTorch.
 * The job (../gradient-pass.ts) drives exampleGradients + LayerAccumulator batch by batch so it can persist the sums;
 * gradientScores is the same computation in one call.
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
  /** the blocks of `names` (ascending) and, for each, the mean over examples of ‖g_block‖₂ */
  blocks: number[];
  blockGradNorm: Float64Array;
  examples: number;
}

/** The per-example loss fim and layer_grad_norm differentiate: Σ_t ℓ_t over the response ('sum') or its mean. */
export type FimLoss = 'sum' | 'mean';
export const DEFAULT_FIM_LOSS: FimLoss = 'sum';

/** How much the sum form's gradient is of the mean form's: the number of positions in the example's loss. */
export function fimScale(ex: GradientExample, form: FimLoss): number {
  if (form === 'mean') return 1;
  let n = 0;
  for (const w of lossWeights(ex.labelMask)) n += w;
  return n;
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

/** Weight of each position in the example's loss: its label mask, position 0 excluded (nothing predicts it). */
export function lossWeights(labelMask: Uint8Array): Float32Array {
  return Float32Array.from(labelMask, (m, t) => (t > 0 && m === 1 ? 1 : 0));
}

/**
 * ∇ of one example's mean response NLL (batch 1) with respect to the named weights, in `names` order; every other
 * weight is a constant. null when the example has no position to learn (its gradient is not defined: 0/0).
 * The caller disposes the returned tensors.
 */
export function exampleGradients(model: LoadedModel, ex: GradientExample, names: string[]): tf.Tensor[] | null {
  const T = ex.tokenIds.length;
  const weights = lossWeights(ex.labelMask);
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

/** Σ g² over each tensor, in order (one read back for all of them). */
export async function squaredNorms(grads: tf.Tensor[]): Promise<Float64Array> {
  const s = tf.tidy(() => tf.stack(grads.map((g) => tf.sum(tf.square(g)))));
  const d = (await s.data()) as Float32Array;
  s.dispose();
  return Float64Array.from(d);
}

/**
 * The running sums of fim and layer_grad_norm: Σ_n g_n² per tensor (float32, on the backend), Σ_n ‖g_n‖ per tensor and
 * Σ_n ‖g_n,block‖ per block (float64).
 */
export interface LayerSums {
  sq: Float32Array[];
  normSum: Float64Array;
  blockNormSum: Float64Array;
  count: number;
}

/**
 * Accumulates fim / layer_grad_norm over examples. `sums()` reads the running state back exactly (float32 sums as
 * stored, float64 norm sums), and a new accumulator built from it continues bit for bit: a resumed pass ends with
 * the same values as an uninterrupted one.
 */
export class LayerAccumulator {
  private acc: tf.Tensor[];
  private readonly normSum: Float64Array;
  private readonly blockNormSum: Float64Array;
  /** the blocks of `names`, ascending; blockAt[k]: index into it of tensor k's block (−1: not in a block) */
  readonly blocks: number[];
  private readonly blockAt: Int32Array;
  private n: number;

  constructor(readonly names: string[], model: LoadedModel, from?: LayerSums) {
    this.acc = names.map((name, k) => {
      const w = model.weights[name]!;
      return from ? tf.tensor(from.sq[k]!, w.shape, 'float32') : tf.zerosLike(w);
    });
    const blockOf = new Map(model.tensors.map((t) => [t.name, t.block]));
    this.blocks = [...new Set(names.map((n) => blockOf.get(n)).filter((b): b is number => b !== null && b !== undefined))].sort((a, b) => a - b);
    this.blockAt = Int32Array.from(names, (n) => {
      const b = blockOf.get(n);
      return b === null || b === undefined ? -1 : this.blocks.indexOf(b);
    });
    this.normSum = from ? Float64Array.from(from.normSum) : new Float64Array(names.length);
    this.blockNormSum = from ? Float64Array.from(from.blockNormSum) : new Float64Array(this.blocks.length);
    this.n = from?.count ?? 0;
  }

  get count(): number {
    return this.n;
  }

  /**
   * Add one example's gradients (in `names` order) and, already computed, their Σ g² per tensor. `scale` multiplies
   * the gradient first (fimScale: the sum form from the mean form's gradient).
   */
  add(grads: tf.Tensor[], sqNorms: Float64Array, scale = 1): void {
    const blockSq = new Float64Array(this.blocks.length);
    for (let k = 0; k < this.names.length; k++) {
      // the norm from the float32 sum, as the single-call version always did
      const sq = Math.fround(sqNorms[k]!) * scale * scale;
      this.normSum[k] += Math.sqrt(sq);
      if (this.blockAt[k]! >= 0) blockSq[this.blockAt[k]!] += sq;
      const next = tf.tidy(() => tf.add(this.acc[k]!, scale === 1 ? tf.square(grads[k]!) : tf.mul(tf.square(grads[k]!), scale * scale)));
      this.acc[k]!.dispose();
      this.acc[k] = next;
    }
    for (let b = 0; b < blockSq.length; b++) this.blockNormSum[b] += Math.sqrt(blockSq[b]!);
    this.n++;
  }

  async sums(): Promise<LayerSums> {
    const sq = await Promise.all(this.acc.map(async (a) => Float32Array.from((await a.data()) as Float32Array)));
    return { sq, normSum: Float64Array.from(this.normSum), blockNormSum: Float64Array.from(this.blockNormSum), count: this.n };
  }

  async scores(): Promise<GradientScores> {
    const N = Math.max(1, this.n);
    const fro = tf.tidy(() => tf.sqrt(tf.stack(this.acc.map((a) => tf.sum(tf.square(tf.div(a, N)))))));
    const fim = Float64Array.from((await fro.data()) as Float32Array);
    fro.dispose();
    return {
      names: this.names, fim, gradNorm: this.normSum.map((s) => s / N),
      blocks: this.blocks, blockGradNorm: this.blockNormSum.map((s) => s / N), examples: this.n,
    };
  }

  dispose(): void {
    for (const a of this.acc) a.dispose();
    this.acc = [];
  }
}

/**
 * fim and layer_grad_norm over `examples` in one call (every tensor).
 * @param onExample called after each example; returning false stops early (cancel) and returns null.
 */
export async function gradientScores(
  model: LoadedModel,
  examples: GradientExample[],
  onExample?: (done: number) => boolean | void,
  form: FimLoss = DEFAULT_FIM_LOSS,
): Promise<GradientScores | null> {
  const names = Object.keys(model.weights);
  const acc = new LayerAccumulator(names, model);
  try {
    for (let i = 0; i < examples.length; i++) {
      const grads = exampleGradients(model, examples[i]!, names);
      if (grads) {
        acc.add(grads, await squaredNorms(grads), fimScale(examples[i]!, form));
        tf.dispose(grads);
      }
      if (onExample?.(i + 1) === false) return null;
      await new Promise((r) => setImmediate(r));
    }
    return await acc.scores();
  } finally {
    acc.dispose();
  }
}
