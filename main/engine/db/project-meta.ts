/**
 * The `project_meta` table (key → text value): the project's name, its active model, runs' labels (given by a rename),
 * and the counts of what the project holds (the first screen's check marks).
 */
import type { Db } from './open';

/** Sets (or replaces) one key's value. */
export function setProjectMeta(db: Db, key: string, value: string): void {
  db.prepare('INSERT OR REPLACE INTO project_meta (key, value) VALUES (?, ?)').run(key, value);
}

export function projectMeta(db: Db, key: string): string | undefined {
  return db.prepare('SELECT value FROM project_meta WHERE key = ?').pluck().get(key) as string | undefined;
}

export function deleteProjectMeta(db: Db, key: string): void {
  db.prepare('DELETE FROM project_meta WHERE key = ?').run(key);
}

/** The model chosen as active, else the first one registered; null in a project with no model. */
export function activeModelId(db: Db): number | null {
  const v = db.prepare(`SELECT value FROM project_meta WHERE key = 'active_model_id'`).pluck().get() as string | undefined;
  if (v) return Number(v);
  const first = db.prepare('SELECT id FROM models ORDER BY id LIMIT 1').pluck().get() as number | undefined;
  return first ?? null;
}

export function setActiveModel(db: Db, modelId: number): void {
  db.prepare(`INSERT OR REPLACE INTO project_meta (key, value) VALUES ('active_model_id', ?)`).run(String(modelId));
}

/** Forgets the active model when it is this one (it is being deleted): the first model registered becomes active. */
export function clearActiveModel(db: Db, modelId: number): void {
  db.prepare(`DELETE FROM project_meta WHERE key = 'active_model_id' AND value = ?`).run(String(modelId));
}

export type RunKind = 'score_run' | 'train_run';

const runLabelKey = (kind: RunKind, id: number) => `run_label:${kind}:${id}`;

/** A run's label (given by a rename), or null. Runs are numbered; the label is kept beside the run. */
export function runLabel(db: Db, kind: RunKind, id: number): string | null {
  return projectMeta(db, runLabelKey(kind, id)) ?? null;
}

export function setRunLabel(db: Db, kind: RunKind, id: number, label: string): void {
  setProjectMeta(db, runLabelKey(kind, id), label);
}

export function deleteRunLabel(db: Db, kind: RunKind, id: number): void {
  deleteProjectMeta(db, runLabelKey(kind, id));
}

export interface ProjectCounts { datasets: number; models: number; scoreRuns: number; subsets: number; trainRuns: number; exports: number }

/**
 * What the project holds: finished score runs and train runs, subsets with rows; on one dataset, its finished score
 * runs and the subsets holding any of its rows.
 */
export function projectCounts(db: Db, datasetId?: number): ProjectCounts {
  const count = (sql: string, ...args: unknown[]) => db.prepare(sql).pluck().get(...args) as number;
  const onDataset = datasetId !== undefined;
  return {
    datasets: count('SELECT COUNT(*) FROM datasets'),
    models: count('SELECT COUNT(*) FROM models'),
    scoreRuns: onDataset
      ? count(`SELECT COUNT(*) FROM score_runs WHERE status = 'done' AND dataset_id = ?`, datasetId)
      : count(`SELECT COUNT(*) FROM score_runs WHERE status = 'done'`),
    subsets: onDataset
      ? count(
          `SELECT COUNT(*) FROM subsets s WHERE EXISTS (SELECT 1 FROM subset_members m JOIN examples e ON e.id = m.example_id
             WHERE m.subset_id = s.id AND e.dataset_id = ?)`,
          datasetId,
        )
      : count('SELECT COUNT(*) FROM subsets WHERE size > 0'),
    trainRuns: count(`SELECT COUNT(*) FROM train_runs WHERE status = 'done'`),
    exports: count('SELECT COUNT(*) FROM exports'),
  };
}
