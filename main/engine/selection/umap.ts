/**
 * UMAP layout of the `embedding` signal for the Map, on request, as a background job (`umap`). umap-js (PAIR-code)
 * does the work; every random draw it makes goes through the seeded PRNG we hand it, so one seed gives one layout.
 * The 2-D points are stored in layout_points (db/layouts.ts) under a score_runs row that records the parameters.
 */
import { openProjectDb, type Db } from '../db';
import { insertLayoutRun, latestLayoutRunRow } from '../db/layouts';
import { jobParams, type JobContext, type JobOutcome } from '../util/job-context';
import { WinnowError } from '../util/errors';
import { mulberry32 } from '../util/random';
import { NO_EMBEDDINGS, loadEmbeddings } from './embeddings';

export interface UmapParams {
  seed: number;
  nNeighbors: number;
  minDist: number;
  /** optimisation epochs; 0 = umap-js's default for the data size (500 below 2,500 rows … 200 above 10,000) */
  nEpochs?: number;
}

export interface UmapHooks {
  /** after the neighbour graph (stage 'graph') and after each epoch; throw to stop */
  onProgress?: (stage: 'graph' | 'epoch', epoch: number, epochs: number) => void;
}

/** n × dim rows → interleaved x, y. Needs at least 3 rows (a neighbour graph of one or two points is empty). */
export async function umapLayout(data: Float32Array, n: number, dim: number, p: UmapParams, hooks: UmapHooks = {}): Promise<Float32Array> {
  if (n < 3) throw new WinnowError('bad_input', `UMAP needs at least 3 examples with an embedding, found ${n}`);
  // loaded on first use: only this job needs it, so a missing package fails this job alone, by name
  const { UMAP } = await import('umap-js').catch((e: Error) => {
    throw new WinnowError('unsupported', `UMAP needs the umap-js package (npm install umap-js@1.4.0): ${e.message}`);
  });
  const rows: number[][] = new Array(n);
  for (let i = 0; i < n; i++) rows[i] = Array.from(data.subarray(i * dim, (i + 1) * dim));
  const umap = new UMAP({
    nComponents: 2,
    nNeighbors: Math.max(2, Math.min(p.nNeighbors, n - 1)),
    minDist: p.minDist,
    nEpochs: p.nEpochs ?? 0,
    random: mulberry32(p.seed),
  });
  const epochs = umap.initializeFit(rows);
  hooks.onProgress?.('graph', 0, epochs);
  for (let e = 0; e < epochs; e++) {
    umap.step();
    hooks.onProgress?.('epoch', e + 1, epochs);
  }
  const emb = umap.getEmbedding();
  const out = new Float32Array(2 * n);
  for (let i = 0; i < n; i++) {
    out[2 * i] = emb[i]![0]!;
    out[2 * i + 1] = emb[i]![1]!;
  }
  return out;
}

export interface UmapRun {
  runId: number;
  datasetId: number | null;
  params: UmapParams & { n: number; limit: number; embeddingRuns: number[] };
  createdAt: string;
}

/** The latest UMAP layout of this dataset's embeddings (or of all rows), if one was computed. */
export function latestUmapRun(db: Db, datasetId?: number): UmapRun | null {
  const row = latestLayoutRunRow(db, datasetId);
  return row ? { runId: row.id, datasetId: row.dataset_id, params: JSON.parse(row.params_json), createdAt: row.created_at } : null;
}

/** Compute and store a layout; one transaction at the end, so a cancelled job leaves nothing. */
export async function computeUmap(db: Db, scope: { datasetId?: number; limit: number; jobId?: string }, p: UmapParams, hooks: UmapHooks = {}): Promise<UmapRun> {
  const m = loadEmbeddings(db, { datasetId: scope.datasetId, limit: scope.limit });
  if (!m.ids.length) throw new WinnowError('not_found', NO_EMBEDDINGS);
  const xy = await umapLayout(m.data, m.ids.length, m.dim, p, hooks);
  const params = { ...p, nEpochs: p.nEpochs ?? 0, n: m.ids.length, limit: scope.limit, embeddingRuns: m.runIds };
  db.transaction(() => insertLayoutRun(db, { datasetId: scope.datasetId ?? null, params, jobId: scope.jobId ?? null, ids: m.ids, xy }))();
  return latestUmapRun(db, scope.datasetId)!;
}

/** Job runner (kind `umap`): params {datasetId?, limit, seed, nNeighbors, minDist, nEpochs?}. */
export async function runUmapJob(ctx: JobContext): Promise<JobOutcome> {
  const db = openProjectDb(ctx.dbPath);
  try {
    const q = jobParams('umap', ctx);
    ctx.progress({ current: 0, total: 1, message: 'finding nearest neighbours' });
    let last = 0;
    const run = await computeUmap(db, { datasetId: q.datasetId, limit: q.limit, jobId: ctx.jobId }, q, {
      onProgress: (stage, epoch, epochs) => {
        if (ctx.isCancelled()) throw new WinnowError('cancelled', 'UMAP cancelled; nothing was written');
        const now = Date.now();
        if (stage === 'epoch' && now - last < 200 && epoch < epochs) return;
        last = now;
        ctx.progress({ current: epoch, total: epochs, message: stage === 'graph' ? 'neighbour graph built; optimising the layout' : `epoch ${epoch} of ${epochs}` });
      },
    });
    return { message: `UMAP layout of ${run.params.n} examples (seed ${run.params.seed})`, stats: { runId: run.runId, n: run.params.n } };
  } finally {
    db.close();
  }
}
