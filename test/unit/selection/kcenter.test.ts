/** Greedy k-center against direct computations: the reported radius, the farthest-point choice at every step. */
import { describe, expect, it } from 'vitest';
import { kcenterGreedy } from '../../../main/engine/selection/kcenter';
import { mulberry32 } from '../../../main/engine/util/random';

function cloud(n: number, dim: number, seed: number): Float32Array {
  const rand = mulberry32(seed);
  // a lopsided cloud: most points near the origin, a few far out, so farthest-first has something to find
  return Float32Array.from({ length: n * dim }, (_, i) => (rand() - 0.5) * (Math.floor(i / dim) % 17 === 0 ? 20 : 2));
}

function dist(data: Float32Array, i: number, j: number, dim: number): number {
  let s = 0;
  for (let t = 0; t < dim; t++) s += (data[i * dim + t]! - data[j * dim + t]!) ** 2;
  return Math.sqrt(s);
}

describe('kcenterGreedy', () => {
  const n = 400;
  const dim = 6;
  const data = cloud(n, dim, 9);

  it('reports the covering radius: the max distance from any row to its nearest selected row', () => {
    const r = kcenterGreedy(data, n, dim, 25, { seed: 4 });
    expect(r.picked).toHaveLength(25);
    expect(new Set(r.picked).size).toBe(25);
    let worst = 0;
    for (let i = 0; i < n; i++) worst = Math.max(worst, Math.min(...r.picked.map((p) => dist(data, i, p, dim))));
    expect(r.radius).toBeCloseTo(worst, 9);
  });

  it('starts at the seeded row and then always takes the row farthest from those already taken', () => {
    const r = kcenterGreedy(data, n, dim, 30, { seed: 12 });
    expect(r.picked[0]).toBe(Math.floor(mulberry32(12)() * n));
    for (let t = 1; t < r.picked.length; t++) {
      const before = r.picked.slice(0, t);
      const gap = (i: number) => Math.min(...before.map((p) => dist(data, i, p, dim)));
      const chosen = gap(r.picked[t]!);
      for (let i = 0; i < n; i++) if (!before.includes(i)) expect(gap(i)).toBeLessThanOrEqual(chosen + 1e-9);
    }
  });

  it('a smaller k is a prefix of a larger one (same seed), and the radius shrinks as k grows', () => {
    const small = kcenterGreedy(data, n, dim, 10, { seed: 1 });
    const big = kcenterGreedy(data, n, dim, 40, { seed: 1 });
    expect(big.picked.slice(0, 10)).toEqual(small.picked);
    expect(big.radius).toBeLessThanOrEqual(small.radius);
    expect(kcenterGreedy(data, n, dim, 10, { seed: 2 }).picked[0]).not.toBe(small.picked[0]);
  });

  it('k ≥ n takes every row (radius 0); duplicates are taken once before any repeat', () => {
    const all = kcenterGreedy(data, 30, dim, 50, { seed: 0 });
    expect([...all.picked].sort((a, b) => a - b)).toEqual([...Array(30).keys()]);
    expect(all.radius).toBe(0);
    const dup = Float32Array.from([0, 0, 0, 0, 0, 0, 3, 3]);
    const r = kcenterGreedy(dup, 4, 2, 3, { seed: 0 });
    expect(new Set(r.picked).size).toBe(3);
    expect(r.picked).toContain(3);
    expect(r.radius).toBe(0);
  });
});
