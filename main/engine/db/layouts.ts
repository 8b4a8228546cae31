/**
 * Stored 2-D layouts of the Map (UMAP): a score_runs row (signals ["umap"], the parameters in params_json) and its
 * points in layout_points (migration 014). Computing a layout is selection/ work.
 */
import type { Db } from './open';

/** score_runs.signals_json of a UMAP layout run */
export const UMAP_SIGNALS = '["umap"]';

export interface LayoutRunRowDb { id: number; dataset_id: number | null; params_json: string; created_at: string }

/** The latest finished UMAP layout of this dataset (or of all rows when none is given). */
export function latestLayoutRunRow(db: Db, datasetId?: number): LayoutRunRowDb | undefined {
  return db
    .prepare(
      `SELECT id, dataset_id, params_json, created_at FROM score_runs WHERE signals_json = ? AND status = 'done'
       AND ${datasetId !== undefined ? 'dataset_id = ?' : 'dataset_id IS NULL'} ORDER BY id DESC LIMIT 1`,
    )
    .get(UMAP_SIGNALS, ...(datasetId !== undefined ? [datasetId] : [])) as LayoutRunRowDb | undefined;
}

/** A finished UMAP run and its points (`xy` interleaved x, y in `ids` order); returns the run id. */
export function insertLayoutRun(db: Db, r: { datasetId: number | null; params: unknown; jobId: string | null; ids: number[]; xy: ArrayLike<number> }): number {
  const info = db
    .prepare(
      `INSERT INTO score_runs (model_id, ref_model_id, dataset_id, signals_json, params_json, status, cursor, total, created_at, finished_at, job_id)
       VALUES (NULL, NULL, ?, ?, ?, 'done', ?, ?, datetime('now'), datetime('now'), ?)`,
    )
    .run(r.datasetId, UMAP_SIGNALS, JSON.stringify(r.params), r.ids.length, r.ids.length, r.jobId);
  const runId = Number(info.lastInsertRowid);
  const put = db.prepare('INSERT INTO layout_points (run_id, example_id, x, y) VALUES (?, ?, ?, ?)');
  r.ids.forEach((id, i) => put.run(runId, id, r.xy[2 * i], r.xy[2 * i + 1]));
  return runId;
}

/** A layout's first `limit` rows by example id: the ids, and the points unless `idsOnly`. */
export function layoutPoints(db: Db, runId: number, limit: number, idsOnly: boolean): Array<{ id: number; x: number; y: number }> {
  return db
    .prepare(`SELECT example_id AS id${idsOnly ? '' : ', x, y'} FROM layout_points WHERE run_id = ? ORDER BY example_id LIMIT ?`)
    .all(runId, limit) as Array<{ id: number; x: number; y: number }>;
}
