/**
 * Histogram of one numeric column over the rows the Examples table would show (same dataset/subset/filters/search
 * scope), computed in SQL: one pass for min/max/count, one GROUP BY over equal-width buckets.
 */
import type { Db } from '../db';
import { ftsQuery, listSignalColumns } from '../db';
import { WinnowError } from '../util/errors';

export interface HistogramQuery {
  datasetId?: number;
  subsetId?: number;
  column: string;
  bins: number;
  filters?: Array<{ column: string; min?: number; max?: number }>;
  text?: string;
  /** renders of this tokenizer supply n_tokens / n_label */
  tokenizerId?: string;
}

export interface HistogramResult {
  min: number | null;
  max: number | null;
  /** `bins` counts; the last bucket includes `max` */
  counts: number[];
  /** rows in scope with a value */
  total: number;
  /** rows in scope without a value (not scored, or not rendered) */
  nulls: number;
}

const BUILTIN: Record<string, string> = {
  row_index: 'e.row_index',
  n_chars: 'e.n_chars',
  n_tokens: 'r.n_tokens',
  n_label: 'r.n_label',
};

export function columnHistogram(db: Db, q: HistogramQuery): HistogramResult {
  if (!Number.isInteger(q.bins) || q.bins < 1 || q.bins > 1000) throw new WinnowError('bad_input', `examples.histogram: field "bins" must be 1..1000, got ${q.bins}`);
  const signals = listSignalColumns(db);
  const colSql = (name: string): string => {
    if (name in BUILTIN) return BUILTIN[name]!;
    if (signals.includes(name)) return `s."${name}"`;
    throw new WinnowError('bad_input', `examples.histogram: unknown column "${name}" (known: ${[...Object.keys(BUILTIN), ...signals].join(', ')})`);
  };
  const col = colSql(q.column);
  const conds: string[] = [];
  const args: unknown[] = [];
  if (q.datasetId !== undefined) {
    conds.push('e.dataset_id = ?');
    args.push(q.datasetId);
  }
  if (q.subsetId !== undefined) {
    conds.push('e.id IN (SELECT example_id FROM subset_members WHERE subset_id = ?)');
    args.push(q.subsetId);
  }
  for (const f of q.filters ?? []) {
    const c = colSql(f.column);
    if (f.min !== undefined) {
      conds.push(`${c} >= ?`);
      args.push(f.min);
    }
    if (f.max !== undefined) {
      conds.push(`${c} <= ?`);
      args.push(f.max);
    }
  }
  if (q.text !== undefined) {
    const m = ftsQuery(q.text);
    if (m !== null) {
      conds.push('e.id IN (SELECT rowid FROM examples_fts WHERE examples_fts MATCH ?)');
      args.push(m);
    }
  }
  const usesR = col.startsWith('r.') || (q.filters ?? []).some((f) => colSql(f.column).startsWith('r.'));
  const from = `FROM examples e LEFT JOIN example_signals s ON s.example_id = e.id${usesR ? ' LEFT JOIN renders r ON r.example_id = e.id AND r.tokenizer_id = ?' : ''}`;
  const fromArgs = usesR ? [q.tokenizerId ?? null] : [];
  const where = conds.length ? `WHERE ${conds.join(' AND ')}` : '';

  const agg = db
    .prepare(`SELECT MIN(${col}) AS lo, MAX(${col}) AS hi, COUNT(${col}) AS n, COUNT(*) AS rows ${from} ${where}`)
    .get(...fromArgs, ...args) as { lo: number | null; hi: number | null; n: number; rows: number };
  const counts = new Array<number>(q.bins).fill(0);
  if (agg.lo === null || agg.hi === null) return { min: null, max: null, counts, total: 0, nulls: agg.rows };
  if (agg.hi === agg.lo) {
    counts[0] = agg.n;
  } else {
    const valued = where ? `${where} AND ${col} IS NOT NULL` : `WHERE ${col} IS NOT NULL`;
    // the max itself lands in bucket `bins`: fold it into the last one
    const rows = db
      .prepare(
        `SELECT MIN(CAST((${col} - ?) / (? - ?) * ? AS INTEGER), ? - 1) AS b, COUNT(*) AS c ${from} ${valued} GROUP BY b`,
      )
      .all(agg.lo, agg.hi, agg.lo, q.bins, q.bins, ...fromArgs, ...args) as Array<{ b: number; c: number }>;
    for (const r of rows) counts[Math.max(0, Math.min(q.bins - 1, r.b))]! += r.c;
  }
  return { min: agg.lo, max: agg.hi, counts, total: agg.n, nulls: agg.rows - agg.n };
}
