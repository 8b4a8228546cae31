import type { Migration } from './types';

/**
 * Named parameter masks (salience / gps): which entries of which tensors a run may change. One row per mask with its
 * provenance; one bitset per tensor that has at least one trainable entry (row-major, LSB first: entry i is bit i&7
 * of byte i>>3), so a mask costs an eighth of a byte per parameter of the tensors it opens.
 */
export const m007: Migration = {
  version: 7,
  name: 'param_masks',
  up(db) {
    db.exec(`
CREATE TABLE param_masks (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  model_id INTEGER REFERENCES models(id) ON DELETE CASCADE,
  method TEXT NOT NULL,
  trainable_params INTEGER NOT NULL,
  scope_params INTEGER NOT NULL,
  provenance_json TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE TABLE param_mask_tensors (
  mask_id INTEGER NOT NULL REFERENCES param_masks(id) ON DELETE CASCADE,
  tensor_name TEXT NOT NULL,
  shape_json TEXT NOT NULL,
  selected INTEGER NOT NULL,
  bits BLOB NOT NULL,
  PRIMARY KEY (mask_id, tensor_name)
);
`);
  },
};
