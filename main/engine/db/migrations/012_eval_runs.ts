import type { Migration } from './types';

/**
 * Generation and evaluation runs (Playground, experiment report):
 * - `eval_runs`: one row per model evaluated on a held-out set — the base model, or a train run's merged model or
 *   base + adapter — with what it was asked (params_json), the metrics it came to (metrics_json, set when it finishes)
 *   and the job that ran it;
 * - `eval_rows`: what that model did with each held-out row, written per finished batch, so a cancelled or crashed
 *   job resumes after the last saved row: the prompt, the reference answer, the completion and its answer checks,
 *   and the reference's tokens with the model's loss on each (the Playground's loss colouring).
 */
export const m012: Migration = {
  version: 12,
  name: 'eval_runs',
  up(db) {
    db.exec(`
CREATE TABLE eval_runs (
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL,
  job_id TEXT,
  model_id INTEGER NOT NULL REFERENCES models(id),
  train_run_id INTEGER REFERENCES train_runs(id) ON DELETE CASCADE,
  model_path TEXT NOT NULL,
  adapter_path TEXT,
  subset_id INTEGER REFERENCES subsets(id) ON DELETE SET NULL,
  data_path TEXT,
  params_json TEXT NOT NULL,
  status TEXT NOT NULL,
  total_rows INTEGER NOT NULL DEFAULT 0,
  metrics_json TEXT,
  created_at TEXT NOT NULL
);
CREATE INDEX idx_eval_runs_train ON eval_runs(train_run_id);

CREATE TABLE eval_rows (
  eval_run_id INTEGER NOT NULL REFERENCES eval_runs(id) ON DELETE CASCADE,
  row_index INTEGER NOT NULL,
  example_id INTEGER REFERENCES examples(id) ON DELETE SET NULL,
  prompt TEXT NOT NULL,
  reference TEXT,
  completion TEXT,
  finish_reason TEXT,
  prediction TEXT,
  reference_answer TEXT,
  correct INTEGER,
  label_prediction TEXT,
  label_correct INTEGER,
  token_texts TEXT NOT NULL,
  label_mask BLOB NOT NULL,
  token_loss BLOB NOT NULL,
  loss_sum REAL NOT NULL,
  loss_tokens INTEGER NOT NULL,
  PRIMARY KEY (eval_run_id, row_index)
) WITHOUT ROWID;
`);
  },
};
