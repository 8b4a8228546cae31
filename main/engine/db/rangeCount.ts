/**
 * The row count of a table query whose only conditions are range filters on signal columns (within a dataset's id
 * range, or everywhere), from the columns' indexes rather than SQLite's one chosen plan:
 * - one column: the range's entries, or — when the range holds most rows ("keep one per group": rank ≤ 0) — all
 *   rows minus the column's NULLs and the entries outside the range, whichever is fewer to walk;
 * - several columns: a range with few entries drives and only its rows are checked against the others, else one read
 *   of the table (without statistics SQLite may drive from any range: two ranges took 0.3–2 s at a million rows).
 * Sizes are found by capped probes of each index. Null when the filters are not of this shape.
 */
import type { Db } from './open';
import { idEnds } from './histogram';

export interface SignalRange {
  column: string;
  min?: number;
  max?: number;
}

/** entries walked by a probe before a range counts as "large" (tests lower it to take every path on small tables) */
export const rangeProbe = { cap: 20_000 };

export const indexOf = (c: string) => `idx_example_signals_${c}`;

/**
 * The count, and how to walk the matching rows for a page: `index` names a range's index whose rows are few (walk it
 * and sort what it gives), null when every range is large (walk rows in the wanted order and test each).
 */
export interface SignalRangePlan {
  total: number;
  index: string | null;
}

export function countSignalRanges(db: Db, ranges: SignalRange[], scope: { lo: number; hi: number } | null, probeCap = rangeProbe.cap): number | null {
  return planSignalRanges(db, ranges, scope, probeCap)?.total ?? null;
}

export function planSignalRanges(db: Db, ranges: SignalRange[], scope: { lo: number; hi: number } | null, probeCap = rangeProbe.cap): SignalRangePlan | null {
  // one range per column (several filters on one column intersect)
  const byCol = new Map<string, { min?: number; max?: number }>();
  for (const r of ranges) {
    const c = byCol.get(r.column) ?? {};
    if (r.min !== undefined) c.min = c.min === undefined ? r.min : Math.max(c.min, r.min);
    if (r.max !== undefined) c.max = c.max === undefined ? r.max : Math.min(c.max, r.max);
    byCol.set(r.column, c);
  }
  const cols = [...byCol.entries()].filter(([, r]) => r.min !== undefined || r.max !== undefined);
  if (cols.length === 0) return null;
  const hasIndex = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?").pluck();
  if (!cols.every(([c]) => hasIndex.get(indexOf(c)))) return null;

  // the id range is left out when it holds every row the table has
  let inScope = '';
  const scopeArgs: number[] = [];
  if (scope) {
    const ends = idEnds(db, 'example_signals', 'example_id');
    if (ends.a === null) return { total: 0, index: null };
    if (ends.a < scope.lo || ends.b! > scope.hi) {
      inScope = ' AND +example_id BETWEEN ? AND ?';
      scopeArgs.push(scope.lo, scope.hi);
    }
  }
  const cond = (c: string, r: { min?: number; max?: number }) => {
    const parts: string[] = [];
    const args: number[] = [];
    if (r.min !== undefined) { parts.push(`"${c}" >= ?`); args.push(r.min); }
    if (r.max !== undefined) { parts.push(`"${c}" <= ?`); args.push(r.max); }
    return { sql: parts.join(' AND '), args };
  };
  const count = (index: string, where: string, args: number[], cap?: number) => {
    const sql = `SELECT 1 FROM example_signals INDEXED BY "${index}" WHERE ${where}${inScope}`;
    return (cap === undefined
      ? db.prepare(`SELECT COUNT(*) FROM (${sql})`).pluck().get(...args, ...scopeArgs)
      : db.prepare(`SELECT COUNT(*) FROM (${sql} LIMIT ?)`).pluck().get(...args, ...scopeArgs, cap)) as number;
  };

  if (cols.length === 1) {
    const [c, r] = cols[0]!;
    const direct = cond(c, r);
    const probe = count(indexOf(c), direct.sql, direct.args, probeCap);
    if (probe < probeCap) return { total: probe, index: indexOf(c) };
    // the complement: NULLs, below min, above max — each from the index (NULLs sort first)
    const parts = [
      { sql: `"${c}" IS NULL`, args: [] as number[] },
      ...(r.min !== undefined ? [{ sql: `"${c}" < ?`, args: [r.min] }] : []),
      ...(r.max !== undefined ? [{ sql: `"${c}" > ?`, args: [r.max] }] : []),
    ];
    if (parts.some((p) => count(indexOf(c), p.sql, p.args, probeCap) >= probeCap)) return { total: count(indexOf(c), direct.sql, direct.args), index: null };
    // every row of the table in scope: without an id range a table count reads page headers only
    const rows = inScope
      ? (db.prepare('SELECT COUNT(*) FROM example_signals WHERE example_id BETWEEN ? AND ?').pluck().get(...scopeArgs) as number)
      : (db.prepare('SELECT COUNT(*) FROM example_signals').pluck().get() as number);
    return { total: rows - parts.reduce((n, p) => n + count(indexOf(c), p.sql, p.args), 0), index: null };
  }

  // several columns: a small range drives, and only its rows are looked up for the other columns; when every range is
  // large, reading the table once beats looking rows up one by one (measured at 1M rows: 66 ms for the whole table,
  // 300 ms for the 100k lookups of the smaller of two ranges)
  const sized = cols.map(([c, r]) => {
    const k = cond(c, r);
    return { c, k, probe: count(indexOf(c), k.sql, k.args, probeCap) };
  });
  sized.sort((a, b) => a.probe - b.probe);
  const where = sized.map((s) => s.k.sql).join(' AND ');
  const args = sized.flatMap((s) => s.k.args);
  if (sized[0]!.probe < probeCap) return { total: count(indexOf(sized[0]!.c), where, args), index: indexOf(sized[0]!.c) };
  const table = `SELECT COUNT(*) FROM example_signals NOT INDEXED WHERE ${where}${inScope ? ' AND example_id BETWEEN ? AND ?' : ''}`;
  return { total: db.prepare(table).pluck().get(...args, ...scopeArgs) as number, index: null };
}
