import type { Migration } from './types';

/**
 * Faster imports and a later-changeable mapping:
 * - the search index becomes contentless (the text is derived from each row, never stored a second time) and is
 *   built after the import commits; `datasets.text_indexed_upto` is the example id up to which a dataset is indexed;
 * - `idx_examples_norm_hash` goes: no query looks rows up by hash (duplicates read them in id order), and keeping a
 *   random-order index up to date was a third of an import's write time;
 * - `subsets.stale_reason` says why a subset's basis changed (e.g. its dataset was re-mapped and its scores deleted).
 * Rows imported from now on store `messages_json` and `text_preview` as '' (derived from raw_json and the dataset's
 * mapping when read); older rows keep theirs.
 */
export const m008: Migration = {
  version: 8,
  name: 'fast_import',
  up(db) {
    db.exec(`
DROP INDEX IF EXISTS idx_examples_norm_hash;
ALTER TABLE datasets ADD COLUMN text_indexed_upto INTEGER NOT NULL DEFAULT 0;
UPDATE datasets SET text_indexed_upto = COALESCE((SELECT MAX(id) FROM examples WHERE dataset_id = datasets.id), 0);
CREATE VIRTUAL TABLE examples_fts_new USING fts5(text, tokenize = 'unicode61 remove_diacritics 2', content = '', contentless_delete = 1);
INSERT INTO examples_fts_new (rowid, text) SELECT rowid, text FROM examples_fts;
DROP TRIGGER examples_fts_delete;
DROP TABLE examples_fts;
ALTER TABLE examples_fts_new RENAME TO examples_fts;
CREATE TRIGGER examples_fts_delete AFTER DELETE ON examples BEGIN
  DELETE FROM examples_fts WHERE rowid = old.id;
END;
ALTER TABLE subsets ADD COLUMN stale_reason TEXT;
`);
  },
};
