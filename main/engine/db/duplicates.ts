/** The duplicate columns (data/duplicates.ts) as a scoring run records them: which examples lack them, and the copy. */
import type { Db } from './open';

/** Examples of the dataset missing any of `columns` in example_signals (each column must exist). */
export function countExamplesMissingSignals(db: Db, datasetId: number, columns: readonly string[]): number {
  return db.prepare(
    `SELECT COUNT(*) FROM examples e LEFT JOIN example_signals s ON s.example_id = e.id
       WHERE e.dataset_id = ? AND (${columns.map((c) => `s."${c}" IS NULL`).join(' OR ')})`,
  ).pluck().get(datasetId) as number;
}

/** Records the dataset's current `column` values (example_signals) under score run `runId` (example_scores). */
export function copySignalColumnToRun(db: Db, runId: number, datasetId: number, column: string): void {
  db.prepare(`INSERT OR REPLACE INTO example_scores (run_id, example_id, signal, value)
          SELECT ?, e.id, ?, s."${column}" FROM examples e JOIN example_signals s ON s.example_id = e.id WHERE e.dataset_id = ?`).run(runId, column, datasetId);
}
