import type { Migration } from './types';

/**
 * S2L's loss trajectories: the mean response loss of every example of a training run's data (train and eval rows) at
 * each of its checkpoints, one row per (run, step, example). Recorded during the run (`recordTrajectories`), because
 * the run keeps only its latest checkpoint on disk: the earlier ones are gone by the time a job could read them.
 */
export const m013: Migration = {
  version: 13,
  name: 'loss_trajectories',
  up(db) {
    db.exec(`
CREATE TABLE loss_trajectories (
  run_id INTEGER NOT NULL REFERENCES train_runs(id) ON DELETE CASCADE,
  step INTEGER NOT NULL,
  example_id INTEGER NOT NULL REFERENCES examples(id) ON DELETE CASCADE,
  loss REAL NOT NULL,
  PRIMARY KEY (run_id, step, example_id)
) WITHOUT ROWID;
`);
  },
};
