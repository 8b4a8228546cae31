/** Train runs as the UI lists them, and their metric curves. */
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Db } from '../db';
import { ADAPTER_CONFIG } from '../models/lora';
import { runLabel } from './housekeeping';
import type { JobStatus, TrainConfig, TrainMetric, TrainRunInfo } from '../../../preload/contract';

interface RunRowDb {
  id: number; model_id: number; subset_id: number | null; config_json: string; status: string; step: number;
  total_steps: number; out_dir: string | null; job_id: string | null; out_model_id: number | null;
}

export function createTrainRun(db: Db, cfg: TrainConfig): number {
  const info = db
    .prepare(`INSERT INTO train_runs (model_id, subset_id, config_json, status, step, total_steps, created_at) VALUES (?, ?, ?, 'queued', 0, ?, datetime('now'))`)
    .run(cfg.modelId, cfg.subsetId, JSON.stringify(cfg), cfg.steps);
  return Number(info.lastInsertRowid);
}

export function listTrainRuns(db: Db): TrainRunInfo[] {
  const rows = db.prepare('SELECT * FROM train_runs ORDER BY id DESC').all() as RunRowDb[];
  return rows.map((r) => ({
    id: r.id,
    label: runLabel(db, 'train_run', r.id),
    jobId: r.job_id,
    modelId: r.model_id,
    subsetId: r.subset_id,
    status: r.status as JobStatus,
    step: r.step,
    totalSteps: r.total_steps,
    outDir: r.out_dir,
    outModelId: r.out_model_id,
    config: JSON.parse(r.config_json),
    adapter: adapterOf(r.out_dir),
  }));
}

/** The adapter folder a LoRA run writes next to its model folder (training/run.ts), with its files, once written. */
function adapterOf(outDir: string | null): TrainRunInfo['adapter'] {
  if (!outDir) return null;
  const dir = join(dirname(outDir), 'adapter');
  if (!existsSync(join(dir, ADAPTER_CONFIG))) return null;
  return { dir, files: readdirSync(dir).sort() };
}

export function trainMetrics(db: Db, runId: number): TrainMetric[] {
  return (
    db.prepare('SELECT step, split, loss, lr, tokens_per_sec AS tokensPerSec FROM train_metrics WHERE run_id = ? ORDER BY split, step').all(runId) as TrainMetric[]
  );
}
