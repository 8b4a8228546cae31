import type { Migration } from './types';

/**
 * Per-example vector signals (e.g. `embedding`): one Float32 blob of `dim` values per run, example and signal.
 * Vectors are not sortable, so they live here and never become example_signals columns.
 */
export const m004: Migration = {
  version: 4,
  name: 'example_vectors',
  up(db) {
    db.exec(`
CREATE TABLE example_vectors (
  run_id INTEGER NOT NULL REFERENCES score_runs(id) ON DELETE CASCADE,
  example_id INTEGER NOT NULL REFERENCES examples(id) ON DELETE CASCADE,
  signal TEXT NOT NULL,
  dim INTEGER NOT NULL,
  vector BLOB NOT NULL,
  PRIMARY KEY (run_id, example_id, signal)
);
CREATE INDEX idx_example_vectors_example ON example_vectors(example_id, signal);
`);
  },
};
