import type { Migration } from './types';

/**
 * Sorting the example table by token counts walks renders in (tokenizer, count) order; with the example id in the
 * index the walk never visits the table (the blobs), and a dataset's id range is tested on the index entry.
 * The new (tokenizer_id, n_tokens, example_id) index serves everything the old (tokenizer_id, n_tokens) one did.
 */
export const m005: Migration = {
  version: 5,
  name: 'render_sort_indexes',
  up(db) {
    db.exec(`
CREATE INDEX idx_renders_tok_ntokens ON renders(tokenizer_id, n_tokens, example_id);
CREATE INDEX idx_renders_tok_nlabel ON renders(tokenizer_id, n_label, example_id);
DROP INDEX idx_renders_tokenizer;
`);
  },
};
