/**
 * LESS-style random projection of per-example gradients (princeton-nlp/LESS less/data_selection, via trak's
 * Rademacher projector): p = Rᵀ g with R a P×d matrix of independent ±1/√d entries, so E‖p‖² = ‖g‖² and cosines
 * are kept up to O(1/√d) (Johnson–Lindenstrauss). R is never materialised: entry (i, j) is a bit of a hash of
 * (seed, i, ⌊j/32⌋), generated chunk by chunk of rows, and every chunk is used for all the gradients of a batch at
 * once (one [B, c] × [c, d] matmul), so generating it costs P·d/B per example.
 * Row i runs over the chosen tensors in the order given (the model's checkpoint order), row-major within a tensor.
 */
import * as tf from '@tensorflow/tfjs';

/** d on CPU / wasm (LESS uses 8192 on GPU) */
export const DEFAULT_GRAD_DIM = 1024;
/** sign-matrix elements generated per chunk (4 MiB of float32) */
const CHUNK_ELEMENTS = 1 << 20;

/** murmur3's 32-bit finaliser: every input bit flips each output bit with probability ≈ 1/2 */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function rowKey(seed: number, i: number): number {
  // i may exceed 2³²/0x9e3779b9: split it so every row of a large model gets its own key
  return fmix32(Math.imul(seed ^ 0x5bd1e995, 0x9e3779b1) ^ fmix32(i % 0x100000000) ^ Math.imul(Math.floor(i / 0x100000000), 0x27d4eb2f));
}

/** The 32 signs of row i, columns 32w..32w+31: bit b set ⇔ R[i, 32w+b] = +1/√d. */
export function signWord(seed: number, i: number, w: number): number {
  return fmix32(rowKey(seed, i) + Math.imul(w + 1, 0x9e3779b9));
}

/** R[i, j]·√d ∈ {+1, −1}: the definition, one entry at a time (tests build R from it). */
export function rademacherSign(seed: number, i: number, j: number): 1 | -1 {
  return (signWord(seed, i, j >>> 5) >>> (j & 31)) & 1 ? 1 : -1;
}

/**
 * Project B gradients (each a row of P values, in the same parameter order) to d dimensions.
 * @returns B vectors of length d (float64 sums of float32 chunk products)
 */
export function projectRows(rows: Float32Array[], d: number, seed: number): Float64Array[] {
  const B = rows.length;
  const out = rows.map(() => new Float64Array(d));
  if (B === 0) return out;
  const P = rows[0]!.length;
  const words = Math.ceil(d / 32);
  const c = Math.max(1, Math.floor(CHUNK_ELEMENTS / d));
  const signs = new Float32Array(c * d);
  const g = new Float32Array(B * c);
  const scale = 1 / Math.sqrt(d);
  for (let i0 = 0; i0 < P; i0 += c) {
    const n = Math.min(c, P - i0);
    for (let r = 0; r < n; r++) {
      const key = rowKey(seed, i0 + r);
      const base = r * d;
      for (let w = 0; w < words; w++) {
        const bits = fmix32(key + Math.imul(w + 1, 0x9e3779b9));
        const j0 = w * 32;
        const m = Math.min(32, d - j0);
        for (let b = 0; b < m; b++) signs[base + j0 + b] = ((bits >>> b) & 1) * 2 - 1;
      }
    }
    for (let b = 0; b < B; b++) g.set(rows[b]!.subarray(i0, i0 + n), b * n);
    const prod = tf.tidy(() => tf.matMul(tf.tensor2d(g.subarray(0, B * n), [B, n]), tf.tensor2d(signs.subarray(0, n * d), [n, d])));
    const v = prod.dataSync() as Float32Array;
    prod.dispose();
    for (let b = 0; b < B; b++) {
      const o = out[b]!;
      for (let j = 0; j < d; j++) o[j] += v[b * d + j]!;
    }
  }
  for (const o of out) for (let j = 0; j < d; j++) o[j] *= scale;
  return out;
}

export function norm(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!;
  return Math.sqrt(s);
}

/** cos(a, b); null when either is the zero vector */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number | null {
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += a[i]! * b[i]!;
  const na = norm(a);
  const nb = norm(b);
  return na > 0 && nb > 0 ? dot / (na * nb) : null;
}
