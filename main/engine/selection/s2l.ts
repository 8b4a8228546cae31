/**
 * S2L (SmallToLarge, BigML-CS-UCLA/S2L): examples whose loss moves alike while a small model trains are alike for a
 * large one. A run with `recordTrajectories` stores each example's mean response loss at every checkpoint
 * (loss_trajectories); here those trajectories are clustered with K-means (clusters.ts, seeded) and the budget is
 * spread over the clusters: smallest cluster first, each gets ⌊budget left / clusters left⌋, a cluster with fewer rows
 * than that is taken whole, so what small clusters cannot use goes to the larger ones. Inside a cluster the rows are
 * a seeded random sample, as in S2L's faiss_kmeans_selection.
 */
import type { Db } from '../db';
import { trajectoryLosses, trajectorySteps } from '../db/loss-trajectories';
import { trainRunRow } from '../db/training';
import { WinnowError } from '../util/errors';
import { mulberry32 } from '../util/random';
import { kmeans } from './clusters';

export interface Trajectories {
  /** example ids, in id order; only examples with a loss at every recorded step */
  ids: number[];
  /** the recorded steps, ascending (the columns) */
  steps: number[];
  /** ids.length × steps.length, row-major */
  data: Float32Array;
  /** examples in scope with a loss at some but not every step (left out) */
  incomplete: number;
}

export function loadTrajectories(db: Db, runId: number, datasetId?: number): Trajectories {
  const steps = trajectorySteps(db, runId);
  if (!steps.length) {
    if (!trainRunRow(db, runId)) throw new WinnowError('not_found', `S2L: train run ${runId} not found`);
    throw new WinnowError('not_found', `S2L: train run ${runId} recorded no loss trajectories — train with "record loss trajectories" (recordTrajectories) on`);
  }
  const col = new Map(steps.map((s, i) => [s, i]));
  const rows = trajectoryLosses(db, runId, datasetId);
  const byId = new Map<number, Float32Array>();
  const seen = new Map<number, number>();
  for (const r of rows) {
    let v = byId.get(r.e);
    if (!v) byId.set(r.e, (v = new Float32Array(steps.length)));
    // S2L sets a NaN loss to 0
    v[col.get(r.s)!] = Number.isFinite(r.l) ? r.l : 0;
    seen.set(r.e, (seen.get(r.e) ?? 0) + 1);
  }
  const ids = [...byId.keys()].filter((e) => seen.get(e) === steps.length).sort((a, b) => a - b);
  const data = new Float32Array(ids.length * steps.length);
  ids.forEach((e, i) => data.set(byId.get(e)!, i * steps.length));
  return { ids, steps, data, incomplete: byId.size - ids.length };
}

/**
 * S2L's sampling rule over cluster assignments: clusters in ascending size (ties by cluster index), each gets
 * ⌊left / clusters left⌋ rows, all of them when it has no more. Returns row indices (cluster by cluster, each
 * cluster's sample in ascending row order).
 */
export function s2lSample(assignments: ArrayLike<number>, k: number, budget: number, seed: number): number[] {
  const members: number[][] = Array.from({ length: k }, () => []);
  for (let i = 0; i < assignments.length; i++) members[assignments[i]!]!.push(i);
  const order = members.map((m, c) => ({ m, c })).sort((a, b) => a.m.length - b.m.length || a.c - b.c);
  const rand = mulberry32(seed);
  let left = Math.min(budget, assignments.length);
  const out: number[] = [];
  order.forEach(({ m }, i) => {
    const quota = Math.floor(left / (order.length - i));
    if (m.length <= quota) {
      out.push(...m);
      left -= m.length;
      return;
    }
    // seeded partial Fisher–Yates: the first `quota` of a shuffle
    const a = m.slice();
    for (let j = 0; j < quota; j++) {
      const r = j + Math.floor(rand() * (a.length - j));
      [a[j], a[r]] = [a[r]!, a[j]!];
    }
    out.push(...a.slice(0, quota).sort((x, y) => x - y));
    left -= quota;
  });
  return out;
}

export interface S2LRule {
  runId: number;
  count: number;
  clusters: number;
  seed: number;
}

/** The example ids S2L picks from run `runId`'s trajectories, and what it used (for the stored rule). */
export function s2lSelect(db: Db, rule: S2LRule, datasetId?: number): { ids: number[]; provenance: Record<string, unknown> } {
  const t = loadTrajectories(db, rule.runId, datasetId);
  if (!t.ids.length) throw new WinnowError('not_found', `S2L: train run ${rule.runId} has no complete loss trajectory${datasetId !== undefined ? ' in this dataset' : ''}`);
  if (rule.clusters > t.ids.length) {
    throw new WinnowError('bad_input', `S2L: field "clusters" is ${rule.clusters}, more than the ${t.ids.length} examples with a loss trajectory`);
  }
  const km = kmeans(t.data, t.ids.length, t.steps.length, rule.clusters, { seed: rule.seed });
  const picked = s2lSample(km.assignments, rule.clusters, rule.count, rule.seed);
  const sizes = new Array<number>(rule.clusters).fill(0);
  for (const a of km.assignments) sizes[a]!++;
  return {
    ids: picked.map((i) => t.ids[i]!).sort((a, b) => a - b),
    provenance: { checkpoints: t.steps, candidates: t.ids.length, clusterSizes: sizes, ...(t.incomplete ? { incomplete: t.incomplete } : {}) },
  };
}
