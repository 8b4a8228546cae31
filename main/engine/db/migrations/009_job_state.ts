import type { Migration } from './types';

/**
 * Resumable parameter masks:
 * - `job_state` holds the running state of a job that has no run row of its own (the parameter-mask gradient pass:
 *   its cursor, the chosen example ids and the per-tensor float32 sums as blobs), keyed like `score_pass_state` but by
 *   job id. Written as the pass goes and deleted in the transaction that saves the mask (or when the user discards it);
 * - `param_masks.example_ids` lists the examples of the mask's gradient pass (int32 blob, pass order), so a training
 *   run can tell whether its held-out rows were among them. NULL for masks saved before this migration.
 */
export const m009: Migration = {
  version: 9,
  name: 'job_state',
  up(db) {
    db.exec(`
CREATE TABLE job_state (
  job_id TEXT NOT NULL,
  pass TEXT NOT NULL,
  key TEXT NOT NULL,
  value BLOB,
  PRIMARY KEY (job_id, pass, key)
);
ALTER TABLE param_masks ADD COLUMN example_ids BLOB;
`);
  },
};
