/**
 * Renaming and deleting what a project holds: datasets, subsets, models (the registration, never the folder), score
 * and train runs, and masks (layer, parameter, hand-edited token masks).
 *
 * Deleting is two calls. `dependents` reports what goes with the thing (its rows, the runs and values computed on
 * them, subsets made only of them, masks of a model) and what stays but refers to it (train runs that used it, runs
 * over several datasets that lose its rows' values, subsets that lose some rows); the UI shows it and asks. `remove`
 * then computes the report again inside ONE transaction and refuses when it differs from the one confirmed (its
 * token), so nothing that was not named is lost, and a failure rolls everything back. Files on disk (model folders,
 * checkpoints, exported bundles) are never touched.
 */
import { createHash } from 'node:crypto';
import type { Db } from '../db';
import { getDataset, listSignalColumns } from '../db';
import { modelRow } from '../db/models';
import {
  countScoredDatasetRows, countTokenMaskRows, countTrainMetrics, deleteDatasetAndRows, deleteLayerMask, deleteModelAndMasks, deleteParamMask,
  deleteScoreRun, deleteSubsets, deleteTokenMask, deleteTrainRun, itemExists, layerMaskName, layerMaskNamesOfModel, modelNamesOfTrainRun,
  nameTakenByOther, otherSubsetRules, paramMaskName, paramMaskNamesOfModel, renameItemRow, renameTokenMask, restoreEarlierSignalValues,
  scoreRunListRows, scoreRunOutputCounts, scoreRunRowSignals, scoreRunSummaries, scoreRunSummary, scoreRunsOfDataset, scoreRunsOfModel,
  scoreRunsWithDatasetValues, shrinkSubset, subsetSummary, subsetsWithDatasetRows, tokenMaskExists, tokenMaskNameCounts, tokenMasksOnDataset,
  trainRunConfigs, trainRunSummary, trainRunsOfModel, trainRunsOfSubset, unfinishedJobs, type NamedTable,
} from '../db/housekeeping';
import { clearActiveModel, deleteRunLabel, runLabel, setRunLabel } from '../db/project-meta';
import type { DependencyLine, DependencyReport, ItemKind, ScoreRunInfo } from '../../../preload/contract';
import { WinnowError } from '../util/errors';
import { DUPLICATE_COLUMNS } from '../data/duplicates';
import { describeRows, type RowScope } from '../scoring/rows';

export interface ItemRef {
  kind: ItemKind;
  id?: number;
  name?: string;
}

const line = (what: string, names: string[], count = names.length): DependencyLine => ({ what, count, names });

function parseJson<T>(text: string | null | undefined, fallback: T): T {
  try {
    return text ? (JSON.parse(text) as T) : fallback;
  } catch {
    return fallback;
  }
}

function needId(ref: ItemRef): number {
  if (ref.id === undefined) throw new WinnowError('bad_input', `${ref.kind}: field "id" is required`);
  return ref.id;
}

/** "score run #3 (token_loss, mean_loss · subset 'x' (5 rows))" */
function scoreRunLabel(db: Db, r: { id: number; signals_json: string; params_json: string }): string {
  const signals = parseJson<string[]>(r.signals_json, []);
  const rows = parseJson<{ rows?: RowScope }>(r.params_json, {}).rows;
  const label = runLabel(db, 'score_run', r.id);
  return `score run #${r.id}${label ? ` "${label}"` : ''} (${signals.join(', ')}${rows && rows.kind !== 'all' ? ` · ${describeRows(db, rows)}` : ''})`;
}

function trainRunLabel(db: Db, r: { id: number; status: string }): string {
  const label = runLabel(db, 'train_run', r.id);
  return `train run #${r.id}${label ? ` "${label}"` : ''} (${r.status})`;
}

/** Jobs that must finish (or be cancelled) first: a job reads and writes rows while it runs. */
function activeJobs(db: Db): string | null {
  const rows = unfinishedJobs(db);
  if (!rows.length) return null;
  return `${rows.length === 1 ? 'a' : rows.length} ${rows.map((r) => `${r.kind} job (${r.status})`).join(', ')} — wait for ${rows.length === 1 ? 'it' : 'them'} to finish or cancel ${rows.length === 1 ? 'it' : 'them'} in Jobs, then delete`;
}

interface Plan {
  report: Omit<DependencyReport, 'token' | 'blockedBy'>;
  /** the deletion itself, run inside the transaction */
  apply: () => void;
}

function planDataset(db: Db, id: number): Plan {
  const ds = getDataset(db, id);
  const own = scoreRunsOfDataset(db, id);
  const ownIds = new Set(own.map((r) => r.id));
  // runs over every dataset (dataset_id NULL) that hold values for its rows: they stay, without those values
  const other = scoreRunsWithDatasetValues(db, id).filter((r) => !ownIds.has(r.id));
  const subsets = subsetsWithDatasetRows(db, id);
  const gone = subsets.filter((s) => s.inside >= s.size);
  const partial = subsets.filter((s) => s.inside < s.size);
  const goneIds = gone.map((s) => s.id);
  const tokenMasks = tokenMasksOnDataset(db, id);
  const trainRuns = trainRunConfigs(db)
    .filter((r) => parseJson<{ datasetId?: number }>(r.config_json, {}).datasetId === id || (r.subset_id !== null && goneIds.includes(r.subset_id)));
  const scored = listSignalColumns(db).filter((c) => !DUPLICATE_COLUMNS.includes(c));
  const scoredRows = scored.length ? countScoredDatasetRows(db, id, scored) : 0;
  const deletes = [
    line('rows', [`${ds.rowCount} rows of "${ds.name}" (their tokens and search index)`], ds.rowCount),
    line('scored rows', scoredRows ? [`the scores of ${scoredRows} rows`] : [], scoredRows),
    line('score runs', own.map((r) => scoreRunLabel(db, r))),
    line('subsets', gone.map((s) => `"${s.name}" (${s.size} rows, all in this dataset)`)),
    line('token masks', tokenMasks.map((t) => `"${t.name}" on ${t.n} ${t.n === 1 ? 'row' : 'rows'}`), tokenMasks.reduce((a, t) => a + t.n, 0)),
  ].filter((l) => l.count > 0);
  const keeps = [
    line('score runs losing these rows\' values', other.map((r) => scoreRunLabel(db, r))),
    line('subsets losing rows (marked stale)', partial.map((s) => `"${s.name}" loses ${s.inside} of ${s.size} rows`)),
    line('train runs that used it (kept, with their models and files)', trainRuns.map((r) => trainRunLabel(db, r))),
  ].filter((l) => l.count > 0);
  return {
    report: { kind: 'dataset', id, name: ds.name, deletes, keeps },
    apply: () => {
      const reason = `dataset "${ds.name}" was deleted`;
      for (const s of partial) shrinkSubset(db, s.id, s.inside, `${reason}: ${s.inside} of its rows went with it`);
      deleteSubsets(db, goneIds);
      deleteDatasetAndRows(db, id);
    },
  };
}

function planSubset(db: Db, id: number): Plan {
  const s = subsetSummary(db, id);
  if (!s) throw new WinnowError('not_found', `subset ${id} not found`);
  const trainRuns = trainRunsOfSubset(db, id);
  const scoreRuns = scoreRunSummaries(db)
    .filter((r) => {
      const p = parseJson<{ rows?: RowScope; subsetId?: number; targetSubsetId?: number }>(r.params_json, {});
      return (p.rows?.kind === 'subset' && p.rows.subsetId === id) || p.subsetId === id || p.targetSubsetId === id;
    });
  const madeFrom = otherSubsetRules(db, id)
    .filter((o) => {
      const rule = parseJson<{ kind?: string; subsetIds?: number[]; subsetId?: number }>(o.rule_json, {});
      return (rule.kind === 'combine' && rule.subsetIds?.includes(id)) || (rule.kind === 'kcenter' && rule.subsetId === id);
    });
  const keeps = [
    line('train runs that trained on it (kept; they will say "deleted subset")', trainRuns.map((t) => trainRunLabel(db, t))),
    line('score runs that read it (kept, with their values)', scoreRuns.map((r) => scoreRunLabel(db, r))),
    line('subsets made from it (kept; they can no longer be recreated)', madeFrom.map((o) => `"${o.name}"`)),
  ].filter((l) => l.count > 0);
  return {
    report: { kind: 'subset', id, name: s.name, deletes: [line('subset', [`"${s.name}" (${s.size} rows; the rows themselves stay in their dataset)`])], keeps },
    apply: () => {
      deleteSubsets(db, [id]);
    },
  };
}

function planModel(db: Db, id: number): Plan {
  const m = modelRow(db, id);
  const layerMasks = layerMaskNamesOfModel(db, id);
  const paramMasks = paramMaskNamesOfModel(db, id);
  const scoreRuns = scoreRunsOfModel(db, id);
  const trainRuns = trainRunsOfModel(db, id);
  return {
    report: {
      kind: 'model', id, name: m.name,
      deletes: [
        line('model registration', [`"${m.name}" (its folder ${m.path} stays on disk)`]),
        line('layer masks of this model', layerMasks.map((n) => `"${n}"`)),
        line('parameter masks of this model', paramMasks.map((n) => `"${n}"`)),
      ].filter((l) => l.count > 0),
      keeps: [
        line('score runs made with it (kept, with their values)', scoreRuns.map((r) => scoreRunLabel(db, r))),
        line('train runs from or to it (kept)', trainRuns.map((t) => trainRunLabel(db, t))),
      ].filter((l) => l.count > 0),
    },
    apply: () => {
      clearActiveModel(db, id);
      deleteModelAndMasks(db, id);
    },
  };
}

function planScoreRun(db: Db, id: number): Plan {
  const r = scoreRunSummary(db, id);
  if (!r) throw new WinnowError('not_found', `score run ${id} not found`);
  const { examples, tokens, vectors, layers } = scoreRunOutputCounts(db, id);
  const columns = listSignalColumns(db);
  // the Examples table shows each signal's latest value: where this run's is shown, an earlier run's (or none) comes back
  const shown = scoreRunRowSignals(db, id)
    .filter((s) => columns.includes(s) && !DUPLICATE_COLUMNS.includes(s));
  const label = scoreRunLabel(db, r);
  return {
    report: {
      kind: 'score_run', id, name: label,
      deletes: [
        line('score run', [label]),
        line('per-row values', examples ? [`${examples} rows' values`] : [], examples),
        line('per-token values', tokens ? [`${tokens} rows' token values`] : [], tokens),
        line('vectors (embedding, map layout)', vectors ? [`${vectors} rows' vectors`] : [], vectors),
        line('layer scores', layers ? [`${layers} tensor values`] : [], layers),
      ].filter((l) => l.count > 0),
      keeps: shown.length ? [line('Examples-table columns going back to an earlier run\'s values (or empty)', shown)] : [],
    },
    apply: () => {
      for (const s of shown) restoreEarlierSignalValues(db, s, id);
      deleteScoreRun(db, id);
      deleteRunLabel(db, 'score_run', id);
    },
  };
}

function planTrainRun(db: Db, id: number): Plan {
  const r = trainRunSummary(db, id);
  if (!r) throw new WinnowError('not_found', `train run ${id} not found`);
  const metrics = countTrainMetrics(db, id);
  const models = modelNamesOfTrainRun(db, id);
  return {
    report: {
      kind: 'train_run', id, name: trainRunLabel(db, r),
      deletes: [line('train run', [trainRunLabel(db, r)]), line('loss-curve points', metrics ? [`${metrics} points`] : [], metrics)].filter((l) => l.count > 0),
      keeps: [
        line('models it produced (registration and files kept)', models.map((n) => `"${n}"`)),
        line('files on disk (kept)', [r.out_dir, r.checkpoint_path].filter((x): x is string => !!x)),
      ].filter((l) => l.count > 0),
    },
    apply: () => {
      deleteTrainRun(db, id);
      deleteRunLabel(db, 'train_run', id);
    },
  };
}

function planLayerMask(db: Db, id: number): Plan {
  const name = layerMaskName(db, id);
  if (name === undefined) throw new WinnowError('not_found', `layer mask ${id} not found`);
  return {
    report: { kind: 'layer_mask', id, name, deletes: [line('layer mask', [`"${name}"`])], keeps: [] },
    apply: () => {
      deleteLayerMask(db, id);
    },
  };
}

function planParamMask(db: Db, id: number): Plan {
  const name = paramMaskName(db, id);
  if (name === undefined) throw new WinnowError('not_found', `parameter mask ${id} not found`);
  const runs = trainRunConfigs(db)
    .filter((r) => parseJson<{ paramMaskId?: number }>(r.config_json, {}).paramMaskId === id);
  return {
    report: {
      kind: 'param_mask', id, name,
      deletes: [line('parameter mask', [`"${name}"`])],
      keeps: runs.length ? [line('train runs that used it (kept; they can no longer resume)', runs.map((t) => trainRunLabel(db, t)))] : [],
    },
    apply: () => {
      deleteParamMask(db, id);
    },
  };
}

function planTokenMask(db: Db, name: string): Plan {
  const n = countTokenMaskRows(db, name);
  if (!n) throw new WinnowError('not_found', `no token mask named "${name}" in this project`);
  const runs = trainRunConfigs(db)
    .filter((r) => parseJson<{ tokenMaskName?: string }>(r.config_json, {}).tokenMaskName === name);
  return {
    report: {
      kind: 'token_mask', id: null, name,
      deletes: [line('token masks', [`"${name}" on ${n} ${n === 1 ? 'row' : 'rows'} (the rows go back to their label mask)`], n)],
      keeps: runs.length ? [line('train runs that used it (kept; they can no longer resume)', runs.map((t) => trainRunLabel(db, t)))] : [],
    },
    apply: () => {
      deleteTokenMask(db, name);
    },
  };
}

function planFor(db: Db, ref: ItemRef): Plan {
  switch (ref.kind) {
    case 'dataset': return planDataset(db, needId(ref));
    case 'subset': return planSubset(db, needId(ref));
    case 'model': return planModel(db, needId(ref));
    case 'score_run': return planScoreRun(db, needId(ref));
    case 'train_run': return planTrainRun(db, needId(ref));
    case 'layer_mask': return planLayerMask(db, needId(ref));
    case 'param_mask': return planParamMask(db, needId(ref));
    case 'token_mask':
      if (!ref.name) throw new WinnowError('bad_input', 'token_mask: field "name" is required');
      return planTokenMask(db, ref.name);
  }
}

function tokenOf(report: Plan['report']): string {
  return createHash('sha256').update(JSON.stringify(report)).digest('hex').slice(0, 16);
}

/** What deleting the thing would delete and what it would leave referring to it. */
export function dependencyReport(db: Db, ref: ItemRef): DependencyReport {
  const { report } = planFor(db, ref);
  return { ...report, blockedBy: activeJobs(db), token: tokenOf(report) };
}

/**
 * Deletes the thing and exactly what its report named, in one transaction. `token` is the report the user confirmed:
 * when the project changed since (a new run, a new subset), nothing is deleted and the error says to look again.
 */
export function deleteItem(db: Db, ref: ItemRef, token: string): DependencyReport {
  return db.transaction(() => {
    const blocked = activeJobs(db);
    if (blocked) throw new WinnowError('conflict', `cannot delete now: ${blocked}`);
    const plan = planFor(db, ref);
    const now = tokenOf(plan.report);
    if (now !== token) {
      throw new WinnowError('conflict', `what depends on ${plan.report.kind.replace('_', ' ')} "${plan.report.name}" changed since it was shown: nothing was deleted — look at the list again`);
    }
    plan.apply();
    return { ...plan.report, blockedBy: null, token: now };
  }).immediate();
}

const UNIQUE: Partial<Record<ItemKind, { table: NamedTable; what: string }>> = {
  subset: { table: 'subsets', what: 'a subset' },
  layer_mask: { table: 'layer_masks', what: 'a layer mask' },
  param_mask: { table: 'param_masks', what: 'a parameter mask' },
};

/** A run's label (given by a rename), or null: kept in project_meta (db/project-meta.ts), re-exported for callers here. */
export { runLabel };

const TABLE: Partial<Record<ItemKind, NamedTable>> = { dataset: 'datasets', model: 'models', ...Object.fromEntries(Object.entries(UNIQUE).map(([k, v]) => [k, v.table])) };

/**
 * Renames one thing. Names unique in the project (subsets, layer and parameter masks, token mask names) stay unique.
 * Runs keep their number and get a label.
 */
export function renameItem(db: Db, ref: ItemRef, newName: string): { kind: ItemKind; id: number | null; name: string } {
  const name = newName.trim();
  if (!name) throw new WinnowError('bad_input', 'rename: field "newName" is empty');
  return db.transaction(() => {
    if (ref.kind === 'token_mask') {
      if (!ref.name) throw new WinnowError('bad_input', 'token_mask: field "name" is required');
      if (!tokenMaskExists(db, ref.name)) throw new WinnowError('not_found', `no token mask named "${ref.name}" in this project`);
      if (name !== ref.name && tokenMaskExists(db, name)) {
        throw new WinnowError('conflict', `token masks named "${name}" already exist: choose another name`);
      }
      renameTokenMask(db, ref.name, name);
      return { kind: ref.kind, id: null, name };
    }
    if (ref.kind === 'score_run' || ref.kind === 'train_run') {
      // runs are numbered; a label is kept beside the run (project_meta), so no run table changes shape
      const id = needId(ref);
      const table = ref.kind === 'score_run' ? 'score_runs' : 'train_runs';
      if (!itemExists(db, table, id)) throw new WinnowError('not_found', `${ref.kind.replace('_', ' ')} ${id} not found`);
      setRunLabel(db, ref.kind, id, name);
      return { kind: ref.kind, id, name };
    }
    const table = TABLE[ref.kind];
    if (!table) throw new WinnowError('unsupported', `${ref.kind.replace('_', ' ')}s have no name to change`);
    const id = needId(ref);
    if (!itemExists(db, table, id)) throw new WinnowError('not_found', `${ref.kind.replace('_', ' ')} ${id} not found`);
    const unique = UNIQUE[ref.kind];
    if (unique && nameTakenByOther(db, table, name, id)) {
      throw new WinnowError('conflict', `${unique.what} named "${name}" already exists: choose another name`);
    }
    renameItemRow(db, table, id, name);
    return { kind: ref.kind, id, name };
  })();
}

/** Every score run (clusterings and map layouts included), newest first, with the rows it covered in words. */
export function listScoreRuns(db: Db): ScoreRunInfo[] {
  const rows = scoreRunListRows(db);
  return rows.map((r) => {
    const rowsScope = parseJson<{ rows?: RowScope }>(r.params_json, {}).rows;
    return {
      id: r.id, label: runLabel(db, 'score_run', r.id), jobId: r.job_id, modelId: r.model_id, modelName: r.model_name, datasetId: r.dataset_id,
      datasetName: r.dataset_name ?? (r.dataset_id === null ? 'all datasets' : null),
      signals: parseJson<string[]>(r.signals_json, []), status: r.status,
      rows: rowsScope ?? { kind: 'all' },
      rowsText: describeRows(db, rowsScope, r.total ?? undefined),
      createdAt: r.created_at, finishedAt: r.finished_at,
    };
  });
}

/** Token mask names with how many rows each holds. */
export function listTokenMaskNames(db: Db): Array<{ name: string; rows: number }> {
  return tokenMaskNameCounts(db);
}
