/** Evaluation runs as the Playground and the experiment report list them (eval_runs, eval_rows; migration 011). */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Db } from '../db';
import { blobToFloat32, blobToUint8 } from '../db/blobs';
import { compileAnswerRegex } from '../eval/metrics';
import { assertAdapterFolder } from '../models/lora';
import { WinnowError } from '../util/errors';
import type { ApiParsedInput, EvalRowView, EvalRunInfo, JobStatus } from '../../../preload/contract';
import { getModel, modelPath } from './models-registry';
import { getSubset } from '../selection/subsets';

interface EvalRunDb {
  id: number; kind: string; job_id: string | null; model_id: number; train_run_id: number | null; adapter_path: string | null; subset_id: number | null;
  data_path: string | null; params_json: string; status: string; total_rows: number; metrics_json: string | null; created_at: string; done_rows: number;
}

/**
 * Checks an eval.start call and stores its run (status queued): which weights it loads — the base model's folder, a
 * train run's merged model folder, or the base with the run's adapter — and the rows it answers. Refused here, before
 * a job starts: an unfinished run, a run with no adapter when one is asked, a missing subset or file, a bad regex.
 */
export function createEvalRun(db: Db, i: ApiParsedInput<'eval.start'>): number {
  getModel(db, i.modelId);
  if ((i.subsetId === undefined) === (i.dataPath === undefined)) throw new WinnowError('bad_input', 'give the held-out rows as a subset (subsetId) or a data file (dataPath), one of the two');
  if (i.subsetId !== undefined) getSubset(db, i.subsetId);
  const dataPath = i.dataPath !== undefined ? resolve(i.dataPath) : null;
  if (dataPath !== null && !existsSync(dataPath)) throw new WinnowError('not_found', `${dataPath}: no such file`, { file: dataPath });
  compileAnswerRegex(i.answerRegex);
  let modelDir = modelPath(db, i.modelId);
  let adapter: string | null = null;
  if (i.trainRunId !== undefined) {
    const run = db.prepare('SELECT model_id, status, out_dir FROM train_runs WHERE id = ?').get(i.trainRunId) as { model_id: number; status: string; out_dir: string | null } | undefined;
    if (!run) throw new WinnowError('not_found', `train run ${i.trainRunId} not found`);
    if (run.status !== 'done' || !run.out_dir) throw new WinnowError('conflict', `train run ${i.trainRunId} is ${run.status}: only a finished run has a model to evaluate`);
    if (run.model_id !== i.modelId) throw new WinnowError('bad_input', `train run ${i.trainRunId} tuned model ${run.model_id}, not model ${i.modelId}`);
    if (i.adapter) {
      adapter = join(dirname(run.out_dir), 'adapter');
      if (!existsSync(adapter)) throw new WinnowError('not_found', `train run ${i.trainRunId} has no adapter (it was not a LoRA run): evaluate its merged model instead`);
      assertAdapterFolder(adapter);
    } else modelDir = run.out_dir;
  }
  const params = {
    metrics: i.kind === 'generate' ? [] : i.metrics, answerRegex: i.answerRegex, labels: i.labels, maxNewTokens: i.maxNewTokens,
    temperature: i.temperature, seed: i.seed, batchSize: i.batchSize, maxTokens: i.maxTokens, limit: i.limit,
  };
  return Number(db.prepare(`INSERT INTO eval_runs (kind, model_id, train_run_id, model_path, adapter_path, subset_id, data_path, params_json, status, created_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'queued', datetime('now'))`)
    .run(i.kind, i.modelId, i.trainRunId ?? null, modelDir, adapter, i.subsetId ?? null, dataPath, JSON.stringify(params)).lastInsertRowid);
}

export function listEvalRuns(db: Db, trainRunId?: number): EvalRunInfo[] {
  const where = trainRunId === undefined ? '' : trainRunId === 0 ? 'WHERE r.train_run_id IS NULL' : 'WHERE r.train_run_id = ?';
  // an unfinished run's status is its job's (an engine that died mid-job leaves the run 'running' and fails the job)
  const rows = db.prepare(`SELECT r.*, (SELECT COUNT(*) FROM eval_rows w WHERE w.eval_run_id = r.id) AS done_rows,
      CASE WHEN r.status = 'done' THEN 'done' ELSE COALESCE((SELECT j.status FROM jobs j WHERE j.id = r.job_id), r.status) END AS status
    FROM eval_runs r ${where} ORDER BY r.id DESC`)
    .all(...(trainRunId ? [trainRunId] : [])) as EvalRunDb[];
  return rows.map((r) => ({
    id: r.id,
    kind: r.kind as EvalRunInfo['kind'],
    jobId: r.job_id,
    modelId: r.model_id,
    trainRunId: r.train_run_id,
    adapter: r.adapter_path !== null,
    subsetId: r.subset_id,
    dataPath: r.data_path,
    status: r.status as JobStatus,
    totalRows: r.total_rows,
    doneRows: r.done_rows,
    params: JSON.parse(r.params_json),
    metrics: r.metrics_json ? JSON.parse(r.metrics_json) : null,
    createdAt: r.created_at,
  }));
}

export function evalRows(db: Db, evalRunId: number, offset: number, limit: number): EvalRowView[] {
  if (!db.prepare('SELECT 1 FROM eval_runs WHERE id = ?').get(evalRunId)) throw new WinnowError('not_found', `evaluation run ${evalRunId} not found`);
  const rows = db.prepare('SELECT * FROM eval_rows WHERE eval_run_id = ? ORDER BY row_index LIMIT ? OFFSET ?').all(evalRunId, limit, offset) as Array<{
    row_index: number; example_id: number | null; prompt: string; reference: string | null; completion: string | null; finish_reason: string | null;
    prediction: string | null; reference_answer: string | null; correct: number | null; label_prediction: string | null; label_correct: number | null;
    token_texts: string; label_mask: Buffer; token_loss: Buffer; loss_sum: number; loss_tokens: number;
  }>;
  return rows.map((r) => {
    const mask = blobToUint8(r.label_mask);
    const loss = blobToFloat32(r.token_loss);
    return {
      rowIndex: r.row_index,
      exampleId: r.example_id,
      prompt: r.prompt,
      reference: r.reference,
      completion: r.completion,
      finishReason: r.finish_reason,
      prediction: r.prediction,
      referenceAnswer: r.reference_answer,
      correct: r.correct === null ? null : r.correct === 1,
      labelPrediction: r.label_prediction,
      labelCorrect: r.label_correct === null ? null : r.label_correct === 1,
      tokens: (JSON.parse(r.token_texts) as string[]).map((text, t) => ({ text, label: mask[t] === 1 })),
      tokenLoss: Array.from(loss, (v) => (Number.isFinite(v) ? v : null)),
      loss: r.loss_tokens ? r.loss_sum / r.loss_tokens : null,
    };
  });
}
