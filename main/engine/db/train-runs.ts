/** The `train_runs` and `train_metrics` tables as the API reads and writes them (the training job writes its own). */
import type { Db } from './open';
import type { TrainConfig, TrainMetric } from '../../../preload/contract';

export interface TrainRunRowDb {
  id: number; model_id: number; subset_id: number | null; config_json: string; status: string; step: number;
  total_steps: number; out_dir: string | null; job_id: string | null; out_model_id: number | null;
}

/** Stores a run as queued, at step 0 of cfg.steps. */
export function insertTrainRun(db: Db, cfg: TrainConfig): number {
  const info = db
    .prepare(`INSERT INTO train_runs (model_id, subset_id, config_json, status, step, total_steps, created_at) VALUES (?, ?, ?, 'queued', 0, ?, datetime('now'))`)
    .run(cfg.modelId, cfg.subsetId, JSON.stringify(cfg), cfg.steps);
  return Number(info.lastInsertRowid);
}

/** Every run, newest first. */
export function listTrainRunRows(db: Db): TrainRunRowDb[] {
  return db.prepare('SELECT * FROM train_runs ORDER BY id DESC').all() as TrainRunRowDb[];
}

export function setTrainRunJob(db: Db, id: number, jobId: string): void {
  db.prepare('UPDATE train_runs SET job_id = ? WHERE id = ?').run(jobId, id);
}

/** The model a finished run produced (registered when its job finished). */
export function setTrainRunOutModel(db: Db, id: number, modelId: number): void {
  db.prepare('UPDATE train_runs SET out_model_id = ? WHERE id = ?').run(modelId, id);
}

/** A run's loss curve: train then eval points, each by step. */
export function trainMetricRows(db: Db, runId: number): TrainMetric[] {
  return db.prepare('SELECT step, split, loss, lr, tokens_per_sec AS tokensPerSec FROM train_metrics WHERE run_id = ? ORDER BY split, step').all(runId) as TrainMetric[];
}
