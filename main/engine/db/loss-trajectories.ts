/** The `loss_trajectories` table: each example's loss at a training run's checkpoints (S2L, training/trajectories.ts). */
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
