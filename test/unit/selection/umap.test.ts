/** The seeded UMAP layout: one seed, one layout; neighbourhoods of the input survive in 2-D. */
import { describe, expect, it } from 'vitest';
import { umapLayout } from '../../../main/engine/selection/umap';
import { mulberry32 } from '../../../main/engine/util/random';

describe('umapLayout', () => {
  // three tight blobs in 10-D, rows interleaved
  const rand = mulberry32(21);
  const dim = 10;
  const n = 180;
  const centres = [0, 1, 2].map(() => Array.from({ length: dim }, () => (rand() - 0.5) * 40));
  const label = Array.from({ length: n }, (_, i) => i % 3);
  const data = Float32Array.from({ length: n * dim }, (_, k) => centres[label[Math.floor(k / dim)]!]![k % dim]! + (rand() - 0.5));
  const params = { seed: 7, nNeighbors: 10, minDist: 0.1, nEpochs: 60 };

  it('gives the same layout for the same seed and another for another seed', async () => {
    const a = await umapLayout(data, n, dim, params);
    const b = await umapLayout(data, n, dim, params);
    const c = await umapLayout(data, n, dim, { ...params, seed: 8 });
    expect(a).toHaveLength(2 * n);
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(c));
    expect(Array.from(a).every(Number.isFinite)).toBe(true);
  });

  it('keeps blobs apart: every point is nearer its own blob’s 2-D centre than any other', async () => {
    const xy = await umapLayout(data, n, dim, params);
    const centre = [0, 1, 2].map((b) => {
      const idx = label.flatMap((l, i) => (l === b ? [i] : []));
      return [idx.reduce((s, i) => s + xy[2 * i]!, 0) / idx.length, idx.reduce((s, i) => s + xy[2 * i + 1]!, 0) / idx.length];
    });
    for (let i = 0; i < n; i++) {
      const d = centre.map(([x, y]) => (xy[2 * i]! - x!) ** 2 + (xy[2 * i + 1]! - y!) ** 2);
      expect(d.indexOf(Math.min(...d))).toBe(label[i]);
    }
  });

  it('reports progress per epoch and refuses fewer than 3 rows', async () => {
    const seen: number[] = [];
    await umapLayout(data, n, dim, { ...params, nEpochs: 5 }, { onProgress: (_s, e) => seen.push(e) });
    expect(seen).toEqual([0, 1, 2, 3, 4, 5]);
    await expect(umapLayout(data, 2, dim, params)).rejects.toThrow(/at least 3/);
  });
});
