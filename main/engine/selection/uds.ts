/**
 * UDS (Utility-Diversity Sampling, gfyddha/UDS): online batch selection from one forward pass, with no reference
 * model and no validation set. For an example with logits matrix X (its T real positions × V):
 *   utility (and intra-sample diversity) u = ‖X‖_* = Σ σ_i(X), computed as Σ √λ_i(X Xᵀ): the T×T Gram matrix is
 *   formed on the device and only it is read back, its eigenvalues by cyclic Jacobi;
 *   inter-sample diversity d = mean Euclidean distance of a low-dimensional sketch of X to the sketches in a FIFO
 *   memory buffer of earlier kept examples (0 while the buffer is empty);
 *   score = u + λ·d; each batch keeps its top ⌈keep·B⌉ (at least 1), whose sketches then enter the buffer.
 * The sketch is R₁ X R₂ with seeded Rademacher matrices R₁ (r₁ × maxTokens, ±1/√r₁, rows past T unused) and
 * R₂ (V × r₂, ±1/√r₂): a Johnson–Lindenstrauss map like UDS's FFT projector (same defaults r₁ = 8, r₂ = 128,
 * λ = 2.5e-3, buffer 1024). Unlike UDS's padded batch, X holds only the example's own positions, so a score does not
 * depend on which examples share its batch.
 */
import * as tf from '@tensorflow/tfjs';
import { embed, finalNorm, lmHead, runBlocks, type LoadedModel } from '../models';
import type { LoraHook } from '../models/lora';
import { readAll } from '../compute/read';
import { mulberry32 } from '../util/random';

export interface UdsOptions {
  /** share of each batch kept, (0, 1] */
  keep: number;
  bufferSize: number;
  lambda: number;
  seed: number;
}

export const UDS_SKETCH = { r1: 8, r2: 128 };

/** Eigenvalues of a symmetric n×n matrix (row-major, copied) by cyclic Jacobi rotations. */
export function symmetricEigenvalues(m: Float64Array, n: number, tol = 1e-12, maxSweeps = 60): Float64Array {
  const a = Float64Array.from(m);
  for (let sweep = 0; sweep < maxSweeps; sweep++) {
    let off = 0;
    let diag = 0;
    for (let i = 0; i < n; i++) {
      diag += a[i * n + i]! * a[i * n + i]!;
      for (let j = i + 1; j < n; j++) off += a[i * n + j]! * a[i * n + j]!;
    }
    if (off <= tol * tol * Math.max(diag, 1e-300)) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q]!;
        if (apq === 0) continue;
        const app = a[p * n + p]!;
        const aqq = a[q * n + q]!;
        const theta = (aqq - app) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p]!;
          const akq = a[k * n + q]!;
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k]!;
          const aqk = a[q * n + k]!;
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
      }
    }
  }
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = a[i * n + i]!;
  return out;
}

/** ‖X‖_* from the Gram matrix G = X Xᵀ (n×n): Σ √max(λ_i, 0). */
export function nuclearNormFromGram(gram: ArrayLike<number>, n: number): number {
  const eig = symmetricEigenvalues(Float64Array.from(gram), n);
  let s = 0;
  for (const l of eig) s += Math.sqrt(Math.max(l, 0));
  return s;
}

/** Seeded ±1/√r Rademacher matrix, rows × cols, row-major. */
export function rademacher(rows: number, cols: number, seed: number, r: number): Float32Array {
  const rand = mulberry32(seed);
  const out = new Float32Array(rows * cols);
  const v = 1 / Math.sqrt(r);
  for (let i = 0; i < out.length; i++) out[i] = rand() < 0.5 ? -v : v;
  return out;
}

/** The FIFO memory buffer of kept examples' sketches and the per-batch choice. */
export class UdsSelector {
  private buffer: Float32Array[] = [];
  private next = 0;
  constructor(readonly opts: UdsOptions) {}

  /** mean Euclidean distance of `sketch` to the buffer; 0 when it is empty */
  diversity(sketch: Float32Array): number {
    if (!this.buffer.length) return 0;
    let sum = 0;
    for (const b of this.buffer) {
      let d = 0;
      for (let i = 0; i < sketch.length; i++) d += (sketch[i]! - b[i]!) ** 2;
      sum += Math.sqrt(d);
    }
    return sum / this.buffer.length;
  }

  get size(): number {
    return this.buffer.length;
  }

  /** How many rows of a batch of B the selector keeps. */
  keepCount(B: number): number {
    return Math.min(B, Math.max(1, Math.ceil(this.opts.keep * B - 1e-9)));
  }

  /**
   * The kept rows of one batch (indices, best first; ties to the lower index) and every row's scores. All rows are
   * scored against the buffer as it was before the batch; then the kept ones enter it, oldest out first.
   */
  select(utility: number[], sketches: Float32Array[]): { kept: number[]; scores: number[]; diversity: number[] } {
    const diversity = sketches.map((s) => this.diversity(s));
    const scores = utility.map((u, i) => u + this.opts.lambda * diversity[i]!);
    const order = scores.map((s, i) => i).sort((a, b) => scores[b]! - scores[a]! || a - b);
    const kept = order.slice(0, this.keepCount(utility.length));
    for (const i of kept) {
      if (this.buffer.length < this.opts.bufferSize) this.buffer.push(sketches[i]!);
      else {
        this.buffer[this.next] = sketches[i]!;
        this.next = (this.next + 1) % this.opts.bufferSize;
      }
    }
    return { kept, scores, diversity };
  }
}

export interface UdsRow {
  ids: Int32Array;
}

/**
 * One forward pass over a batch (no gradient): per row, the nuclear norm of its logits over its own positions and
 * its sketch R₁ X R₂ (see above). R₁ and R₂ come from `seed`, so a run and a subset rule with one seed sketch alike.
 */
export async function udsScoreBatch(
  model: LoadedModel,
  weights: Record<string, tf.Tensor>,
  batch: UdsRow[],
  opts: { padId: number; maxTokens: number; seed: number; lora?: LoraHook },
): Promise<{ utility: number[]; sketches: Float32Array[] }> {
  const cfg = model.config;
  const B = batch.length;
  const lens = batch.map((e) => Math.min(e.ids.length, opts.maxTokens));
  const T = Math.max(...lens);
  const ids = new Int32Array(B * T).fill(opts.padId);
  const attn = new Int32Array(B * T);
  batch.forEach((e, b) => {
    ids.set(e.ids.subarray(0, lens[b]), b * T);
    attn.fill(1, b * T, b * T + lens[b]!);
  });
  const { r1, r2 } = UDS_SKETCH;
  const outs = tf.tidy(() => {
    const idsT = tf.tensor2d(ids, [B, T], 'int32');
    const attnT = tf.tensor2d(attn, [B, T], 'int32');
    const h = runBlocks(cfg, weights, embed(cfg, weights, idsT), 0, cfg.numLayers, attnT, undefined, opts.lora);
    const logits = lmHead(cfg, weights, finalNorm(cfg, weights, h));
    const V = logits.shape[2];
    const R1 = tf.tensor2d(rademacher(r1, opts.maxTokens, opts.seed * 2 + 1, r1), [r1, opts.maxTokens]);
    const R2 = tf.tensor2d(rademacher(V, r2, opts.seed * 2 + 2, r2), [V, r2]);
    const out: tf.Tensor[] = [];
    for (let b = 0; b < B; b++) {
      const X = logits.slice([b, 0, 0], [1, lens[b]!, V]).reshape([lens[b]!, V]) as tf.Tensor2D;
      out.push(tf.matMul(X, X, false, true));
      out.push(tf.matMul(R1.slice([0, 0], [r1, lens[b]!]), tf.matMul(X, R2)));
    }
    return out;
  });
  const read = await readAll(outs);
  tf.dispose(outs);
  const utility: number[] = [];
  const sketches: Float32Array[] = [];
  for (let b = 0; b < B; b++) {
    utility.push(nuclearNormFromGram(read[2 * b]!, lens[b]!));
    sketches.push(read[2 * b + 1]!);
  }
  return { utility, sketches };
}
