/**
 * Score runs (`score_runs`) and what a run stores besides per-example signals (signals.ts) and vectors (vectors.ts):
 * token arrays (`token_scores`), per-tensor layer scores (`layer_scores`), and the throughputs the scoring plan's
 * estimate reads (`project_meta`). Also the LoRA warm-up train run a LESS (grad_sim) scoring reads.
 */
import type { Db } from './open';

/** The run a scoring job writes to (a resumed job finds its own). */
export function findScoreRunOfJob(db: Db, jobId: string): number | undefined {
  return db.prepare('SELECT id FROM score_runs WHERE job_id = ?').pluck().get(jobId) as number | undefined;
}

/** A new running score run of a job, cursor 0. */
export function insertScoreRun(db: Db, r: { modelId: number; refModelId: number | null; datasetId: number | null; signalsJson: string; paramsJson: string; jobId: string }): number {
  const info = db
    .prepare(
      `INSERT INTO score_runs (model_id, ref_model_id, dataset_id, signals_json, params_json, status, cursor, created_at, job_id)
       VALUES (?, ?, ?, ?, ?, 'running', 0, datetime('now'), ?)`,
    )
    .run(r.modelId, r.refModelId, r.datasetId, r.signalsJson, r.paramsJson, r.jobId);
  return Number(info.lastInsertRowid);
}

/** A finished run made by `winnow merge` from its shards (no job of its own). */
export function insertMergedScoreRun(db: Db, r: {
  modelId: number; refModelId: number | null; datasetId: number; signalsJson: string; paramsJson: string; total: number; renderKeyId: number;
}): number {
  return Number(db.prepare(
    `INSERT INTO score_runs (model_id, ref_model_id, dataset_id, signals_json, params_json, status, cursor, total, created_at, finished_at, job_id, render_key_id)
     VALUES (?, ?, ?, ?, ?, 'done', ?, ?, datetime('now'), datetime('now'), NULL, ?)`,
  ).run(r.modelId, r.refModelId, r.datasetId, r.signalsJson, r.paramsJson, r.total, r.total, r.renderKeyId).lastInsertRowid);
}

/** What a shard's result file records of its run. */
export function scoreRunForShard(db: Db, runId: number): { model_id: number; signals_json: string; params_json: string; render_key_id: number | null; total: number | null } {
  return db.prepare('SELECT model_id, signals_json, params_json, render_key_id, total FROM score_runs WHERE id = ?').get(runId) as
    { model_id: number; signals_json: string; params_json: string; render_key_id: number | null; total: number | null };
}

/** Whether the run has stored anything yet: an example value, a token array or a pass's state. */
export function scoreRunHasResults(db: Db, runId: number): boolean {
  return (db.prepare('SELECT 1 FROM example_scores WHERE run_id = ? LIMIT 1').get(runId) ??
    db.prepare('SELECT 1 FROM token_scores WHERE run_id = ? LIMIT 1').get(runId) ??
    db.prepare('SELECT 1 FROM score_pass_state WHERE run_id = ? LIMIT 1').get(runId)) !== undefined;
}

export function setScoreRunRenderKey(db: Db, runId: number, keyId: number): void {
  db.prepare('UPDATE score_runs SET render_key_id = ? WHERE id = ?').run(keyId, runId);
}

/** Running again (a resumed job): the last error is cleared. */
export function markScoreRunRunning(db: Db, runId: number): void {
  db.prepare(`UPDATE score_runs SET status = 'running', error = NULL WHERE id = ?`).run(runId);
}

export function markScoreRunDone(db: Db, runId: number): void {
  db.prepare(`UPDATE score_runs SET status = 'done', finished_at = datetime('now') WHERE id = ?`).run(runId);
}

/** The job's run ended without finishing: 'cancelled' or 'failed', with the error. */
export function markScoreRunEnded(db: Db, jobId: string, status: 'cancelled' | 'failed', error: string): void {
  db.prepare(`UPDATE score_runs SET status = ?, error = ? WHERE job_id = ?`).run(status, error, jobId);
}

export function setScoreRunProgress(db: Db, runId: number, total: number, cursor: number): void {
  db.prepare('UPDATE score_runs SET total = ?, cursor = ? WHERE id = ?').run(total, cursor, runId);
}

/** Sets a run's cursor (one prepared statement for every batch). */
export function scoreRunCursorSetter(db: Db): (runId: number, cursor: number) => void {
  const stmt = db.prepare('UPDATE score_runs SET cursor = ? WHERE id = ?');
  return (runId, cursor) => void stmt.run(cursor, runId);
}

/** Stores one example's token array of a signal (the blob as toBlob makes it). */
export function tokenScoreInserter(db: Db): (runId: number, exampleId: number, signal: string, values: Buffer) => void {
  const stmt = db.prepare(`INSERT INTO token_scores (run_id, example_id, signal, "values") VALUES (?, ?, ?, ?)`);
  return (runId, exampleId, signal, values) => void stmt.run(runId, exampleId, signal, values);
}

/** Whether any run of the model that named `signal` stored token scores of it. */
export function modelHasTokenScores(db: Db, modelId: number, signal: string): boolean {
  const runs = db
    .prepare(`SELECT id FROM score_runs WHERE model_id = ? AND EXISTS (SELECT 1 FROM json_each(signals_json) WHERE value = ?) ORDER BY id DESC`)
    .pluck()
    .all(modelId, signal) as number[];
  const has = db.prepare('SELECT 1 FROM token_scores WHERE run_id = ? AND signal = ? LIMIT 1');
  return runs.some((r) => has.get(r, signal));
}

export interface LayerScoreRow {
  tensorName: string;
  block: number | null;
  kind: string;
  signal: string;
  value: number;
}

/**
 * Stores layer score rows of a run: `replace` overwrites a row the run already has (a resumed pass), else such a row
 * is an error (a merge writes a new run).
 */
export function layerScoreInserter(db: Db, opts: { replace: boolean }): (runId: number, row: LayerScoreRow) => void {
  const stmt = db.prepare(`INSERT${opts.replace ? ' OR REPLACE' : ''} INTO layer_scores (run_id, tensor_name, block, kind, signal, value) VALUES (?, ?, ?, ?, ?, ?)`);
  return (runId, l) => void stmt.run(runId, l.tensorName, l.block, l.kind, l.signal, l.value);
}

export function countLayerScores(db: Db, runId: number, signal: string | undefined): number {
  return db.prepare('SELECT COUNT(*) FROM layer_scores WHERE run_id = ? AND signal = ?').pluck().get(runId, signal) as number;
}

/** The scoring throughputs the plan's estimate reads (examples or tokens per second), by key. */
export type ThroughputKey = 'score_examples_per_sec' | 'score_tokens_per_sec' | 'score_backward_examples_per_sec';

/** The project's last measured throughput; 0 where none was measured yet. */
export function measuredThroughput(db: Db, key: ThroughputKey): number {
  return Number(db.prepare(`SELECT value FROM project_meta WHERE key = ?`).pluck().get(key) ?? 0);
}

export function recordThroughput(db: Db, key: ThroughputKey, perSecond: number): void {
  db.prepare(`INSERT OR REPLACE INTO project_meta (key, value) VALUES (?, ?)`).run(key, String(perSecond));
}

/** The train runs that made a model (by run id, output model id or output folder), with the model each started from. */
export function trainRunsThatMade(db: Db, m: { trainRunId: number | null; modelId: number; path: string }): Array<{ id: number; model_id: number }> {
  return db
    .prepare('SELECT id, model_id FROM train_runs WHERE model_id IS NOT NULL AND (id = ? OR out_model_id = ? OR out_dir = ?)')
    .all(m.trainRunId ?? -1, m.modelId, m.path) as Array<{ id: number; model_id: number }>;
}
