/**
 * The rows a scoring run reads: rendered examples in a scope (a SQL condition over `renders r` and `examples e`, built
 * by scoring/), target subsets' rendered members, and the counts and sizes the plan estimates from.
 */
import type { Db } from './open';

/** A SQL condition over `renders r JOIN examples e` and its arguments (scoring/gradient-pass.ts Scope). */
export interface RenderScope {
  sql: string;
  args: unknown[];
}

/** How many rendered rows the scope holds. */
export function countScopedRenders(db: Db, scope: RenderScope): number {
  return db
    .prepare(`SELECT COUNT(*) FROM renders r JOIN examples e ON e.id = r.example_id WHERE ${scope.sql}`)
    .pluck()
    .get(...scope.args) as number;
}

/**
 * The scope's rendered rows the run has not scored yet (length_tokens is written for every scored example), with
 * their token counts, shortest first.
 */
export function pendingRenders(db: Db, scope: RenderScope, runId: number): Array<{ id: number; n: number }> {
  return db
    .prepare(
      `SELECT r.example_id AS id, r.n_tokens AS n FROM renders r JOIN examples e ON e.id = r.example_id
       WHERE ${scope.sql}
         AND NOT EXISTS (SELECT 1 FROM example_scores s WHERE s.run_id = ${runId} AND s.example_id = r.example_id AND s.signal = 'length_tokens')
       ORDER BY r.n_tokens, r.example_id`,
    )
    .all(...scope.args) as Array<{ id: number; n: number }>;
}

/** The scope's rendered example ids, ascending. */
export function scopedRenderIds(db: Db, scope: RenderScope): number[] {
  return db.prepare(`SELECT r.example_id FROM renders r JOIN examples e ON e.id = r.example_id WHERE ${scope.sql} ORDER BY r.example_id`).pluck().all(...scope.args) as number[];
}

/** The scope's rendered example ids with a token to learn (n_label > 0), optionally only a subset's, ascending. */
export function learnableRenderIds(db: Db, scope: RenderScope, subsetId?: number): number[] {
  const subset = subsetId !== undefined ? 'AND r.example_id IN (SELECT example_id FROM subset_members WHERE subset_id = ?)' : '';
  const args = subsetId !== undefined ? [...scope.args, subsetId] : scope.args;
  return db
    .prepare(`SELECT r.example_id FROM renders r JOIN examples e ON e.id = r.example_id WHERE ${scope.sql} AND r.n_label > 0 ${subset} ORDER BY r.example_id`)
    .pluck()
    .all(...args) as number[];
}

/** A subset's members rendered with the render key that have a token to learn, ascending. */
export function learnableSubsetRenderIds(db: Db, keyId: number, subsetId: number): number[] {
  return db
    .prepare(
      `SELECT m.example_id FROM subset_members m JOIN renders r ON r.example_id = m.example_id AND r.render_key_id = ?
         WHERE m.subset_id = ? AND r.n_label > 0 ORDER BY m.example_id`,
    )
    .pluck()
    .all(keyId, subsetId) as number[];
}

/** Reads an example's rendered length in tokens under a render key (undefined: not rendered). */
export function renderLengthReader(db: Db): (exampleId: number, keyId: number) => number | undefined {
  const stmt = db.prepare('SELECT n_tokens FROM renders WHERE example_id = ? AND render_key_id = ?').pluck();
  return (exampleId, keyId) => stmt.get(exampleId, keyId) as number | undefined;
}

/** The datasets a subset's rows come from. */
export function datasetsOfSubset(db: Db, subsetId: number): number[] {
  return db
    .prepare('SELECT DISTINCT e.dataset_id FROM subset_members m JOIN examples e ON e.id = m.example_id WHERE m.subset_id = ?')
    .pluck()
    .all(subsetId) as number[];
}

/** The datasets the examples come from. */
export function datasetsOfExamples(db: Db, ids: number[]): number[] {
  return ids.length ? (db.prepare(`SELECT DISTINCT dataset_id FROM examples WHERE id IN (SELECT value FROM json_each(?))`).pluck().all(JSON.stringify(ids)) as number[]) : [];
}

export function subsetSize(db: Db, subsetId: number): number {
  return db.prepare('SELECT COUNT(*) FROM subset_members WHERE subset_id = ?').pluck().get(subsetId) as number;
}

/** How many of a subset's rows are not in the dataset. */
export function subsetRowsOutside(db: Db, subsetId: number, datasetId: number): number {
  return db.prepare('SELECT COUNT(*) FROM subset_members m JOIN examples e ON e.id = m.example_id WHERE m.subset_id = ? AND e.dataset_id != ?').pluck().get(subsetId, datasetId) as number;
}

/** A subset's current name; undefined once it is deleted. */
export function subsetName(db: Db, subsetId: number): string | undefined {
  return db.prepare('SELECT name FROM subsets WHERE id = ?').pluck().get(subsetId) as string | undefined;
}

/** A dataset's name; undefined once it is deleted. */
export function datasetName(db: Db, datasetId: number): string | undefined {
  return db.prepare('SELECT name FROM datasets WHERE id = ?').pluck().get(datasetId) as string | undefined;
}

/** How many examples a WHERE clause over `examples e` (with its leading " WHERE ", or empty) keeps. */
export function countExamplesWhere(db: Db, where: string, args: unknown[]): number {
  return db.prepare(`SELECT COUNT(*) FROM examples e${where}`).pluck().get(...args) as number;
}

/** The characters of the examples a WHERE clause over `examples e` keeps (0 for none). */
export function charsWhere(db: Db, where: string, args: unknown[]): number {
  return (db.prepare(`SELECT SUM(e.n_chars) FROM examples e${where}`).pluck().get(...args) as number | null) ?? 0;
}

/** Tokens and characters of (at most) the first 5000 rendered rows of the project: its tokens per character. */
export function renderedSample(db: Db): { tokens: number | null; chars: number | null } {
  return db.prepare(`SELECT SUM(s.n_tokens) AS tokens, SUM(e.n_chars) AS chars FROM (SELECT example_id, n_tokens FROM renders LIMIT 5000) s
    JOIN examples e ON e.id = s.example_id`).get() as { tokens: number | null; chars: number | null };
}
