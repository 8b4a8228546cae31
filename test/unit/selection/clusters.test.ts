/** K-means (k-means++ start, Lloyd) against direct computations written here: nearest centroids, means, objective. */
import { describe, expect, it } from 'vitest';
import { kmeans } from '../../../main/engine/selection/clusters';
import { mulberry32 } from '../../../main/engine/util/random';

function blobs(centres: number[][], perBlob: number, spread: number, seed: number): { data: Float32Array; label: number[]; dim: number } {
  const rand = mulberry32(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
  const dim = centres[0]!.length;
  const data = new Float32Array(centres.length * perBlob * dim);
  const label: number[] = [];
  let r = 0;
  // interleave the blobs so row order says nothing about membership
  for (let i = 0; i < perBlob; i++) {
    centres.forEach((c, b) => {
      for (let t = 0; t < dim; t++) data[r * dim + t] = c[t]! + spread * gauss();
      label.push(b);
      r++;
    });
  }
  return { data, label, dim };
}

function dist2(data: Float32Array, i: number, c: Float64Array, j: number, dim: number): number {
  let s = 0;
  for (let t = 0; t < dim; t++) s += (data[i * dim + t]! - c[j * dim + t]!) ** 2;
  return s;
}

describe('kmeans', () => {
  const { data, label, dim } = blobs([[0, 0, 0, 0], [8, 0, 0, 1], [0, 9, -3, 0], [5, 5, 5, 5]], 150, 1.2, 11);
  const n = label.length;

  it('assigns every row to its nearest centroid, centroids are the means of their rows, and the objective never rises', () => {
    const r = kmeans(data, n, dim, 4, { seed: 3 });
    expect(r.converged).toBe(true);
    let total = 0;
    for (let i = 0; i < n; i++) {
      const d = [0, 1, 2, 3].map((c) => dist2(data, i, r.centroids, c, dim));
      const best = d.indexOf(Math.min(...d));
      expect(r.assignments[i]).toBe(best);
      total += d[best]!;
    }
    expect(r.objective[r.objective.length - 1]).toBeCloseTo(total, 6);
    for (let c = 0; c < 4; c++) {
      const members = [...Array(n).keys()].filter((i) => r.assignments[i] === c);
      expect(members.length).toBeGreaterThan(0);
      for (let t = 0; t < dim; t++) {
        const mean = members.reduce((s, i) => s + data[i * dim + t]!, 0) / members.length;
        expect(r.centroids[c * dim + t]).toBeCloseTo(mean, 9);
      }
    }
    for (let k = 1; k < r.objective.length; k++) expect(r.objective[k]!).toBeLessThanOrEqual(r.objective[k - 1]! * (1 + 1e-12));
    expect(r.objective.length).toBe(r.iterations);
  });

  it('finds well-separated blobs (each blob is one cluster) and is reproducible from its seed', () => {
    const a = kmeans(data, n, dim, 4, { seed: 5 });
    const b = kmeans(data, n, dim, 4, { seed: 5 });
    expect(Array.from(a.assignments)).toEqual(Array.from(b.assignments));
    expect(Array.from(a.centroids)).toEqual(Array.from(b.centroids));
    for (let blob = 0; blob < 4; blob++) {
      const got = new Set(label.flatMap((l, i) => (l === blob ? [a.assignments[i]] : [])));
      expect(got.size).toBe(1);
    }
    expect(new Set(a.assignments).size).toBe(4);
  });

  it('objective per iteration does not rise on overlapping data, and stopping at maxIter still ends on an assignment', () => {
    const { data: d2, label: l2, dim: dm } = blobs([[0, 0], [1, 0], [0, 1], [1, 1], [0.5, 0.5]], 80, 0.6, 2);
    const r = kmeans(d2, l2.length, dm, 7, { seed: 1, maxIter: 4 });
    expect(r.iterations).toBe(4);
    for (let k = 1; k < r.objective.length; k++) expect(r.objective[k]!).toBeLessThanOrEqual(r.objective[k - 1]! * (1 + 1e-12));
    for (let i = 0; i < l2.length; i++) {
      const d = [...Array(7).keys()].map((c) => dist2(d2, i, r.centroids, c, dm));
      expect(d[r.assignments[i]!]).toBe(Math.min(...d));
    }
  });

  it('copes with more clusters than distinct points (no NaN, objective 0) and refuses k > n', () => {
    const d = Float32Array.from([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 5, 5, 5, 5]);
    const r = kmeans(d, 8, 2, 3, { seed: 0 });
    expect(Array.from(r.centroids).every(Number.isFinite)).toBe(true);
    expect(r.objective[r.objective.length - 1]).toBe(0);
    expect(() => kmeans(d, 8, 2, 9)).toThrow(/more than the 8/);
  });
});
