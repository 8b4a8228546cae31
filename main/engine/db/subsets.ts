/**
 * Subsets (`subsets`, `subset_members`) and the SQL side of their rules: the rows a signal-column rule selects, over
 * `examples e LEFT JOIN example_signals s`. What a rule means, and the embedding rules, are selection/ work.
 */
import type { Db } from './open';
import type { SubsetInfo } from '../../../preload/contract';
import { listSignalColumns } from './signals';
import { WinnowError } from '../util/errors';

/** Columns a rule may name that every row has, with their SQL. */
const BUILTIN_COLUMNS: Record<string, string> = { row_index: 'e.row_index', n_chars: 'e.n_chars' };

export function isBuiltinRuleColumn(name: string): boolean {
  return name in BUILTIN_COLUMNS;
}

/** A rule column's SQL (`e.` a built-in column, `s."name"` a signal column); an unknown name is an error naming it. */
export function ruleColumnSql(db: Db, name: string): string {
  if (name in BUILTIN_COLUMNS) return BUILTIN_COLUMNS[name]!;
  if (listSignalColumns(db).includes(name)) return `s."${name}"`;
  throw new WinnowError('bad_input', `rule: unknown column "${name}" — score the dataset with it first`);
}

const FROM = 'examples e LEFT JOIN example_signals s ON s.example_id = e.id';
const scopeOf = (datasetId?: number): { sql: string; args: number[] } =>
  datasetId !== undefined ? { sql: 'e.dataset_id = ?', args: [datasetId] } : { sql: '1=1', args: [] };

/** Every example id in the scope (one dataset, or all), ascending. */
export function scopedExampleIds(db: Db, datasetId?: number): number[] {
  const scope = scopeOf(datasetId);
  return db.prepare(`SELECT e.id FROM ${FROM} WHERE ${scope.sql} ORDER BY e.id`).pluck().all(...scope.args) as number[];
}

/** Ids in the scope whose column (SQL from ruleColumnSql) lies in [min, max] (either end optional), ascending. */
export function idsInColumnRange(db: Db, col: string, range: { min?: number; max?: number }, datasetId?: number): number[] {
  const scope = scopeOf(datasetId);
  const conds = [scope.sql, `${col} IS NOT NULL`];
  const args: unknown[] = [...scope.args];
  if (range.min !== undefined) { conds.push(`${col} >= ?`); args.push(range.min); }
  if (range.max !== undefined) { conds.push(`${col} <= ?`); args.push(range.max); }
  return db.prepare(`SELECT e.id FROM ${FROM} WHERE ${conds.join(' AND ')} ORDER BY e.id`).pluck().all(...args) as number[];
}

/** How many rows in the scope have a value of the column, optionally at most `atMost`. */
export function countWithColumn(db: Db, col: string, datasetId?: number, atMost?: number): number {
  const scope = scopeOf(datasetId);
  return db
    .prepare(`SELECT COUNT(*) FROM ${FROM} WHERE ${scope.sql} AND ${col} IS NOT NULL${atMost !== undefined ? ` AND ${col} <= ?` : ''}`)
    .pluck()
    .get(...scope.args, ...(atMost !== undefined ? [atMost] : [])) as number;
}

/** The `k` rows in the scope with the highest (desc) or lowest (asc) value of the column, optionally at most `atMost`; ties by id. */
export function topIdsByColumn(db: Db, col: string, dir: 'asc' | 'desc', k: number, datasetId?: number, atMost?: number): number[] {
  const scope = scopeOf(datasetId);
  return db
    .prepare(
      `SELECT e.id FROM ${FROM} WHERE ${scope.sql} AND ${col} IS NOT NULL${atMost !== undefined ? ` AND ${col} <= ?` : ''}
       ORDER BY ${col} ${dir === 'asc' ? 'ASC' : 'DESC'}, e.id LIMIT ?`,
    )
    .pluck()
    .all(...scope.args, ...(atMost !== undefined ? [atMost] : []), k) as number[];
}

/** The members of a set operation over subsets (difference: the first minus every other one), ascending. */
export function combinedMemberIds(db: Db, op: 'union' | 'intersection' | 'difference', subsetIds: number[]): number[] {
  const [first, ...rest] = subsetIds;
  const member = 'SELECT example_id FROM subset_members WHERE subset_id = ?';
  const sqlOp = op === 'union' ? 'UNION' : op === 'intersection' ? 'INTERSECT' : 'EXCEPT';
  // EXCEPT chains left to right
  const sql = [member, ...rest.map(() => `${sqlOp} ${member}`)].join(' ');
  return db.prepare(`SELECT example_id FROM (${sql}) ORDER BY example_id`).pluck().all(first, ...rest) as number[];
}

/** The example ids of a dataset, ascending. */
export function datasetExampleIds(db: Db, datasetId: number): number[] {
  return db.prepare('SELECT id FROM examples WHERE dataset_id = ?').pluck().all(datasetId) as number[];
}

export function subsetNameTaken(db: Db, name: string): boolean {
  return !!db.prepare('SELECT id FROM subsets WHERE name = ?').get(name);
}

export function subsetExists(db: Db, id: number): boolean {
  return !!db.prepare('SELECT 1 FROM subsets WHERE id = ?').get(id);
}

/** A new subset and its members, in one transaction; returns its id. */
export function insertSubset(db: Db, name: string, ruleJson: string, ids: number[]): number {
  return db.transaction(() => {
    const info = db.prepare(`INSERT INTO subsets (name, rule_json, size, created_at) VALUES (?, ?, ?, datetime('now'))`).run(name, ruleJson, ids.length);
    const subsetId = Number(info.lastInsertRowid);
    insertMembers(db, subsetId, ids);
    return subsetId;
  })();
}

/** A subset's rule and rows replaced (same id and name), no longer stale. Run inside the caller's transaction. */
export function replaceSubsetRows(db: Db, subsetId: number, ruleJson: string, ids: number[]): void {
  db.prepare(`UPDATE subsets SET rule_json = ?, size = ?, stale_reason = NULL, created_at = datetime('now') WHERE id = ?`).run(ruleJson, ids.length, subsetId);
  db.prepare('DELETE FROM subset_members WHERE subset_id = ?').run(subsetId);
  insertMembers(db, subsetId, ids);
}

function insertMembers(db: Db, subsetId: number, ids: number[]): void {
  const ins = db.prepare('INSERT INTO subset_members (subset_id, example_id) VALUES (?, ?)');
  for (const e of ids) ins.run(subsetId, e);
}

/** Whether any row (of the dataset, when given) has a value of the signal column. */
export function columnHasValues(db: Db, col: string, datasetId?: number): boolean {
  const where = datasetId !== undefined ? ' AND example_id IN (SELECT id FROM examples WHERE dataset_id = ?)' : '';
  return !!db.prepare(`SELECT 1 FROM example_signals WHERE "${col}" IS NOT NULL${where} LIMIT 1`).get(...(datasetId !== undefined ? [datasetId] : []));
}

/** Whether any row (of the dataset, when given) has a render under the render key. */
export function renderKeyHasRows(db: Db, renderKeyId: number, datasetId?: number): boolean {
  const where = datasetId !== undefined ? ' AND example_id IN (SELECT id FROM examples WHERE dataset_id = ?)' : '';
  return !!db.prepare(`SELECT 1 FROM renders WHERE render_key_id = ?${where} LIMIT 1`).get(renderKeyId, ...(datasetId !== undefined ? [datasetId] : []));
}

interface SubsetRowDb { id: number; name: string; rule_json: string; size: number; created_at: string; stale_reason: string | null }

function toInfo(r: SubsetRowDb): SubsetInfo {
  return { id: r.id, name: r.name, size: r.size, rule: JSON.parse(r.rule_json), createdAt: r.created_at, staleReason: r.stale_reason ?? null };
}

export function getSubset(db: Db, id: number): SubsetInfo {
  const r = db.prepare('SELECT * FROM subsets WHERE id = ?').get(id) as SubsetRowDb | undefined;
  if (!r) throw new WinnowError('not_found', `subset ${id} not found`);
  return toInfo(r);
}

export function findSubsetByName(db: Db, name: string): SubsetInfo {
  const r = db.prepare('SELECT * FROM subsets WHERE name = ?').get(name) as SubsetRowDb | undefined;
  if (!r) throw new WinnowError('not_found', `subset "${name}" not found`);
  return toInfo(r);
}

export function listSubsets(db: Db): SubsetInfo[] {
  return (db.prepare('SELECT * FROM subsets ORDER BY id').all() as SubsetRowDb[]).map(toInfo);
}

export function deleteSubset(db: Db, id: number): boolean {
  return db.prepare('DELETE FROM subsets WHERE id = ?').run(id).changes > 0;
}

export function subsetMemberIds(db: Db, id: number): number[] {
  return db.prepare('SELECT example_id FROM subset_members WHERE subset_id = ? ORDER BY example_id').pluck().all(id) as number[];
}
