import type { Migration } from './types';

/**
 * Full-text search over each example's full text (all message contents, or the raw text).
 * rowid = examples.id. Rows are written by the import (the text is derived from messages_json,
 * which SQL cannot flatten cheaply); the trigger keeps deletions in step.
 */
export const m002: Migration = {
  version: 2,
  name: 'examples_fts',
  up(db) {
    db.exec(`
CREATE VIRTUAL TABLE examples_fts USING fts5(text, tokenize = 'unicode61 remove_diacritics 2');
CREATE TRIGGER examples_fts_delete AFTER DELETE ON examples BEGIN
  DELETE FROM examples_fts WHERE rowid = old.id;
END;
-- examples imported before this migration: index their preview so search is never silently empty
INSERT INTO examples_fts (rowid, text) SELECT id, text_preview FROM examples;
`);
  },
};
