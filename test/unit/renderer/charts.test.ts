/**
 * Axis ticks of the SVG charts: round values covering the range, and on a chart of whole steps (training runs) none
 * between two steps: a 2-step run is ticked 1, 2, not 1, 1.2, 1.4 (seen in the first-hour journey's screenshots).
 */
import { describe, expect, it } from 'vitest';
import { niceTicks, tickLabel } from '../../../renderer/src/components/charts';

describe('niceTicks', () => {
  it('covers the range with round steps', () => {
    expect(niceTicks(0, 10, 5)).toEqual([0, 5, 10]);
    expect(niceTicks(0.13, 0.91, 4)).toEqual([0.2, 0.4, 0.6, 0.8]);
    expect(niceTicks(3, 3)).toEqual([3]);
    expect(niceTicks(Number.NaN, 1)).toEqual([]);
  });

  it('with a minimum step of 1, ticks only whole steps', () => {
    expect(niceTicks(1, 2, 6, 1)).toEqual([1, 2]);
    expect(niceTicks(1, 3, 6, 1)).toEqual([1, 2, 3]);
    // a long run keeps its round steps
    expect(niceTicks(0, 500, 6, 1)).toEqual([0, 100, 200, 300, 400, 500]);
    expect(niceTicks(1, 2, 6, 1).every(Number.isInteger)).toBe(true);
    expect(niceTicks(1, 2, 6).some((v) => !Number.isInteger(v))).toBe(true);
  });

  it('labels ticks shortly', () => {
    expect(tickLabel(0.000123)).toBe('1.2e-4');
    expect(tickLabel(8.3581)).toBe('8.358');
  });
});
