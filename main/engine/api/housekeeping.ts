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
import type { DependencyLine, DependencyReport, ItemKind, ScoreRunInfo } from '../../../preload/contract';
import { WinnowError } from '../util/errors';
import { DUPLICATE_COLUMNS } from '../data/duplicates';
import { describeRows, type RowScope } from '../scoring/rows';

export interface ItemRef {
  kind: ItemKind;
  id?: number;
  name?: string;
}

const IN_DS = 'IN (SELECT id FROM examples WHERE dataset_id = ?)';

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
  const rows = db.prepare(`SELECT id, kind, status FROM jobs WHERE status IN ('queued', 'running') ORDER BY created_at`).all() as Array<{ id: string; kind: string; status: string }>;
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
  const own = db.prepare('SELECT id, signals_json, params_json FROM score_runs WHERE dataset_id = ? ORDER BY id').all(id) as Array<{ id: number; signals_json: string; params_json: string }>;
  const ownIds = new Set(own.map((r) => r.id));
  // runs over every dataset (dataset_id NULL) that hold values for its rows: they stay, without those values
  const other = (db.prepare(`SELECT id, signals_json, params_json FROM score_runs WHERE id IN (
      SELECT run_id FROM example_scores WHERE example_id ${IN_DS} UNION SELECT run_id FROM token_scores WHERE example_id ${IN_DS}
      UNION SELECT run_id FROM example_vectors WHERE example_id ${IN_DS} UNION SELECT run_id FROM layout_points WHERE example_id ${IN_DS}) ORDER BY id`).all(id, id, id, id) as Array<{ id: number; signals_json: string; params_json: string }>)
    .filter((r) => !ownIds.has(r.id));
  const subsets = db.prepare(`SELECT s.id, s.name, s.size, COUNT(*) AS inside FROM subsets s JOIN subset_members m ON m.subset_id = s.id
      WHERE m.example_id ${IN_DS} GROUP BY s.id ORDER BY s.id`).all(id) as Array<{ id: number; name: string; size: number; inside: number }>;
  const gone = subsets.filter((s) => s.inside >= s.size);
  const partial = subsets.filter((s) => s.inside < s.size);
  const goneIds = gone.map((s) => s.id);
  const tokenMasks = db.prepare(`SELECT name, COUNT(*) AS n FROM token_masks WHERE example_id ${IN_DS} GROUP BY name ORDER BY name`).all(id) as Array<{ name: string; n: number }>;
  const trainRuns = (db.prepare('SELECT id, status, subset_id, config_json FROM train_runs ORDER BY id').all() as Array<{ id: number; status: string; subset_id: number | null; config_json: string }>)
    .filter((r) => parseJson<{ datasetId?: number }>(r.config_json, {}).datasetId === id || (r.subset_id !== null && goneIds.includes(r.subset_id)));
  const scored = listSignalColumns(db).filter((c) => !DUPLICATE_COLUMNS.includes(c));
  const scoredRows = scored.length
    ? (db.prepare(`SELECT COUNT(*) FROM example_signals WHERE example_id ${IN_DS} AND (${scored.map((c) => `"${c}" IS NOT NULL`).join(' OR ')})`).pluck().get(id) as number)
    : 0;
  const deletes = [
    line('rows', [`${ds.rowCount} rows of "${ds.name}" (their tokens and search index)`], ds.rowCount),
    line('scored rows', scoredRows ? [`the scores of ${scoredRows} rows`] : [], scoredRows),
    line('score runs', own.map((r) => scoreRunLabel(db, r))),
    line('subsets', gone.map((s) => `"${s.name}" (${s.size} rows, all in this dataset)`)),
    line('token masks', tokenMasks.map((t) => `"${t.name}" on ${t.n} rows`), tokenMasks.reduce((a, t) => a + t.n, 0)),
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
      for (const s of partial) {
        db.prepare('UPDATE subsets SET size = size - ?, stale_reason = ? WHERE id = ?').run(s.inside, `${reason}: ${s.inside} of its rows went with it`, s.id);
      }
      if (goneIds.length) db.prepare(`DELETE FROM subsets WHERE id IN (${goneIds.join(',')})`).run();
      db.prepare('DELETE FROM score_runs WHERE dataset_id = ?').run(id);
      // tables without an index on example_id alone: one pass each instead of one scan per cascaded row
      for (const t of ['token_scores', 'example_scores', 'example_vectors', 'token_masks', 'example_signals', 'subset_members']) {
        db.prepare(`DELETE FROM ${t} WHERE example_id ${IN_DS}`).run(id);
      }
      db.prepare('DELETE FROM datasets WHERE id = ?').run(id);
    },
  };
}

function planSubset(db: Db, id: number): Plan {
  const s = db.prepare('SELECT id, name, size FROM subsets WHERE id = ?').get(id) as { id: number; name: string; size: number } | undefined;
  if (!s) throw new WinnowError('not_found', `subset ${id} not found`);
  const trainRuns = db.prepare('SELECT id, status FROM train_runs WHERE subset_id = ? ORDER BY id').all(id) as Array<{ id: number; status: string }>;
  const scoreRuns = (db.prepare('SELECT id, signals_json, params_json FROM score_runs ORDER BY id').all() as Array<{ id: number; signals_json: string; params_json: string }>)
    .filter((r) => {
      const p = parseJson<{ rows?: RowScope; subsetId?: number; targetSubsetId?: number }>(r.params_json, {});
      return (p.rows?.kind === 'subset' && p.rows.subsetId === id) || p.subsetId === id || p.targetSubsetId === id;
    });
  const madeFrom = (db.prepare('SELECT id, name, rule_json FROM subsets WHERE id != ? ORDER BY id').all(id) as Array<{ id: number; name: string; rule_json: string }>)
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
      db.prepare('DELETE FROM subsets WHERE id = ?').run(id);
    },
  };
}

function planModel(db: Db, id: number): Plan {
  const m = db.prepare('SELECT id, name, path FROM models WHERE id = ?').get(id) as { id: number; name: string; path: string } | undefined;
  if (!m) throw new WinnowError('not_found', `model ${id} not found in this project`);
  const layerMasks = db.prepare('SELECT name FROM layer_masks WHERE model_id = ? ORDER BY id').pluck().all(id) as string[];
  const paramMasks = db.prepare('SELECT name FROM param_masks WHERE model_id = ? ORDER BY id').pluck().all(id) as string[];
  const scoreRuns = db.prepare('SELECT id, signals_json, params_json FROM score_runs WHERE model_id = ? OR ref_model_id = ? ORDER BY id').all(id, id) as Array<{ id: number; signals_json: string; params_json: string }>;
  const trainRuns = db.prepare('SELECT id, status FROM train_runs WHERE model_id = ? OR out_model_id = ? ORDER BY id').all(id, id) as Array<{ id: number; status: string }>;
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
      db.prepare(`DELETE FROM project_meta WHERE key = 'active_model_id' AND value = ?`).run(String(id));
      db.prepare('DELETE FROM layer_masks WHERE model_id = ?').run(id);
      db.prepare('DELETE FROM param_masks WHERE model_id = ?').run(id);
      db.prepare('DELETE FROM models WHERE id = ?').run(id);
    },
  };
}

function planScoreRun(db: Db, id: number): Plan {
  const r = db.prepare('SELECT id, signals_json, params_json FROM score_runs WHERE id = ?').get(id) as { id: number; signals_json: string; params_json: string } | undefined;
  if (!r) throw new WinnowError('not_found', `score run ${id} not found`);
  const count = (sql: string) => db.prepare(sql).pluck().get(id) as number;
  const examples = count('SELECT COUNT(DISTINCT example_id) FROM example_scores WHERE run_id = ?');
  const tokens = count('SELECT COUNT(DISTINCT example_id) FROM token_scores WHERE run_id = ?');
  const vectors = count('SELECT COUNT(DISTINCT example_id) FROM example_vectors WHERE run_id = ?') + count('SELECT COUNT(*) FROM layout_points WHERE run_id = ?');
  const layers = count('SELECT COUNT(*) FROM layer_scores WHERE run_id = ?');
  const columns = listSignalColumns(db);
  // the Examples table shows each signal's latest value: where this run's is shown, an earlier run's (or none) comes back
  const shown = (db.prepare('SELECT DISTINCT signal FROM example_scores WHERE run_id = ? ORDER BY signal').pluck().all(id) as string[])
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
      for (const s of shown) {
        db.prepare(`UPDATE example_signals SET "${s}" = (SELECT x.value FROM example_scores x WHERE x.example_id = example_signals.example_id
            AND x.signal = ? AND x.run_id != ? ORDER BY x.run_id DESC LIMIT 1)
          WHERE example_id IN (SELECT example_id FROM example_scores WHERE run_id = ? AND signal = ?)`).run(s, id, id, s);
      }
      db.prepare('DELETE FROM score_runs WHERE id = ?').run(id);
      db.prepare('DELETE FROM project_meta WHERE key = ?').run(runLabelKey('score_run', id));
    },
  };
}

function planTrainRun(db: Db, id: number): Plan {
  const r = db.prepare('SELECT id, status, out_dir, checkpoint_path FROM train_runs WHERE id = ?').get(id) as { id: number; status: string; out_dir: string | null; checkpoint_path: string | null } | undefined;
  if (!r) throw new WinnowError('not_found', `train run ${id} not found`);
  const metrics = db.prepare('SELECT COUNT(*) FROM train_metrics WHERE run_id = ?').pluck().get(id) as number;
  const models = db.prepare('SELECT name FROM models WHERE train_run_id = ? ORDER BY id').pluck().all(id) as string[];
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
      db.prepare('DELETE FROM train_runs WHERE id = ?').run(id);
      db.prepare('DELETE FROM project_meta WHERE key = ?').run(runLabelKey('train_run', id));
    },
  };
}

function planLayerMask(db: Db, id: number): Plan {
  const name = db.prepare('SELECT name FROM layer_masks WHERE id = ?').pluck().get(id) as string | undefined;
  if (name === undefined) throw new WinnowError('not_found', `layer mask ${id} not found`);
  return {
    report: { kind: 'layer_mask', id, name, deletes: [line('layer mask', [`"${name}"`])], keeps: [] },
    apply: () => {
      db.prepare('DELETE FROM layer_masks WHERE id = ?').run(id);
    },
  };
}

function planParamMask(db: Db, id: number): Plan {
  const name = db.prepare('SELECT name FROM param_masks WHERE id = ?').pluck().get(id) as string | undefined;
  if (name === undefined) throw new WinnowError('not_found', `parameter mask ${id} not found`);
  const runs = (db.prepare('SELECT id, status, config_json FROM train_runs ORDER BY id').all() as Array<{ id: number; status: string; config_json: string }>)
    .filter((r) => parseJson<{ paramMaskId?: number }>(r.config_json, {}).paramMaskId === id);
  return {
    report: {
      kind: 'param_mask', id, name,
      deletes: [line('parameter mask', [`"${name}"`])],
      keeps: runs.length ? [line('train runs that used it (kept; they can no longer resume)', runs.map((t) => trainRunLabel(db, t)))] : [],
    },
    apply: () => {
      db.prepare('DELETE FROM param_masks WHERE id = ?').run(id);
    },
  };
}

function planTokenMask(db: Db, name: string): Plan {
  const n = db.prepare('SELECT COUNT(*) FROM token_masks WHERE name = ?').pluck().get(name) as number;
  if (!n) throw new WinnowError('not_found', `no token mask named "${name}" in this project`);
  const runs = (db.prepare('SELECT id, status, config_json FROM train_runs ORDER BY id').all() as Array<{ id: number; status: string; config_json: string }>)
    .filter((r) => parseJson<{ tokenMaskName?: string }>(r.config_json, {}).tokenMaskName === name);
  return {
    report: {
      kind: 'token_mask', id: null, name,
      deletes: [line('token masks', [`"${name}" on ${n} rows (the rows go back to their label mask)`], n)],
      keeps: runs.length ? [line('train runs that used it (kept; they can no longer resume)', runs.map((t) => trainRunLabel(db, t)))] : [],
    },
    apply: () => {
      db.prepare('DELETE FROM token_masks WHERE name = ?').run(name);
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

const UNIQUE: Partial<Record<ItemKind, { table: string; what: string }>> = {
  subset: { table: 'subsets', what: 'a subset' },
  layer_mask: { table: 'layer_masks', what: 'a layer mask' },
  param_mask: { table: 'param_masks', what: 'a parameter mask' },
};

const runLabelKey = (kind: 'score_run' | 'train_run', id: number) => `run_label:${kind}:${id}`;

/** A run's label (given by a rename), or null. */
export function runLabel(db: Db, kind: 'score_run' | 'train_run', id: number): string | null {
  return (db.prepare('SELECT value FROM project_meta WHERE key = ?').pluck().get(runLabelKey(kind, id)) as string | undefined) ?? null;
}

const TABLE: Partial<Record<ItemKind, string>> = { dataset: 'datasets', model: 'models', ...Object.fromEntries(Object.entries(UNIQUE).map(([k, v]) => [k, v.table])) };

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
      if (!db.prepare('SELECT 1 FROM token_masks WHERE name = ?').get(ref.name)) throw new WinnowError('not_found', `no token mask named "${ref.name}" in this project`);
      if (name !== ref.name && db.prepare('SELECT 1 FROM token_masks WHERE name = ?').get(name)) {
        throw new WinnowError('conflict', `token masks named "${name}" already exist: choose another name`);
      }
      db.prepare('UPDATE token_masks SET name = ? WHERE name = ?').run(name, ref.name);
      return { kind: ref.kind, id: null, name };
    }
    if (ref.kind === 'score_run' || ref.kind === 'train_run') {
      // runs are numbered; a label is kept beside the run (project_meta), so no run table changes shape
      const id = needId(ref);
      const table = ref.kind === 'score_run' ? 'score_runs' : 'train_runs';
      if (!db.prepare(`SELECT 1 FROM ${table} WHERE id = ?`).get(id)) throw new WinnowError('not_found', `${ref.kind.replace('_', ' ')} ${id} not found`);
      db.prepare('INSERT OR REPLACE INTO project_meta (key, value) VALUES (?, ?)').run(runLabelKey(ref.kind, id), name);
      return { kind: ref.kind, id, name };
    }
    const table = TABLE[ref.kind];
    if (!table) throw new WinnowError('unsupported', `${ref.kind.replace('_', ' ')}s have no name to change`);
    const id = needId(ref);
    if (!db.prepare(`SELECT 1 FROM ${table} WHERE id = ?`).get(id)) throw new WinnowError('not_found', `${ref.kind.replace('_', ' ')} ${id} not found`);
    const unique = UNIQUE[ref.kind];
    if (unique && db.prepare(`SELECT 1 FROM ${table} WHERE name = ? AND id != ?`).get(name, id)) {
      throw new WinnowError('conflict', `${unique.what} named "${name}" already exists: choose another name`);
    }
    db.prepare(`UPDATE ${table} SET name = ? WHERE id = ?`).run(name, id);
    return { kind: ref.kind, id, name };
  })();
}

/** Every score run (clusterings and map layouts included), newest first, with the rows it covered in words. */
export function listScoreRuns(db: Db): ScoreRunInfo[] {
  const rows = db.prepare(`SELECT r.id, r.job_id, r.model_id, m.name AS model_name, r.dataset_id, d.name AS dataset_name, r.signals_json, r.params_json,
      r.status, r.total, r.created_at, r.finished_at FROM score_runs r LEFT JOIN models m ON m.id = r.model_id LEFT JOIN datasets d ON d.id = r.dataset_id
      ORDER BY r.id DESC`).all() as Array<{
    id: number; job_id: string | null; model_id: number | null; model_name: string | null; dataset_id: number | null; dataset_name: string | null;
    signals_json: string; params_json: string; status: string; total: number | null; created_at: string; finished_at: string | null;
  }>;
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
  return db.prepare('SELECT name, COUNT(*) AS rows FROM token_masks GROUP BY name ORDER BY name').all() as Array<{ name: string; rows: number }>;
}
