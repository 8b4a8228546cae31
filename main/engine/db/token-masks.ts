/**
 * Per-token masks (`token_masks`; writing and reading one example's mask is in db/renders.ts, beside its render) and
 * the per-token values a token policy reads to build one (`token_scores`).
 */
import type { Db } from './open';

export function deleteTokenMaskRows(db: Db, name: string, exampleId: number): boolean {
  return db.prepare('DELETE FROM token_masks WHERE name = ? AND example_id = ?').run(name, exampleId).changes > 0;
}

/** The newest run of this model that stored per-token values of the signal, with its render key (null: renders not kept). */
export function latestTokenSignalRun(db: Db, modelId: number, signal: string): { runId: number; renderKeyId: number | null } | null {
  const run = db
    .prepare(`SELECT MAX(ts.run_id) FROM token_scores ts JOIN score_runs r ON r.id = ts.run_id WHERE r.model_id = ? AND ts.signal = ?`)
    .pluck()
    .get(modelId, signal) as number | null;
  if (!run) return null;
  return { runId: run, renderKeyId: db.prepare('SELECT render_key_id FROM score_runs WHERE id = ?').pluck().get(run) as number | null };
}

/** A reader of one run's per-token values of a signal: the Float32 blob of an example, undefined where none is stored. */
export function tokenValuesReader(db: Db, runId: number, signal: string): (exampleId: number) => Buffer | undefined {
  const stmt = db.prepare(`SELECT "values" FROM token_scores WHERE run_id = ? AND example_id = ? AND signal = ?`).pluck();
  return (exampleId) => stmt.get(runId, exampleId, signal) as Buffer | undefined;
}
