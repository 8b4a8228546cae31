/** Evaluation runs as the Playground and the experiment report list them (eval_runs, eval_rows; migration 011). */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Db } from '../db';
import { blobToFloat32, blobToUint8 } from '../db/blobs';
import { evalRowPage, evalRunExists, insertEvalRun, listEvalRunRows } from '../db/eval-runs';
import { trainRunRow } from '../db/training';
import { compileAnswerRegex } from '../eval/metrics';
import { assertAdapterFolder } from '../models/lora';
import { WinnowError } from '../util/errors';
import type { ApiParsedInput, EvalRowView, EvalRunInfo, JobStatus } from '../../../preload/contract';
import { getModel, modelPath } from './models-registry';
import { getSubset } from '../selection/subsets';

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
    const run = trainRunRow(db, i.trainRunId);
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
  return insertEvalRun(db, { kind: i.kind, modelId: i.modelId, trainRunId: i.trainRunId ?? null, modelPath: modelDir, adapterPath: adapter, subsetId: i.subsetId ?? null, dataPath, params });
}

export function listEvalRuns(db: Db, trainRunId?: number): EvalRunInfo[] {
  // an unfinished run's status is its job's (an engine that died mid-job leaves the run 'running' and fails the job)
  const rows = listEvalRunRows(db, trainRunId);
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
  if (!evalRunExists(db, evalRunId)) throw new WinnowError('not_found', `evaluation run ${evalRunId} not found`);
  const rows = evalRowPage(db, evalRunId, offset, limit);
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
