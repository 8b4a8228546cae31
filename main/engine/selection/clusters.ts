/**
 * Clusters of the `embedding` signal: seeded K-means (k-means++ start, Lloyd iterations), stored in cluster_assignments
 * (db/clusters.ts) and as the per-example `cluster` column, with a score_runs row as provenance (method, k, seed,
 * iterations, objective, embedding runs), and the per-cluster quota rule that reads one such run back.
 */
import { openProjectDb, writeExampleSignal, type Db } from '../db';
import { jobParams, type JobContext, type JobOutcome } from '../util/job-context';
import { WinnowError } from '../util/errors';
import { mulberry32 } from '../util/random';
import { clusterMembers, clusterRunRow, insertClusterRun, latestClusterRunRow, type ClusterRunRowDb } from '../db/clusters';
import { NO_EMBEDDINGS, loadEmbeddings, sqDist } from './embeddings';
import type { ClusterInfo } from '../../../preload/contract';

export interface KMeansResult {
  /** cluster of each row, 0..k-1 */
  assignments: Int32Array;
  /** k × dim, row-major */
  centroids: Float64Array;
  /** Σ squared distance to the assigned centroid after each assignment step (never increases) */
  objective: number[];
  iterations: number;
  converged: boolean;
}

export interface KMeansOptions {
  seed?: number;
  maxIter?: number;
  /** called after each assignment step; return true to stop (cancel) */
  onIteration?: (iteration: number, objective: number) => boolean | void;
}

/** k-means++: the first centre uniformly, each next one with probability ∝ squared distance to the nearest chosen. */
export function kmeansPlusPlus(data: Float32Array, n: number, dim: number, k: number, rand: () => number): Float64Array {
  const centroids = new Float64Array(k * dim);
  const near = new Float64Array(n);
  let first = Math.floor(rand() * n);
  for (let t = 0; t < dim; t++) centroids[t] = data[first * dim + t]!;
  for (let i = 0; i < n; i++) near[i] = sqDist(data, i, centroids, 0, dim);
  for (let c = 1; c < k; c++) {
    let total = 0;
    for (let i = 0; i < n; i++) total += near[i]!;
    let pick = n - 1;
    if (total > 0) {
      let r = rand() * total;
      for (let i = 0; i < n; i++) {
        r -= near[i]!;
        if (r < 0) {
          pick = i;
          break;
        }
      }
    } else pick = Math.floor(rand() * n); // every point sits on a centre already (duplicates)
    first = pick;
    for (let t = 0; t < dim; t++) centroids[c * dim + t] = data[pick * dim + t]!;
    for (let i = 0; i < n; i++) {
      const d = sqDist(data, i, centroids, c, dim);
      if (d < near[i]!) near[i] = d;
    }
  }
  return centroids;
}

/** Lloyd's K-means on the n × dim rows of `data`. Deterministic for a seed (ties go to the lower cluster index). */
export function kmeans(data: Float32Array, n: number, dim: number, k: number, opts: KMeansOptions = {}): KMeansResult {
  if (!Number.isInteger(k) || k < 1) throw new WinnowError('bad_input', `K-means: k must be a positive whole number, got ${k}`);
  if (k > n) throw new WinnowError('bad_input', `K-means: k = ${k} is more than the ${n} examples with an embedding`);
  const maxIter = opts.maxIter ?? 100;
  const centroids = kmeansPlusPlus(data, n, dim, k, mulberry32(opts.seed ?? 0));
  const assignments = new Int32Array(n).fill(-1);
  const cost = new Float64Array(n);
  const objective: number[] = [];
  let converged = false;
  let it = 0;
  // every pass ends on an assignment step, so the returned assignments are the nearest of the returned centroids
  for (;;) {
    // assignment step
    let changed = 0;
    let total = 0;
    for (let i = 0; i < n; i++) {
      let best = 0;
      let bestD = Infinity;
      for (let c = 0; c < k; c++) {
        const d = sqDist(data, i, centroids, c, dim);
        if (d < bestD) {
          bestD = d;
          best = c;
        }
      }
      if (assignments[i] !== best) changed++;
      assignments[i] = best;
      cost[i] = bestD;
      total += bestD;
    }
    objective.push(total);
    it++;
    if (opts.onIteration?.(it, total)) break;
    if (changed === 0) {
      converged = true;
      break;
    }
    if (it >= maxIter) break;
    // update step: each centroid to the mean of its rows
    const counts = new Int32Array(k);
    centroids.fill(0);
    for (let i = 0; i < n; i++) {
      const c = assignments[i]!;
      counts[c]!++;
      for (let t = 0; t < dim; t++) centroids[c * dim + t]! += data[i * dim + t]!;
    }
    for (let c = 0; c < k; c++) {
      if (counts[c]! > 0) {
        for (let t = 0; t < dim; t++) centroids[c * dim + t]! /= counts[c]!;
        continue;
      }
      // an empty cluster takes the row farthest from its centre: that row's cost drops to 0, so the objective
      // still cannot rise
      let far = 0;
      for (let i = 1; i < n; i++) if (cost[i]! > cost[far]!) far = i;
      for (let t = 0; t < dim; t++) centroids[c * dim + t] = data[far * dim + t]!;
      cost[far] = -1;
    }
  }
  return { assignments, centroids, objective, iterations: it, converged };
}

// ---------- stored clusterings ----------

/** a stored clustering, as the contract describes it (`clusters.info`) */
export type ClusterRun = ClusterInfo;

/** The latest K-means run over this dataset (or over all rows when no dataset is given), if any. */
export function latestClusterRun(db: Db, datasetId?: number): ClusterRun | null {
  const row = latestClusterRunRow(db, datasetId);
  return row ? toClusterRun(row) : null;
}

export function getClusterRun(db: Db, runId: number): ClusterRun {
  return toClusterRun(clusterRunRow(db, runId));
}

function toClusterRun(row: ClusterRunRowDb): ClusterRun {
  const p = JSON.parse(row.params_json) as Omit<ClusterRun, 'runId' | 'datasetId' | 'createdAt'>;
  return { ...p, runId: row.id, datasetId: row.dataset_id, createdAt: row.created_at };
}

/** K-means over the embeddings in scope, stored with the `cluster` column; one transaction, so a cancel leaves nothing. */
export function clusterEmbeddings(
  db: Db,
  p: { datasetId?: number; k: number; seed: number; maxIter?: number; jobId?: string },
  hooks: { onIteration?: (iteration: number, objective: number) => boolean | void } = {},
): ClusterRun {
  const m = loadEmbeddings(db, { datasetId: p.datasetId });
  const n = m.ids.length;
  if (!n) throw new WinnowError('not_found', NO_EMBEDDINGS);
  const r = kmeans(m.data, n, m.dim, p.k, { seed: p.seed, maxIter: p.maxIter, onIteration: hooks.onIteration });
  const sizes = new Array<number>(p.k).fill(0);
  for (const c of r.assignments) sizes[c]!++;
  const params = {
    method: 'kmeans',
    init: 'k-means++',
    source: 'embedding',
    embeddingRuns: m.runIds,
    k: p.k,
    seed: p.seed,
    maxIter: p.maxIter ?? 100,
    iterations: r.iterations,
    objective: r.objective[r.objective.length - 1]!,
    converged: r.converged,
    n,
    dim: m.dim,
    sizes,
  };
  const runId = db.transaction(() => {
    const assignments = m.ids.map((e, i): [number, number] => [e, r.assignments[i]!]);
    const id = insertClusterRun(db, { datasetId: p.datasetId ?? null, params, n, jobId: p.jobId ?? null, assignments });
    // the Examples-table column shows the latest clustering; its history stays in example_scores like every column's
    writeExampleSignal(db, id, 'cluster', assignments);
    return id;
  })();
  return getClusterRun(db, runId);
}

/** Job runner (kind `cluster`): params {datasetId?, k, seed, maxIter?}. */
export async function runClusterJob(ctx: JobContext): Promise<JobOutcome> {
  const db = openProjectDb(ctx.dbPath);
  try {
    const params = jobParams('cluster', ctx);
    const maxIter = params.maxIter ?? 100;
    ctx.progress({ current: 0, total: maxIter, message: 'reading embeddings' });
    const run = clusterEmbeddings(db, { ...params, maxIter, jobId: ctx.jobId }, {
      onIteration: (it, obj) => {
        ctx.progress({ current: it, total: maxIter, message: `iteration ${it}, objective ${obj.toPrecision(6)}` });
        // thrown from inside the loop, before anything is written
        if (ctx.isCancelled()) throw new WinnowError('cancelled', 'K-means cancelled; nothing was written');
      },
    });
    return {
      message: `${run.k} clusters of ${run.n} examples (${run.iterations} iterations${run.converged ? ', converged' : ''})`,
      stats: { runId: run.runId, k: run.k, n: run.n, iterations: run.iterations, objective: run.objective },
    };
  } finally {
    db.close();
  }
}

// ---------- the per-cluster quota rule ----------

export interface QuotaRule {
  count?: number;
  percent?: number;
  /** rank by this column; absent: a seeded random sample per cluster */
  signal?: string;
  dir?: 'asc' | 'desc';
  seed?: number;
}

/**
 * Per cluster of one clustering run (its rows in the dataset, when given): the best `count` rows (or `percent` of the
 * cluster, at least one) by `signalSql`
 * (rows without a value are left out), or a seeded random sample. Returns ids cluster by cluster, best first.
 */
export function clusterQuota(db: Db, runId: number, rule: QuotaRule, datasetId: number | undefined, signalSql: string | null): number[] {
  if ((rule.count === undefined) === (rule.percent === undefined)) {
    throw new WinnowError('bad_input', 'rule: cluster_quota needs exactly one of count or percent');
  }
  const rows = clusterMembers(db, runId, datasetId, signalSql);
  const byCluster = new Map<number, Array<{ id: number; v: number | null }>>();
  for (const r of rows) {
    let list = byCluster.get(r.c);
    if (!list) byCluster.set(r.c, (list = []));
    list.push(r);
  }
  const rand = mulberry32(rule.seed ?? 0);
  const out: number[] = [];
  for (const c of [...byCluster.keys()].sort((a, b) => a - b)) {
    let members = byCluster.get(c)!;
    const size = members.length;
    if (signalSql !== null) {
      const sign = rule.dir === 'asc' ? 1 : -1;
      members = members.filter((m) => m.v !== null).sort((a, b) => sign * (a.v! - b.v!) || a.id - b.id);
    } else {
      for (let i = members.length - 1; i > 0; i--) {
        const j = Math.floor(rand() * (i + 1));
        [members[i], members[j]] = [members[j]!, members[i]!];
      }
    }
    const quota = rule.count ?? Math.max(1, Math.round(((rule.percent ?? 0) / 100) * size));
    for (const m of members.slice(0, quota)) out.push(m.id);
  }
  return out;
}
