/**
 * Diversity-aware selection: greedy k-center (farthest-point traversal) on the `embedding` signal. From a seeded
 * random start, repeatedly take the row farthest from everything taken so far. The result covers the data: every row
 * lies within `radius` of a selected one, and the greedy radius is at most twice the best possible (Gonzalez 1985).
 */
import { WinnowError } from '../util/errors';
import { mulberry32 } from '../util/random';
import { sqDist } from './embeddings';

export interface KCenterResult {
  /** row indices in the order they were picked */
  picked: number[];
  /** max over rows of the Euclidean distance to the nearest picked row */
  radius: number;
}

export interface KCenterOptions {
  seed?: number;
  /** called every `every` picks; throw to stop */
  onPick?: (picked: number, k: number) => void;
  every?: number;
}

export function kcenterGreedy(data: Float32Array, n: number, dim: number, k: number, opts: KCenterOptions = {}): KCenterResult {
  if (!Number.isInteger(k) || k < 1) throw new WinnowError('bad_input', `k-center: count must be a positive whole number, got ${k}`);
  if (n === 0) return { picked: [], radius: 0 };
  const take = Math.min(k, n);
  const near = new Float64Array(n).fill(Infinity);
  const taken = new Uint8Array(n);
  const picked: number[] = [];
  let next = Math.floor(mulberry32(opts.seed ?? 0)() * n);
  const every = opts.every ?? 64;
  while (picked.length < take) {
    picked.push(next);
    taken[next] = 1;
    // one pass: update each row's distance to its nearest pick, and find the farthest row for the next pick
    let far = -1;
    let farD = -1;
    for (let i = 0; i < n; i++) {
      const d = sqDist(data, i, data, next, dim);
      if (d < near[i]!) near[i] = d;
      // already-taken rows have distance 0; when every row is covered (duplicates) take the first untaken one
      if (!taken[i] && near[i]! > farD) {
        farD = near[i]!;
        far = i;
      }
    }
    if (opts.onPick && picked.length % every === 0) opts.onPick(picked.length, take);
    if (far < 0) break;
    next = far;
  }
  let radius = 0;
  for (let i = 0; i < n; i++) if (near[i]! > radius) radius = near[i]!;
  return { picked, radius: Math.sqrt(radius) };
}
