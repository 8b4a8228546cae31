import type { Migration } from './types';
import { blobToFloat32 } from '../blobs';

/**
 * Clusterings and map layouts get tables of their own. Until now a K-means run stored its assignments as the `cluster`
 * signal's rows in example_scores and a UMAP layout its points as 2-value `umap` vectors in example_vectors, mixed in
 * with the scoring signals. Each run keeps its score_runs row (parameters, status, job, deletion with its dataset);
 * the per-example data gets a table:
 * - cluster_assignments: one cluster number per (run, example), copied from example_scores. Those rows stay there
 *   too, as the history of the `cluster` Examples-table column, the same as every column's: deleting a clustering
 *   run puts the previous one's numbers back in the column from them, and a re-map clears them;
 * - layout_points: one x, y per (run, example) of a 2-D layout, moved out of example_vectors.
 */
export const m014: Migration = {
  version: 14,
  name: 'clusters_layouts',
  up(db) {
    db.exec(`
CREATE TABLE cluster_assignments (
  run_id INTEGER NOT NULL REFERENCES score_runs(id) ON DELETE CASCADE,
  example_id INTEGER NOT NULL REFERENCES examples(id) ON DELETE CASCADE,
  cluster INTEGER NOT NULL,
  PRIMARY KEY (run_id, example_id)
) WITHOUT ROWID;
CREATE INDEX idx_cluster_assignments_example ON cluster_assignments(example_id);
CREATE TABLE layout_points (
  run_id INTEGER NOT NULL REFERENCES score_runs(id) ON DELETE CASCADE,
  example_id INTEGER NOT NULL REFERENCES examples(id) ON DELETE CASCADE,
  x REAL NOT NULL,
  y REAL NOT NULL,
  PRIMARY KEY (run_id, example_id)
) WITHOUT ROWID;
CREATE INDEX idx_layout_points_example ON layout_points(example_id);
INSERT INTO cluster_assignments (run_id, example_id, cluster)
  SELECT s.run_id, s.example_id, CAST(s.value AS INTEGER) FROM example_scores s JOIN score_runs r ON r.id = s.run_id
  WHERE r.signals_json = '["cluster"]' AND s.signal = 'cluster' AND s.value IS NOT NULL;
`);
    // the layout points were Float32 blobs: decoded here, as SQL cannot read them
    const put = db.prepare('INSERT INTO layout_points (run_id, example_id, x, y) VALUES (?, ?, ?, ?)');
    const rows = db.prepare(`SELECT run_id, example_id, vector FROM example_vectors WHERE signal = 'umap'`).iterate() as IterableIterator<{ run_id: number; example_id: number; vector: Buffer }>;
    const moved: Array<[number, number, number, number]> = [];
    for (const r of rows) {
      const v = blobToFloat32(r.vector);
      moved.push([r.run_id, r.example_id, v[0]!, v[1]!]);
    }
    for (const m of moved) put.run(...m);
    db.exec(`DELETE FROM example_vectors WHERE signal = 'umap'`);
  },
};
