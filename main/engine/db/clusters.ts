/**
 * Stored K-means clusterings: a score_runs row (signals ["cluster"], the parameters in params_json) and its
 * per-example assignments in cluster_assignments (migration 014). Running K-means is selection/ work.
 */
import type { Db } from './open';
import { WinnowError } from '../util/errors';

/** score_runs.signals_json of a clustering run */
export const CLUSTER_SIGNALS = '["cluster"]';

export interface ClusterRunRowDb { id: number; dataset_id: number | null; params_json: string; created_at: string }

/** The latest finished clustering of this dataset (a run over every row counts too), or of all rows when none is given. */
export function latestClusterRunRow(db: Db, datasetId?: number): ClusterRunRowDb | undefined {
  return db
    .prepare(
      `SELECT id, dataset_id, params_json, created_at FROM score_runs WHERE signals_json = ? AND status = 'done'
       AND ${datasetId !== undefined ? '(dataset_id = ? OR dataset_id IS NULL)' : 'dataset_id IS NULL'} ORDER BY id DESC LIMIT 1`,
    )
    .get(CLUSTER_SIGNALS, ...(datasetId !== undefined ? [datasetId] : [])) as ClusterRunRowDb | undefined;
}

/** One clustering run; a missing id is an error naming it. */
export function clusterRunRow(db: Db, runId: number): ClusterRunRowDb {
  const row = db.prepare(`SELECT id, dataset_id, params_json, created_at FROM score_runs WHERE id = ? AND signals_json = ?`).get(runId, CLUSTER_SIGNALS) as
    | ClusterRunRowDb
    | undefined;
  if (!row) throw new WinnowError('not_found', `clustering run ${runId} not found — run K-means again (Map → Clusters)`);
  return row;
}

/** A finished clustering run and its assignments ([example id, cluster]); returns the run id. */
export function insertClusterRun(
  db: Db,
  r: { datasetId: number | null; params: unknown; n: number; jobId: string | null; assignments: Iterable<[number, number]> },
): number {
  const info = db
    .prepare(
      `INSERT INTO score_runs (model_id, ref_model_id, dataset_id, signals_json, params_json, status, cursor, total, created_at, finished_at, job_id)
       VALUES (NULL, NULL, ?, ?, ?, 'done', ?, ?, datetime('now'), datetime('now'), ?)`,
    )
    .run(r.datasetId, CLUSTER_SIGNALS, JSON.stringify(r.params), r.n, r.n, r.jobId);
  const runId = Number(info.lastInsertRowid);
  const put = db.prepare('INSERT INTO cluster_assignments (run_id, example_id, cluster) VALUES (?, ?, ?)');
  for (const [e, c] of r.assignments) put.run(runId, e, c);
  return runId;
}

/**
 * The rows of a clustering in the scope (`e.` examples, `s.` example_signals), ascending by id, each with its cluster
 * and the value of `signalSql` (null when the rule ranks by none).
 */
export function clusterMembers(db: Db, runId: number, datasetId: number | undefined, signalSql: string | null): Array<{ id: number; c: number; v: number | null }> {
  return db
    .prepare(
      `SELECT a.example_id AS id, a.cluster AS c, ${signalSql ?? 'NULL'} AS v
       FROM cluster_assignments a JOIN examples e ON e.id = a.example_id LEFT JOIN example_signals s ON s.example_id = a.example_id
       WHERE a.run_id = ? AND ${datasetId !== undefined ? 'e.dataset_id = ?' : '1=1'} ORDER BY a.example_id`,
    )
    .all(runId, ...(datasetId !== undefined ? [datasetId] : [])) as Array<{ id: number; c: number; v: number | null }>;
}
