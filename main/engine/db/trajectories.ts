/** S2L's loss trajectories (`loss_trajectories`, migration 013): one loss per (train run, checkpoint step, example). */
import type { Db } from './open';

/** The steps a training run recorded losses at, ascending. */
export function trajectorySteps(db: Db, runId: number): number[] {
  return db.prepare('SELECT DISTINCT step FROM loss_trajectories WHERE run_id = ? ORDER BY step').pluck().all(runId) as number[];
}

export function trainRunExists(db: Db, runId: number): boolean {
  return !!db.prepare('SELECT id FROM train_runs WHERE id = ?').get(runId);
}

/** Every recorded loss of a run (of one dataset's examples, when given), by example then step. */
export function trajectoryLosses(db: Db, runId: number, datasetId?: number): Array<{ e: number; s: number; l: number }> {
  const scope = datasetId !== undefined ? 'AND t.example_id IN (SELECT id FROM examples WHERE dataset_id = ?)' : '';
  return db
    .prepare(`SELECT t.example_id AS e, t.step AS s, t.loss AS l FROM loss_trajectories t WHERE t.run_id = ? ${scope} ORDER BY t.example_id, t.step`)
    .all(...(datasetId !== undefined ? [runId, datasetId] : [runId])) as Array<{ e: number; s: number; l: number }>;
}
