/**
 * What sharded scoring (scoring/shard.ts) reads from a project: a dataset's rows in file order with their content
 * hashes, and every value a run stored for one example, as the stored bytes.
 */
import type { Db } from './open';

/** A dataset's rows in file order, with what makes their content hash (norm_hash, or the row to hash). */
export function datasetRowsInOrder(db: Db, datasetId: number): Array<{ id: number; rowIndex: number; rawJson: string; messagesJson: string; h: string }> {
  return db.prepare('SELECT id, row_index AS rowIndex, raw_json AS rawJson, messages_json AS messagesJson, norm_hash AS h FROM examples WHERE dataset_id = ? ORDER BY row_index')
    .all(datasetId) as Array<{ id: number; rowIndex: number; rawJson: string; messagesJson: string; h: string }>;
}

/** Everything a run stored for one example, each kind in signal order. */
export interface StoredRunValues {
  example: Array<{ signal: string; value: number | null }>;
  token: Array<{ signal: string; v: Buffer }>;
  vector: Array<{ signal: string; vector: Buffer }>;
}

/** Reads one run's stored values example by example (three prepared statements for every row). */
export function runValuesReader(db: Db, runId: number): (exampleId: number) => StoredRunValues {
  const exStmt = db.prepare('SELECT signal, value FROM example_scores WHERE run_id = ? AND example_id = ? ORDER BY signal');
  const tokStmt = db.prepare('SELECT signal, "values" AS v FROM token_scores WHERE run_id = ? AND example_id = ? ORDER BY signal');
  const vecStmt = db.prepare('SELECT signal, vector FROM example_vectors WHERE run_id = ? AND example_id = ? ORDER BY signal');
  return (exampleId) => ({
    example: exStmt.all(runId, exampleId) as StoredRunValues['example'],
    token: tokStmt.all(runId, exampleId) as StoredRunValues['token'],
    vector: vecStmt.all(runId, exampleId) as StoredRunValues['vector'],
  });
}
