/**
 * 2-D PCA of row vectors by power iteration on the covariance (d×d), with deflation for the second component.
 * The covariance is accumulated in one pass over the rows, so memory is O(d²) plus the output; 100k × 64-dim
 * embeddings took ~2 s on a busy 2-core machine (the covariance pass dominates).
 */

export interface Projection {
  /** n × 2, interleaved x,y */
  points: Float32Array;
  /** the two unit components (d each) */
  components: [Float64Array, Float64Array];
  /** variance along each component / total variance */
  explained: [number, number];
}

function powerIteration(cov: Float64Array, d: number, iterations = 200, seed = 1): { v: Float64Array; lambda: number } {
  let v = new Float64Array(d);
  // deterministic start that is unlikely to be orthogonal to the top component
  for (let i = 0; i < d; i++) v[i] = 1 + ((i * 2654435761 + seed) % 1000) / 1000;
  let lambda = 0;
  for (let it = 0; it < iterations; it++) {
    const w = new Float64Array(d);
    for (let i = 0; i < d; i++) {
      let s = 0;
      const row = i * d;
      for (let j = 0; j < d; j++) s += cov[row + j]! * v[j]!;
      w[i] = s;
    }
    let norm = 0;
    for (let i = 0; i < d; i++) norm += w[i]! * w[i]!;
    norm = Math.sqrt(norm);
    if (norm === 0) return { v, lambda: 0 };
    for (let i = 0; i < d; i++) w[i]! /= norm;
    let delta = 0;
    for (let i = 0; i < d; i++) delta += Math.abs(w[i]! - v[i]!);
    v = w;
    lambda = norm;
    if (delta < 1e-10) break;
  }
  return { v, lambda };
}

/** PCA to two dimensions of `vectors` (all the same length d ≥ 1). */
export function pca2(vectors: ArrayLike<number>[]): Projection {
  const n = vectors.length;
  const d = n ? vectors[0]!.length : 0;
  const mean = new Float64Array(d);
  for (const x of vectors) for (let j = 0; j < d; j++) mean[j]! += x[j]! / n;
  const cov = new Float64Array(d * d);
  const c = new Float64Array(d);
  for (const x of vectors) {
    for (let j = 0; j < d; j++) c[j] = x[j]! - mean[j]!;
    for (let i = 0; i < d; i++) {
      const ci = c[i]!;
      if (ci === 0) continue;
      const row = i * d;
      for (let j = i; j < d; j++) cov[row + j]! += ci * c[j]!;
    }
  }
  let trace = 0;
  for (let i = 0; i < d; i++) {
    for (let j = i; j < d; j++) {
      const v = cov[i * d + j]! / Math.max(1, n - 1);
      cov[i * d + j] = v;
      cov[j * d + i] = v;
    }
    trace += cov[i * d + i]!;
  }
  const first = powerIteration(cov, d);
  // deflate: remove the first component so the iteration finds the next one
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) cov[i * d + j]! -= first.lambda * first.v[i]! * first.v[j]!;
  const second = powerIteration(cov, d, 200, 7);
  // orthogonalise against the first (numerical drift)
  let dot = 0;
  for (let i = 0; i < d; i++) dot += second.v[i]! * first.v[i]!;
  let norm = 0;
  for (let i = 0; i < d; i++) {
    second.v[i]! -= dot * first.v[i]!;
    norm += second.v[i]! * second.v[i]!;
  }
  norm = Math.sqrt(norm) || 1;
  for (let i = 0; i < d; i++) second.v[i]! /= norm;

  const points = new Float32Array(2 * n);
  vectors.forEach((x, r) => {
    let a = 0;
    let b = 0;
    for (let j = 0; j < d; j++) {
      const cj = x[j]! - mean[j]!;
      a += cj * first.v[j]!;
      b += cj * second.v[j]!;
    }
    points[2 * r] = a;
    points[2 * r + 1] = b;
  });
  const explained: [number, number] = trace > 0 ? [first.lambda / trace, Math.max(0, second.lambda) / trace] : [0, 0];
  return { points, components: [first.v, second.v], explained };
}
