import type { Migration } from './types';

/**
 * The project store (ARCHITECTURE.md "Data model"). Big arrays are blobs (little-endian typed arrays);
 * everything a table sorts or filters on is an indexed column.
 */
export const m001: Migration = {
  version: 1,
  name: 'initial',
  up(db) {
    db.exec(`
CREATE TABLE project_meta (key TEXT PRIMARY KEY, value TEXT);

CREATE TABLE datasets (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  source_path TEXT NOT NULL,
  format TEXT NOT NULL,
  mapping_json TEXT NOT NULL,
  hash TEXT NOT NULL,
  row_count INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL
);

CREATE TABLE examples (
  id INTEGER PRIMARY KEY,
  dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
  row_index INTEGER NOT NULL,
  raw_json TEXT NOT NULL,
  messages_json TEXT NOT NULL,
  text_preview TEXT NOT NULL,
  norm_hash TEXT NOT NULL,
  n_chars INTEGER NOT NULL,
  UNIQUE (dataset_id, row_index)
);
CREATE INDEX idx_examples_norm_hash ON examples(norm_hash);
CREATE INDEX idx_examples_n_chars ON examples(n_chars);

-- tokenizer_id: a row fails for one tokenizer/template, not for all
CREATE TABLE render_errors (
  dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
  row_index INTEGER NOT NULL,
  tokenizer_id TEXT NOT NULL,
  reason TEXT NOT NULL,
  PRIMARY KEY (dataset_id, row_index, tokenizer_id)
);

CREATE TABLE import_skips (
  dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
  line INTEGER NOT NULL,
  reason TEXT NOT NULL,
  raw TEXT
);
CREATE INDEX idx_import_skips_dataset ON import_skips(dataset_id, line);

CREATE TABLE models (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  path TEXT NOT NULL,
  architecture TEXT NOT NULL,
  config_json TEXT NOT NULL,
  hash TEXT NOT NULL,
  created_at TEXT NOT NULL
);

-- label_policy/max_tokens: the mask depends on them, so a cached render is reused only when they match
CREATE TABLE renders (
  example_id INTEGER NOT NULL REFERENCES examples(id) ON DELETE CASCADE,
  tokenizer_id TEXT NOT NULL,
  token_ids BLOB NOT NULL,
  offsets BLOB NOT NULL,
  roles BLOB NOT NULL,
  label_mask BLOB NOT NULL,
  n_tokens INTEGER NOT NULL,
  n_label INTEGER NOT NULL,
  truncated INTEGER NOT NULL DEFAULT 0,
  label_policy TEXT NOT NULL,
  max_tokens INTEGER,
  PRIMARY KEY (example_id, tokenizer_id)
);
CREATE INDEX idx_renders_tokenizer ON renders(tokenizer_id, n_tokens);

CREATE TABLE score_runs (
  id INTEGER PRIMARY KEY,
  model_id INTEGER REFERENCES models(id) ON DELETE SET NULL,
  ref_model_id INTEGER REFERENCES models(id) ON DELETE SET NULL,
  dataset_id INTEGER REFERENCES datasets(id) ON DELETE CASCADE,
  signals_json TEXT NOT NULL,
  params_json TEXT NOT NULL,
  status TEXT NOT NULL,
  cursor INTEGER NOT NULL DEFAULT 0,
  total INTEGER,
  created_at TEXT NOT NULL,
  finished_at TEXT,
  error TEXT
);

-- Latest value of each per-example signal, one REAL column per signal (added by ensureSignalColumn)
-- so every signal sorts and filters through its own index.
CREATE TABLE example_signals (
  example_id INTEGER PRIMARY KEY REFERENCES examples(id) ON DELETE CASCADE
);

-- History: every run's values.
CREATE TABLE example_scores (
  run_id INTEGER NOT NULL REFERENCES score_runs(id) ON DELETE CASCADE,
  example_id INTEGER NOT NULL REFERENCES examples(id) ON DELETE CASCADE,
  signal TEXT NOT NULL,
  value REAL,
  PRIMARY KEY (run_id, example_id, signal)
);
CREATE INDEX idx_example_scores_example ON example_scores(example_id, signal);

CREATE TABLE token_scores (
  run_id INTEGER NOT NULL REFERENCES score_runs(id) ON DELETE CASCADE,
  example_id INTEGER NOT NULL REFERENCES examples(id) ON DELETE CASCADE,
  signal TEXT NOT NULL,
  "values" BLOB NOT NULL,
  PRIMARY KEY (run_id, example_id, signal)
);

CREATE TABLE layer_scores (
  run_id INTEGER NOT NULL REFERENCES score_runs(id) ON DELETE CASCADE,
  tensor_name TEXT NOT NULL,
  block INTEGER,
  kind TEXT NOT NULL,
  signal TEXT NOT NULL,
  value REAL,
  PRIMARY KEY (run_id, tensor_name, signal)
);

CREATE TABLE subsets (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  rule_json TEXT NOT NULL,
  size INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL
);

CREATE TABLE subset_members (
  subset_id INTEGER NOT NULL REFERENCES subsets(id) ON DELETE CASCADE,
  example_id INTEGER NOT NULL REFERENCES examples(id) ON DELETE CASCADE,
  PRIMARY KEY (subset_id, example_id)
) WITHOUT ROWID;
CREATE INDEX idx_subset_members_example ON subset_members(example_id);

CREATE TABLE token_masks (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  example_id INTEGER NOT NULL REFERENCES examples(id) ON DELETE CASCADE,
  tokenizer_id TEXT NOT NULL,
  mask BLOB NOT NULL,
  provenance_json TEXT NOT NULL,
  UNIQUE (name, example_id, tokenizer_id)
);

CREATE TABLE layer_masks (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  model_id INTEGER REFERENCES models(id) ON DELETE CASCADE,
  tensors_json TEXT NOT NULL,
  provenance_json TEXT NOT NULL,
  created_at TEXT NOT NULL
);

CREATE TABLE train_runs (
  id INTEGER PRIMARY KEY,
  model_id INTEGER REFERENCES models(id) ON DELETE SET NULL,
  subset_id INTEGER REFERENCES subsets(id) ON DELETE SET NULL,
  config_json TEXT NOT NULL,
  status TEXT NOT NULL,
  step INTEGER NOT NULL DEFAULT 0,
  total_steps INTEGER,
  checkpoint_path TEXT,
  out_dir TEXT,
  created_at TEXT NOT NULL,
  error TEXT
);

CREATE TABLE train_metrics (
  run_id INTEGER NOT NULL REFERENCES train_runs(id) ON DELETE CASCADE,
  step INTEGER NOT NULL,
  split TEXT NOT NULL,
  loss REAL,
  lr REAL,
  tokens_per_sec REAL
);
CREATE INDEX idx_train_metrics_run ON train_metrics(run_id, split, step);

CREATE TABLE exports (
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL,
  out_path TEXT NOT NULL,
  manifest_json TEXT NOT NULL,
  created_at TEXT NOT NULL
);

CREATE TABLE jobs (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  status TEXT NOT NULL,
  params_json TEXT NOT NULL,
  current INTEGER NOT NULL DEFAULT 0,
  total INTEGER,
  message TEXT,
  error_json TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE INDEX idx_jobs_status ON jobs(status);
`);
  },
};
