/**
 * The `loss_trajectories` table (migration 013): each example's loss at a training run's checkpoints, written by
 * training/trajectories.ts and read by S2L (selection/s2l.ts).
 */
import type { Db } from './open';

/** Stores one step's losses of a run; a loss that is not finite (no trainable token) is left out. */
export function writeLossTrajectoryStep(db: Db, runId: number, step: number, exampleIds: number[], losses: number[]): void {
  const ins = db.prepare('INSERT OR REPLACE INTO loss_trajectories (run_id, step, example_id, loss) VALUES (?, ?, ?, ?)');
  db.transaction(() => {
    exampleIds.forEach((id, i) => {
      if (Number.isFinite(losses[i])) ins.run(runId, step, id, losses[i]);
    });
  })();
}

/** Drops a run's trajectories after `step` (a resumed run records those steps again). */
export function deleteLossTrajectoriesAfter(db: Db, runId: number, step: number): void {
  db.prepare('DELETE FROM loss_trajectories WHERE run_id = ? AND step > ?').run(runId, step);
}

/** The steps a training run recorded losses at, ascending. */
export function trajectorySteps(db: Db, runId: number): number[] {
  return db.prepare('SELECT DISTINCT step FROM loss_trajectories WHERE run_id = ? ORDER BY step').pluck().all(runId) as number[];
}

/** Every recorded loss of a run (of one dataset's examples, when given), by example then step. */
export function trajectoryLosses(db: Db, runId: number, datasetId?: number): Array<{ e: number; s: number; l: number }> {
  const scope = datasetId !== undefined ? 'AND t.example_id IN (SELECT id FROM examples WHERE dataset_id = ?)' : '';
  return db
    .prepare(`SELECT t.example_id AS e, t.step AS s, t.loss AS l FROM loss_trajectories t WHERE t.run_id = ? ${scope} ORDER BY t.example_id, t.step`)
    .all(...(datasetId !== undefined ? [runId, datasetId] : [runId])) as Array<{ e: number; s: number; l: number }>;
}
