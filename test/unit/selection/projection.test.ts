import { describe, expect, it } from 'vitest';
import { pca2 } from '../../../main/engine/selection/projection';
import { mulberry32 } from '../../../main/engine/util/random';

describe('pca2', () => {
  it('finds the two directions of a stretched 5-D cloud, in order of variance', () => {
    const rand = mulberry32(3);
    const gauss = () => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
    // variance 100 along (1,1,0,0,0)/√2, 9 along e3, 0.01 elsewhere; offset by a mean that must be removed
    const u = [Math.SQRT1_2, Math.SQRT1_2, 0, 0, 0];
    const w = [0, 0, 1, 0, 0];
    const rows: number[][] = [];
    for (let i = 0; i < 4000; i++) {
      const a = 10 * gauss();
      const b = 3 * gauss();
      rows.push(u.map((x, j) => 5 + a * x + b * w[j]! + 0.1 * gauss()));
    }
    const p = pca2(rows);
    const [c1, c2] = p.components;
    const dot = (x: ArrayLike<number>, y: number[]) => y.reduce((s, v, j) => s + v * x[j]!, 0);
    expect(Math.abs(dot(c1, u))).toBeGreaterThan(0.999);
    expect(Math.abs(dot(c2, w))).toBeGreaterThan(0.999);
    expect(p.explained[0]).toBeGreaterThan(0.9);
    expect(p.explained[1]).toBeGreaterThan(0.05);
    expect(p.explained[1]).toBeLessThan(p.explained[0]);
    // projected coordinates are centred and carry the variances
    let mx = 0;
    let vx = 0;
    let vy = 0;
    for (let i = 0; i < rows.length; i++) mx += p.points[2 * i]! / rows.length;
    for (let i = 0; i < rows.length; i++) {
      vx += p.points[2 * i]! ** 2 / rows.length;
      vy += p.points[2 * i + 1]! ** 2 / rows.length;
    }
    expect(Math.abs(mx)).toBeLessThan(0.01);
    expect(vx).toBeGreaterThan(80);
    expect(vx).toBeLessThan(120);
    expect(vy).toBeGreaterThan(7);
    expect(vy).toBeLessThan(11);
  });

  it('handles no rows and constant rows without NaN', () => {
    expect(pca2([]).points).toHaveLength(0);
    const p = pca2([[1, 2], [1, 2], [1, 2]]);
    expect(Array.from(p.points).every((x) => x === 0)).toBe(true);
    expect(p.explained).toEqual([0, 0]);
  });
});
