import type { Migration } from './types';

/**
 * Links between jobs, runs and models: a job's final figures (stats_json), the job that drives a score or train run
 * (so resume finds its cursor), and the model a train run produced (so it can be re-scored for learnability).
 */
export const m003: Migration = {
  version: 3,
  name: 'jobs_and_runs',
  up(db) {
    db.exec(`
ALTER TABLE jobs ADD COLUMN stats_json TEXT;
ALTER TABLE score_runs ADD COLUMN job_id TEXT;
ALTER TABLE train_runs ADD COLUMN job_id TEXT;
ALTER TABLE train_runs ADD COLUMN out_model_id INTEGER REFERENCES models(id) ON DELETE SET NULL;
ALTER TABLE models ADD COLUMN train_run_id INTEGER REFERENCES train_runs(id) ON DELETE SET NULL;
CREATE INDEX idx_score_runs_job ON score_runs(job_id);
CREATE INDEX idx_train_runs_job ON train_runs(job_id);
CREATE UNIQUE INDEX idx_models_path ON models(path);
`);
  },
};
