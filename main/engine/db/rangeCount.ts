/**
 * The row count of a table query whose only conditions are range filters on signal columns (within a dataset's id
 * range, or everywhere), from the columns' indexes rather than SQLite's one chosen plan:
 * - one column: the range's entries, or — when the range holds most rows ("keep one per group": rank ≤ 0) — all
 *   rows minus the column's NULLs and the entries outside the range, whichever is fewer to walk;
 * - several columns: the range with the fewest entries drives, and only its rows are checked against the others
 *   (without statistics SQLite may pick any of them: two ranges took 0.3–0.4 s at a million rows).
 * Sizes are found by capped probes of each index. Null when the filters are not of this shape.
 */
import type { Db } from './open';

export interface SignalRange {
  column: string;
  min?: number;
  max?: number;
}

/** entries walked by a probe before a range counts as "large" */
const PROBE = 20_000;

const indexOf = (c: string) => `idx_example_signals_${c}`;

export function countSignalRanges(db: Db, ranges: SignalRange[], scope: { lo: number; hi: number } | null, probeCap = PROBE): number | null {
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
    const ends = db.prepare('SELECT MIN(example_id) AS a, MAX(example_id) AS b FROM example_signals').get() as { a: number | null; b: number | null };
    if (ends.a === null) return 0;
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
    if (probe < probeCap) return probe;
    // the complement: NULLs, below min, above max — each from the index (NULLs sort first)
    const parts = [
      { sql: `"${c}" IS NULL`, args: [] as number[] },
      ...(r.min !== undefined ? [{ sql: `"${c}" < ?`, args: [r.min] }] : []),
      ...(r.max !== undefined ? [{ sql: `"${c}" > ?`, args: [r.max] }] : []),
    ];
    if (parts.some((p) => count(indexOf(c), p.sql, p.args, probeCap) >= probeCap)) return count(indexOf(c), direct.sql, direct.args);
    // every row of the table in scope: without an id range a table count reads page headers only
    const rows = inScope
      ? (db.prepare('SELECT COUNT(*) FROM example_signals WHERE example_id BETWEEN ? AND ?').pluck().get(...scopeArgs) as number)
      : (db.prepare('SELECT COUNT(*) FROM example_signals').pluck().get() as number);
    return rows - parts.reduce((n, p) => n + count(indexOf(c), p.sql, p.args), 0);
  }

  // several columns: drive from the range with the fewest entries
  const sized = cols.map(([c, r]) => {
    const k = cond(c, r);
    return { c, k, probe: count(indexOf(c), k.sql, k.args, probeCap) };
  });
  sized.sort((a, b) => a.probe - b.probe);
  const where = sized.map((s) => s.k.sql).join(' AND ');
  return count(indexOf(sized[0]!.c), where, sized.flatMap((s) => s.k.args));
}
