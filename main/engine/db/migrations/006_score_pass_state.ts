import type { Migration } from './types';

/**
 * Running state of a scoring pass that only finishes at the end (the gradient pass: per-tensor sums, the target
 * set's mean projected gradient, its cursor). Written in the same transaction as each finished batch so a killed
 * job resumes from the last finished batch; deleted when the pass writes its results.
 */
export const m006: Migration = {
  version: 6,
  name: 'score_pass_state',
  up(db) {
    db.exec(`
CREATE TABLE score_pass_state (
  run_id INTEGER NOT NULL REFERENCES score_runs(id) ON DELETE CASCADE,
  pass TEXT NOT NULL,
  key TEXT NOT NULL,
  value BLOB,
  PRIMARY KEY (run_id, pass, key)
);
`);
  },
};
