/**
 * Which rows a scoring run covers: every row of the dataset (or of every dataset), a subset's rows, or a seeded random
 * sample of n rows. The sample is the one a `random` subset rule with the same n and seed picks (selection/subsets.ts),
 * so "random 500, seed 0" names the same rows on the Score screen, in the CLI and on the Subsets screen, and a resumed
 * run draws the very rows its first batches scored.
 */
import type { Db } from '../db';
import type { RowScope } from '../../../preload/contract';
import { WinnowError } from '../util/errors';
import { evaluateRule, getSubset } from '../selection/subsets';
import { countExamplesWhere, datasetName, subsetName } from '../db/score-rows';

export type { RowScope };

/** A SQL condition on `e` (examples) and its arguments. */
export interface RowScopeSql {
  sql: string;
  args: unknown[];
}

/** The condition that keeps a run's rows (the dataset condition is the caller's). */
export function rowScopeSql(db: Db, rows: RowScope | undefined, datasetId: number | undefined): RowScopeSql | null {
  if (!rows || rows.kind === 'all') return null;
  if (rows.kind === 'subset') {
    getSubset(db, rows.subsetId);
    return { sql: 'e.id IN (SELECT example_id FROM subset_members WHERE subset_id = ?)', args: [rows.subsetId] };
  }
  // one JSON argument, however many rows: SQLite caps the number of bound parameters
  return { sql: 'e.id IN (SELECT value FROM json_each(?))', args: [JSON.stringify(sampleIds(db, rows.n, rows.seed, datasetId))] };
}

/** The sample's example ids (ascending). */
export function sampleIds(db: Db, n: number, seed: number, datasetId: number | undefined): number[] {
  return evaluateRule(db, { kind: 'random', count: n, seed }, datasetId).sort((a, b) => a - b);
}

/** The WHERE clause (with its leading " WHERE ", or empty) over `examples e` for the scope's rows of the dataset. */
export function scopeWhere(db: Db, rows: RowScope | undefined, datasetId: number | undefined): { where: string; args: unknown[] } {
  const parts: string[] = [];
  const args: unknown[] = [];
  if (datasetId !== undefined) {
    parts.push('e.dataset_id = ?');
    args.push(datasetId);
  }
  const extra = rowScopeSql(db, rows, datasetId);
  if (extra) {
    parts.push(extra.sql);
    args.push(...extra.args);
  }
  return { where: parts.length ? ` WHERE ${parts.join(' AND ')}` : '', args };
}

/** How many rows the scope holds (of the dataset when given). */
export function countScopeRows(db: Db, rows: RowScope | undefined, datasetId: number | undefined): number {
  const { where, args } = scopeWhere(db, rows, datasetId);
  return countExamplesWhere(db, where, args);
}

/**
 * Refuses a scope that names no row (an empty subset, a subset none of whose rows is in the dataset, n of 0), naming
 * why; returns the row count.
 */
export function checkRowScope(db: Db, rows: RowScope | undefined, datasetId: number | undefined): number {
  const n = countScopeRows(db, rows, datasetId);
  if (n === 0 && rows && rows.kind === 'subset') {
    const s = getSubset(db, rows.subsetId);
    const where = datasetId !== undefined ? ` in dataset ${datasetLabel(db, datasetId)}` : '';
    throw new WinnowError('bad_input', `rows: subset "${s.name}" has no row${where}: nothing to score`);
  }
  if (n === 0 && rows && rows.kind === 'sample') throw new WinnowError('bad_input', 'rows: a sample of a dataset with no rows: nothing to score');
  return n;
}

function datasetLabel(db: Db, id: number): string {
  const name = datasetName(db, id);
  return name !== undefined ? `"${name}"` : `#${id}`;
}

/**
 * The scope in words, for the plan, the job and the runs list: "all rows", "subset 'target' (5 rows)",
 * "random 500, seed 0". A subset is named by its current name (a rename shows), else by the name recorded with the run.
 */
export function describeRows(db: Db, rows: RowScope | undefined, count?: number): string {
  const n = count !== undefined ? ` (${count} row${count === 1 ? '' : 's'})` : '';
  if (!rows || rows.kind === 'all') return `all rows${n}`;
  if (rows.kind === 'sample') return `random ${rows.n}, seed ${rows.seed}`;
  const now = subsetName(db, rows.subsetId);
  if (now !== undefined) return `subset '${now}'${n}`;
  return `subset '${rows.name ?? `#${rows.subsetId}`}' (deleted)${n}`;
}
