/**
 * The training job's tables: `train_runs` (a run's config, status, step, checkpoint and tuned model) and
 * `train_metrics` (its loss curve), and the rows a run's scope covers. The S2L loss trajectories are in
 * loss-trajectories.ts.
 */
import type { Db } from './open';
import { subsetMemberIds } from './subsets';
import { datasetsOfSubset } from './score-rows';

/** A train_runs row, every column. */
export interface TrainRunDbRow {
  id: number; model_id: number; subset_id: number | null; config_json: string; status: string; step: number;
  total_steps: number | null; checkpoint_path: string | null; out_dir: string | null; created_at: string; error: string | null;
  job_id: string | null; out_model_id: number | null; render_key_id: number | null;
}

/** The one read of a train run by id (callers take the columns they need); undefined when there is no such run. */
export function trainRunRow(db: Db, runId: number): TrainRunDbRow | undefined {
  return db.prepare('SELECT * FROM train_runs WHERE id = ?').get(runId) as TrainRunDbRow | undefined;
}

export function markTrainRunRunning(db: Db, runId: number): void {
  db.prepare(`UPDATE train_runs SET status = 'running', error = NULL WHERE id = ?`).run(runId);
}

export function setTrainRunRenderKey(db: Db, runId: number, keyId: number): void {
  db.prepare('UPDATE train_runs SET render_key_id = ? WHERE id = ?').run(keyId, runId);
}

/** The steps a run has finished. */
export function setTrainRunStep(db: Db, runId: number, step: number): void {
  db.prepare('UPDATE train_runs SET step = ? WHERE id = ?').run(step, runId);
}

export function setTrainRunCheckpoint(db: Db, runId: number, checkpointPath: string): void {
  db.prepare('UPDATE train_runs SET checkpoint_path = ? WHERE id = ?').run(checkpointPath, runId);
}

/** A cancelled run, with the step and checkpoint it resumes from. */
export function markTrainRunCancelled(db: Db, runId: number, step: number, checkpointPath: string): void {
  db.prepare(`UPDATE train_runs SET status = 'cancelled', step = ?, checkpoint_path = ? WHERE id = ?`).run(step, checkpointPath, runId);
}

export function markTrainRunDone(db: Db, runId: number, outDir: string, steps: number): void {
  db.prepare(`UPDATE train_runs SET status = 'done', out_dir = ?, step = ? WHERE id = ?`).run(outDir, steps, runId);
}

export function markTrainRunFailed(db: Db, runId: number, error: string): void {
  db.prepare(`UPDATE train_runs SET status = 'failed', error = ? WHERE id = ?`).run(error, runId);
}

/** Stores one point of a run's loss curve ('train' or 'eval'). */
export function trainMetricInserter(db: Db): (runId: number, step: number, split: string, loss: number, lr: number, tokensPerSec: number) => void {
  const ins = db.prepare('INSERT INTO train_metrics (run_id, step, split, loss, lr, tokens_per_sec) VALUES (?, ?, ?, ?, ?, ?)');
  return (runId, step, split, loss, lr, tokensPerSec) => void ins.run(runId, step, split, loss, lr, tokensPerSec);
}

/** Drops a run's metrics after `step` (a resumed run computes those steps again). */
export function deleteTrainMetricsAfter(db: Db, runId: number, step: number): void {
  db.prepare('DELETE FROM train_metrics WHERE run_id = ? AND step > ?').run(runId, step);
}

/** The rows a scope covers, by id: a subset's members, a dataset's rows, or every row. */
export function scopeExampleIds(db: Db, subsetId: number | null, datasetId?: number): number[] {
  if (subsetId !== null) return subsetMemberIds(db, subsetId);
  if (datasetId !== undefined) return db.prepare('SELECT id FROM examples WHERE dataset_id = ? ORDER BY id').pluck().all(datasetId) as number[];
  return db.prepare('SELECT id FROM examples ORDER BY id').pluck().all() as number[];
}

/** The datasets a scope's rows come from: a subset's, the one dataset, or every dataset. */
export function scopeDatasetIds(db: Db, subsetId: number | null, datasetId?: number): number[] {
  if (subsetId !== null) return datasetsOfSubset(db, subsetId);
  if (datasetId !== undefined) return [datasetId];
  return db.prepare('SELECT id FROM datasets ORDER BY id').pluck().all() as number[];
}
