/**
 * The `embedding` signal's vectors (example_vectors, migration 004) as the selection code reads them: the latest
 * scoring run's vector per example. Turning them into a matrix is selection/ work (selection/embeddings.ts).
 */
import type { Db } from './open';

export function hasEmbeddingTable(db: Db): boolean {
  return !!db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'example_vectors'`).get();
}

/** Each example's latest embedding, ascending by id, scoped to a dataset and/or a subset; `limit` undefined: all. */
export function latestEmbeddingRows(
  db: Db,
  scope: { datasetId?: number; subsetId?: number; limit?: number },
): Array<{ id: number; run: number; vector: Buffer }> {
  const conds = [`v.signal = 'embedding'`, `v.run_id = (SELECT MAX(run_id) FROM example_vectors x WHERE x.example_id = v.example_id AND x.signal = 'embedding')`];
  const args: unknown[] = [];
  if (scope.datasetId !== undefined) {
    conds.push('e.dataset_id = ?');
    args.push(scope.datasetId);
  }
  if (scope.subsetId !== undefined) {
    conds.push('v.example_id IN (SELECT example_id FROM subset_members WHERE subset_id = ?)');
    args.push(scope.subsetId);
  }
  return db
    .prepare(
      `SELECT v.example_id AS id, v.run_id AS run, v.vector FROM example_vectors v JOIN examples e ON e.id = v.example_id
       WHERE ${conds.join(' AND ')} ORDER BY v.example_id LIMIT ?`,
    )
    .all(...args, scope.limit ?? -1) as Array<{ id: number; run: number; vector: Buffer }>;
}

/** The newest embedding run and the number of stored embeddings: changes whenever the embeddings do. */
export function embeddingFingerprint(db: Db): { run: number | null; n: number } {
  return db.prepare(`SELECT MAX(run_id) AS run, COUNT(*) AS n FROM example_vectors WHERE signal = 'embedding'`).get() as { run: number | null; n: number };
}
