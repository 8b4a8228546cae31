/**
 * The reads behind a deletion's dependency report and the deletes and renames themselves, across table families
 * (api/housekeeping.ts plans them and holds the one transaction). Tables are named by the caller only from the fixed
 * set below, never from input.
 */
import type { Db } from './open';

/** Rows that go with a dataset's examples: `example_id IN (...)`, bound to the dataset's id. */
const IN_DS = 'IN (SELECT id FROM examples WHERE dataset_id = ?)';

/** Tables keyed by example_id with no index on it alone: deleted in one pass each instead of one scan per cascaded row. */
const EXAMPLE_TABLES = ['token_scores', 'example_scores', 'example_vectors', 'token_masks', 'example_signals', 'subset_members'] as const;

/** Tables whose rows have an id and a name a rename can change. */
export type NamedTable = 'datasets' | 'models' | 'subsets' | 'layer_masks' | 'param_masks';
/** Tables whose rows a rename can look up by id (runs are labelled, not renamed). */
export type ItemTable = NamedTable | 'score_runs' | 'train_runs';

export interface ScoreRunSummaryDb { id: number; signals_json: string; params_json: string }
export interface TrainRunSummaryDb { id: number; status: string }
export interface TrainRunConfigDb { id: number; status: string; subset_id: number | null; config_json: string }

/** Jobs still queued or running, oldest first: a job reads and writes rows while it runs. */
export function unfinishedJobs(db: Db): Array<{ id: string; kind: string; status: string }> {
  return db.prepare(`SELECT id, kind, status FROM jobs WHERE status IN ('queued', 'running') ORDER BY created_at`).all() as Array<{ id: string; kind: string; status: string }>;
}

// ---- reads for the reports

/** Every train run with its config (the dataset, subset and masks it used are in config_json), by id. */
export function trainRunConfigs(db: Db): TrainRunConfigDb[] {
  return db.prepare('SELECT id, status, subset_id, config_json FROM train_runs ORDER BY id').all() as TrainRunConfigDb[];
}

/** Every score run, by id. */
export function scoreRunSummaries(db: Db): ScoreRunSummaryDb[] {
  return db.prepare('SELECT id, signals_json, params_json FROM score_runs ORDER BY id').all() as ScoreRunSummaryDb[];
}

export function scoreRunSummary(db: Db, id: number): ScoreRunSummaryDb | undefined {
  return db.prepare('SELECT id, signals_json, params_json FROM score_runs WHERE id = ?').get(id) as ScoreRunSummaryDb | undefined;
}

/** Score runs made on one dataset (dataset_id), by id. */
export function scoreRunsOfDataset(db: Db, datasetId: number): ScoreRunSummaryDb[] {
  return db.prepare('SELECT id, signals_json, params_json FROM score_runs WHERE dataset_id = ? ORDER BY id').all(datasetId) as ScoreRunSummaryDb[];
}

/** Score runs holding per-row, per-token or vector values of a dataset's rows (its own runs included), by id. */
export function scoreRunsWithDatasetValues(db: Db, datasetId: number): ScoreRunSummaryDb[] {
  return db.prepare(`SELECT id, signals_json, params_json FROM score_runs WHERE id IN (
      SELECT run_id FROM example_scores WHERE example_id ${IN_DS} UNION SELECT run_id FROM token_scores WHERE example_id ${IN_DS}
      UNION SELECT run_id FROM example_vectors WHERE example_id ${IN_DS} UNION SELECT run_id FROM layout_points WHERE example_id ${IN_DS}) ORDER BY id`)
    .all(datasetId, datasetId, datasetId, datasetId) as ScoreRunSummaryDb[];
}

/** Subsets holding any of a dataset's rows, with how many of their rows are in it (`inside`), by id. */
export function subsetsWithDatasetRows(db: Db, datasetId: number): Array<{ id: number; name: string; size: number; inside: number }> {
  return db.prepare(`SELECT s.id, s.name, s.size, COUNT(*) AS inside FROM subsets s JOIN subset_members m ON m.subset_id = s.id
      WHERE m.example_id ${IN_DS} GROUP BY s.id ORDER BY s.id`).all(datasetId) as Array<{ id: number; name: string; size: number; inside: number }>;
}

/** Token masks on a dataset's rows: each name with its rows there, by name. */
export function tokenMasksOnDataset(db: Db, datasetId: number): Array<{ name: string; n: number }> {
  return db.prepare(`SELECT name, COUNT(*) AS n FROM token_masks WHERE example_id ${IN_DS} GROUP BY name ORDER BY name`).all(datasetId) as Array<{ name: string; n: number }>;
}

/** A dataset's rows with a value in any of these signal columns (validated names: they are spliced in). */
export function countScoredDatasetRows(db: Db, datasetId: number, columns: string[]): number {
  return db.prepare(`SELECT COUNT(*) FROM example_signals WHERE example_id ${IN_DS} AND (${columns.map((c) => `"${c}" IS NOT NULL`).join(' OR ')})`).pluck().get(datasetId) as number;
}

export function subsetSummary(db: Db, id: number): { id: number; name: string; size: number } | undefined {
  return db.prepare('SELECT id, name, size FROM subsets WHERE id = ?').get(id) as { id: number; name: string; size: number } | undefined;
}

export function trainRunsOfSubset(db: Db, subsetId: number): TrainRunSummaryDb[] {
  return db.prepare('SELECT id, status FROM train_runs WHERE subset_id = ? ORDER BY id').all(subsetId) as TrainRunSummaryDb[];
}

/** Every other subset's rule, by id. */
export function otherSubsetRules(db: Db, subsetId: number): Array<{ id: number; name: string; rule_json: string }> {
  return db.prepare('SELECT id, name, rule_json FROM subsets WHERE id != ? ORDER BY id').all(subsetId) as Array<{ id: number; name: string; rule_json: string }>;
}

export function layerMaskNamesOfModel(db: Db, modelId: number): string[] {
  return db.prepare('SELECT name FROM layer_masks WHERE model_id = ? ORDER BY id').pluck().all(modelId) as string[];
}

export function paramMaskNamesOfModel(db: Db, modelId: number): string[] {
  return db.prepare('SELECT name FROM param_masks WHERE model_id = ? ORDER BY id').pluck().all(modelId) as string[];
}

/** Score runs made with a model, as the scored or the reference model. */
export function scoreRunsOfModel(db: Db, modelId: number): ScoreRunSummaryDb[] {
  return db.prepare('SELECT id, signals_json, params_json FROM score_runs WHERE model_id = ? OR ref_model_id = ? ORDER BY id').all(modelId, modelId) as ScoreRunSummaryDb[];
}

/** Train runs that tuned a model or produced it. */
export function trainRunsOfModel(db: Db, modelId: number): TrainRunSummaryDb[] {
  return db.prepare('SELECT id, status FROM train_runs WHERE model_id = ? OR out_model_id = ? ORDER BY id').all(modelId, modelId) as TrainRunSummaryDb[];
}

/** How many rows hold a score run's per-row, per-token and vector values, and how many layer values it stored. */
export function scoreRunOutputCounts(db: Db, runId: number): { examples: number; tokens: number; vectors: number; layers: number } {
  const count = (sql: string) => db.prepare(sql).pluck().get(runId) as number;
  return {
    examples: count('SELECT COUNT(DISTINCT example_id) FROM example_scores WHERE run_id = ?'),
    tokens: count('SELECT COUNT(DISTINCT example_id) FROM token_scores WHERE run_id = ?'),
    // embeddings, and map layouts (their own table since migration 014)
    vectors: count('SELECT COUNT(DISTINCT example_id) FROM example_vectors WHERE run_id = ?') + count('SELECT COUNT(*) FROM layout_points WHERE run_id = ?'),
    layers: count('SELECT COUNT(*) FROM layer_scores WHERE run_id = ?'),
  };
}

/** The per-row signals a score run stored values of, by name. */
export function scoreRunRowSignals(db: Db, runId: number): string[] {
  return db.prepare('SELECT DISTINCT signal FROM example_scores WHERE run_id = ? ORDER BY signal').pluck().all(runId) as string[];
}

export function trainRunSummary(db: Db, id: number): { id: number; status: string; out_dir: string | null; checkpoint_path: string | null } | undefined {
  return db.prepare('SELECT id, status, out_dir, checkpoint_path FROM train_runs WHERE id = ?').get(id) as { id: number; status: string; out_dir: string | null; checkpoint_path: string | null } | undefined;
}

/** Loss-curve points of a train run. */
export function countTrainMetrics(db: Db, runId: number): number {
  return db.prepare('SELECT COUNT(*) FROM train_metrics WHERE run_id = ?').pluck().get(runId) as number;
}

/** Names of the models a train run produced, by id. */
export function modelNamesOfTrainRun(db: Db, runId: number): string[] {
  return db.prepare('SELECT name FROM models WHERE train_run_id = ? ORDER BY id').pluck().all(runId) as string[];
}

export function layerMaskName(db: Db, id: number): string | undefined {
  return db.prepare('SELECT name FROM layer_masks WHERE id = ?').pluck().get(id) as string | undefined;
}

export function paramMaskName(db: Db, id: number): string | undefined {
  return db.prepare('SELECT name FROM param_masks WHERE id = ?').pluck().get(id) as string | undefined;
}

/** Rows holding a token mask of this name (0: there is none). */
export function countTokenMaskRows(db: Db, name: string): number {
  return db.prepare('SELECT COUNT(*) FROM token_masks WHERE name = ?').pluck().get(name) as number;
}

// ---- deletes (the caller holds the transaction)

/** A subset lost `lost` of its rows: smaller, and stale with the reason. */
export function shrinkSubset(db: Db, id: number, lost: number, staleReason: string): void {
  db.prepare('UPDATE subsets SET size = size - ?, stale_reason = ? WHERE id = ?').run(lost, staleReason, id);
}

export function deleteSubsets(db: Db, ids: number[]): void {
  if (ids.length) db.prepare(`DELETE FROM subsets WHERE id IN (${ids.map(Number).join(',')})`).run();
}

/** A dataset, its score runs and every row keyed by its examples (the examples go with the dataset's cascade). */
export function deleteDatasetAndRows(db: Db, datasetId: number): void {
  db.prepare('DELETE FROM score_runs WHERE dataset_id = ?').run(datasetId);
  for (const t of EXAMPLE_TABLES) db.prepare(`DELETE FROM ${t} WHERE example_id ${IN_DS}`).run(datasetId);
  db.prepare('DELETE FROM datasets WHERE id = ?').run(datasetId);
}

/** A model's registration with its layer and parameter masks. */
export function deleteModelAndMasks(db: Db, modelId: number): void {
  db.prepare('DELETE FROM layer_masks WHERE model_id = ?').run(modelId);
  db.prepare('DELETE FROM param_masks WHERE model_id = ?').run(modelId);
  db.prepare('DELETE FROM models WHERE id = ?').run(modelId);
}

/**
 * Before a score run's values go: the Examples-table column of `signal` (a validated name) goes back, on the rows the
 * run scored, to the latest other run's value, or NULL.
 */
export function restoreEarlierSignalValues(db: Db, signal: string, runId: number): void {
  db.prepare(`UPDATE example_signals SET "${signal}" = (SELECT x.value FROM example_scores x WHERE x.example_id = example_signals.example_id
      AND x.signal = ? AND x.run_id != ? ORDER BY x.run_id DESC LIMIT 1)
    WHERE example_id IN (SELECT example_id FROM example_scores WHERE run_id = ? AND signal = ?)`).run(signal, runId, runId, signal);
}

export function deleteScoreRun(db: Db, id: number): void {
  db.prepare('DELETE FROM score_runs WHERE id = ?').run(id);
}

export function deleteTrainRun(db: Db, id: number): void {
  db.prepare('DELETE FROM train_runs WHERE id = ?').run(id);
}

export function deleteLayerMask(db: Db, id: number): void {
  db.prepare('DELETE FROM layer_masks WHERE id = ?').run(id);
}

export function deleteParamMask(db: Db, id: number): void {
  db.prepare('DELETE FROM param_masks WHERE id = ?').run(id);
}

export function deleteTokenMask(db: Db, name: string): void {
  db.prepare('DELETE FROM token_masks WHERE name = ?').run(name);
}

// ---- renames

export function tokenMaskExists(db: Db, name: string): boolean {
  return !!db.prepare('SELECT 1 FROM token_masks WHERE name = ?').get(name);
}

export function renameTokenMask(db: Db, from: string, to: string): void {
  db.prepare('UPDATE token_masks SET name = ? WHERE name = ?').run(to, from);
}

export function itemExists(db: Db, table: ItemTable, id: number): boolean {
  return !!db.prepare(`SELECT 1 FROM ${table} WHERE id = ?`).get(id);
}

/** Whether another row of the table (not `id`) has this name. */
export function nameTakenByOther(db: Db, table: NamedTable, name: string, id: number): boolean {
  return !!db.prepare(`SELECT 1 FROM ${table} WHERE name = ? AND id != ?`).get(name, id);
}

export function renameItemRow(db: Db, table: NamedTable, id: number, name: string): void {
  db.prepare(`UPDATE ${table} SET name = ? WHERE id = ?`).run(name, id);
}

// ---- lists

export interface ScoreRunListRowDb {
  id: number; job_id: string | null; model_id: number | null; model_name: string | null; dataset_id: number | null; dataset_name: string | null;
  signals_json: string; params_json: string; status: string; total: number | null; created_at: string; finished_at: string | null;
}

/** Every score run with its model's and dataset's names, newest first. */
export function scoreRunListRows(db: Db): ScoreRunListRowDb[] {
  return db.prepare(`SELECT r.id, r.job_id, r.model_id, m.name AS model_name, r.dataset_id, d.name AS dataset_name, r.signals_json, r.params_json,
      r.status, r.total, r.created_at, r.finished_at FROM score_runs r LEFT JOIN models m ON m.id = r.model_id LEFT JOIN datasets d ON d.id = r.dataset_id
      ORDER BY r.id DESC`).all() as ScoreRunListRowDb[];
}

/** Token mask names with how many rows each holds, by name. */
export function tokenMaskNameCounts(db: Db): Array<{ name: string; rows: number }> {
  return db.prepare('SELECT name, COUNT(*) AS rows FROM token_masks GROUP BY name ORDER BY name').all() as Array<{ name: string; rows: number }>;
}
