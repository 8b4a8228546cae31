/** Train runs as the UI lists them, and their metric curves. */
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Db } from '../db';
import { runLabel } from '../db/project-meta';
import { insertTrainRun, listTrainRunRows, trainMetricRows } from '../db/train-runs';
import { ADAPTER_CONFIG } from '../models/lora';
import type { JobStatus, TrainConfig, TrainMetric, TrainRunInfo } from '../../../preload/contract';

export function createTrainRun(db: Db, cfg: TrainConfig): number {
  return insertTrainRun(db, cfg);
}

export function listTrainRuns(db: Db): TrainRunInfo[] {
  const rows = listTrainRunRows(db);
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
  return trainMetricRows(db, runId);
}
