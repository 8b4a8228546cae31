/**
 * The `eval_runs` and `eval_rows` tables (migration 011): evaluation runs and their saved rows. Also the score run a
 * critical-tokens pass stores (eval/critical-run.ts): its token values are read back by the critical training policy.
 */
import type { Db } from './open';
import { blobToFloat32, toBlob } from './blobs';

/** A run as eval.start stores it, with the weights it loads (model folder, adapter) resolved. */
export interface NewEvalRun {
  kind: string; modelId: number; trainRunId: number | null; modelPath: string; adapterPath: string | null; subsetId: number | null;
  dataPath: string | null; params: unknown;
}

/** Stores a run as queued. */
export function insertEvalRun(db: Db, r: NewEvalRun): number {
  return Number(db.prepare(`INSERT INTO eval_runs (kind, model_id, train_run_id, model_path, adapter_path, subset_id, data_path, params_json, status, created_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'queued', datetime('now'))`)
    .run(r.kind, r.modelId, r.trainRunId, r.modelPath, r.adapterPath, r.subsetId, r.dataPath, JSON.stringify(r.params)).lastInsertRowid);
}

export interface EvalRunListRowDb {
  id: number; kind: string; job_id: string | null; model_id: number; train_run_id: number | null; adapter_path: string | null; subset_id: number | null;
  data_path: string | null; params_json: string; status: string; total_rows: number; metrics_json: string | null; created_at: string; done_rows: number;
}

/**
 * Runs newest first, each with its saved rows counted; those of one train run, or with 0 those of no train run. An
 * unfinished run's status is its job's (an engine that died mid-job leaves the run 'running' and fails the job).
 */
export function listEvalRunRows(db: Db, trainRunId?: number): EvalRunListRowDb[] {
  const where = trainRunId === undefined ? '' : trainRunId === 0 ? 'WHERE r.train_run_id IS NULL' : 'WHERE r.train_run_id = ?';
  return db.prepare(`SELECT r.*, (SELECT COUNT(*) FROM eval_rows w WHERE w.eval_run_id = r.id) AS done_rows,
      CASE WHEN r.status = 'done' THEN 'done' ELSE COALESCE((SELECT j.status FROM jobs j WHERE j.id = r.job_id), r.status) END AS status
    FROM eval_runs r ${where} ORDER BY r.id DESC`)
    .all(...(trainRunId ? [trainRunId] : [])) as EvalRunListRowDb[];
}

export function evalRunExists(db: Db, id: number): boolean {
  return !!db.prepare('SELECT 1 FROM eval_runs WHERE id = ?').get(id);
}

/** What the eval job needs of its run: the weights, the held-out rows and params_json. */
export interface EvalRunJobRowDb {
  id: number; kind: string; model_path: string; adapter_path: string | null; subset_id: number | null; data_path: string | null; params_json: string;
}

export function evalRunForJob(db: Db, id: number): EvalRunJobRowDb | undefined {
  return db.prepare('SELECT id, kind, model_path, adapter_path, subset_id, data_path, params_json FROM eval_runs WHERE id = ?').get(id) as EvalRunJobRowDb | undefined;
}

export function setEvalRunJob(db: Db, id: number, jobId: string): void {
  db.prepare('UPDATE eval_runs SET job_id = ? WHERE id = ?').run(jobId, id);
}

/** The run's job started it on `totalRows` held-out rows. */
export function markEvalRunRunning(db: Db, id: number, jobId: string, totalRows: number): void {
  db.prepare(`UPDATE eval_runs SET status = 'running', job_id = ?, total_rows = ? WHERE id = ?`).run(jobId, totalRows, id);
}

export function markEvalRunDone(db: Db, id: number, metrics: unknown): void {
  db.prepare(`UPDATE eval_runs SET status = 'done', metrics_json = ? WHERE id = ?`).run(JSON.stringify(metrics), id);
}

export function setEvalRunStatus(db: Db, id: number, status: string): void {
  db.prepare('UPDATE eval_runs SET status = ? WHERE id = ?').run(status, id);
}

export interface EvalRowDb {
  row_index: number; example_id: number | null; prompt: string; reference: string | null; completion: string | null; finish_reason: string | null;
  prediction: string | null; reference_answer: string | null; correct: number | null; label_prediction: string | null; label_correct: number | null;
  token_texts: string; label_mask: Buffer; token_loss: Buffer; loss_sum: number; loss_tokens: number;
}

/** A page of a run's saved rows, by row index. */
export function evalRowPage(db: Db, evalRunId: number, offset: number, limit: number): EvalRowDb[] {
  return db.prepare('SELECT * FROM eval_rows WHERE eval_run_id = ? ORDER BY row_index LIMIT ? OFFSET ?').all(evalRunId, limit, offset) as EvalRowDb[];
}

/** Row indexes already saved (a resumed job skips them). */
export function savedEvalRowIndexes(db: Db, evalRunId: number): number[] {
  return db.prepare('SELECT row_index FROM eval_rows WHERE eval_run_id = ?').pluck().all(evalRunId) as number[];
}

/** One row to save; token_loss and label_mask are stored as blobs. */
export interface NewEvalRow {
  rowIndex: number; exampleId: number | null; prompt: string; reference: string | null; completion: string | null; finishReason: string | null;
  prediction: string | null; referenceAnswer: string | null; correct: number | null; labelPrediction: string | null; labelCorrect: number | null;
  tokenTexts: string[]; labelMask: Uint8Array; tokenLoss: Float32Array; lossSum: number; lossTokens: number;
}

/** A writer of a run's rows (saving a row again replaces it), with its statement prepared once. */
export function evalRowWriter(db: Db, evalRunId: number): (r: NewEvalRow) => void {
  const insert = db.prepare(`INSERT OR REPLACE INTO eval_rows (eval_run_id, row_index, example_id, prompt, reference, completion, finish_reason, prediction,
      reference_answer, correct, label_prediction, label_correct, token_texts, label_mask, token_loss, loss_sum, loss_tokens)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  return (r) => {
    insert.run(evalRunId, r.rowIndex, r.exampleId, r.prompt, r.reference, r.completion, r.finishReason, r.prediction, r.referenceAnswer, r.correct,
      r.labelPrediction, r.labelCorrect, JSON.stringify(r.tokenTexts), toBlob(r.labelMask), toBlob(r.tokenLoss), r.lossSum, r.lossTokens);
  };
}

/** Sums over a run's saved rows: how many, the means of correct and label_correct (null when none was checked), Σ loss and Σ answer tokens. */
export function evalRowTotals(db: Db, evalRunId: number): { n: number; em: number | null; acc: number | null; s: number | null; t: number | null } {
  return db.prepare(`SELECT COUNT(*) AS n, AVG(correct) AS em, AVG(label_correct) AS acc, SUM(loss_sum) AS s, SUM(loss_tokens) AS t
    FROM eval_rows WHERE eval_run_id = ?`).get(evalRunId) as { n: number; em: number | null; acc: number | null; s: number | null; t: number | null };
}

export interface HeldOutExampleDb { id: number; datasetId: number; rowIndex: number; rawJson: string; messagesJson: string }

/** A subset's examples in id order, the first `limit` when given: an evaluation's held-out rows. */
export function subsetExamplesForEval(db: Db, subsetId: number, limit?: number): HeldOutExampleDb[] {
  return db.prepare(`SELECT e.id, e.dataset_id AS datasetId, e.row_index AS rowIndex, e.raw_json AS rawJson, e.messages_json AS messagesJson
      FROM subset_members s JOIN examples e ON e.id = s.example_id WHERE s.subset_id = ? ORDER BY e.id${limit ? ' LIMIT ?' : ''}`)
    .all(...(limit ? [subsetId, limit] : [subsetId])) as HeldOutExampleDb[];
}

/**
 * Stores a finished critical-tokens pass as a done score run of the 'critical' token signal, with each example's
 * values (`rows`: its cursor and total, the examples it examined); its id. The caller holds the transaction.
 */
export function insertCriticalRun(
  db: Db,
  r: { modelId: number; datasetId: number | null; params: unknown; rows: number; renderKeyId: number },
  values: Map<number, Float32Array>,
): number {
  const id = Number(db.prepare(
    `INSERT INTO score_runs (model_id, ref_model_id, dataset_id, signals_json, params_json, status, cursor, total, created_at, finished_at, job_id, render_key_id)
     VALUES (?, NULL, ?, ?, ?, 'done', ?, ?, datetime('now'), datetime('now'), NULL, ?)`,
  ).run(r.modelId, r.datasetId, JSON.stringify(['critical']), JSON.stringify(r.params), r.rows, r.rows, r.renderKeyId).lastInsertRowid);
  const insert = db.prepare('INSERT INTO token_scores (run_id, example_id, signal, "values") VALUES (?, ?, ?, ?)');
  for (const [exampleId, v] of values) insert.run(id, exampleId, 'critical', toBlob(v));
  return id;
}

/** One example's stored critical-token values of a run; null when it has none. */
export function storedCriticalValues(db: Db, runId: number, exampleId: number): Float32Array | null {
  const blob = db.prepare(`SELECT "values" FROM token_scores WHERE run_id = ? AND example_id = ? AND signal = 'critical'`).pluck().get(runId, exampleId) as Buffer | undefined;
  return blob ? blobToFloat32(blob) : null;
}
