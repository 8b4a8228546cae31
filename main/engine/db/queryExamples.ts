import type { Db } from './open';
import { WinnowError } from '../util/errors';
import { listSignalColumns } from './signals';

export interface ExampleQuery {
  datasetId?: number;
  subsetId?: number;
  /** renders of this tokenizer supply nTokens/nLabel (and the n_tokens/n_label columns); null without it */
  tokenizerId?: string;
  sort?: { column: string; dir: 'asc' | 'desc' };
  filters?: Array<{ column: string; min?: number; max?: number }>;
  /** full-text search over the example's text; words match as prefixes, all must occur */
  text?: string;
  offset: number;
  limit: number;
}

export interface ExampleListRow {
  id: number;
  datasetId: number;
  rowIndex: number;
  preview: string;
  nTokens: number | null;
  nLabel: number | null;
  signals: Record<string, number | null>;
}

const BUILTIN: Record<string, string> = {
  row_index: 'e.row_index',
  n_chars: 'e.n_chars',
  n_tokens: 'r.n_tokens',
  n_label: 'r.n_label',
};

/** Turn user text into an FTS5 query: each word a quoted prefix term, so FTS syntax in the input is inert. */
export function ftsQuery(text: string): string | null {
  const words = text.split(/\s+/).map((w) => w.replace(/"/g, '')).filter((w) => /[\p{L}\p{N}]/u.test(w));
  if (words.length === 0) return null;
  return words.map((w) => `"${w}"*`).join(' ');
}

/**
 * The example table's query: every column name is checked against the built-ins and the signal columns
 * that exist, so the SQL is assembled only from known identifiers; values are bound.
 */
export function queryExamples(db: Db, q: ExampleQuery): { total: number; rows: ExampleListRow[] } {
  if (!Number.isInteger(q.offset) || q.offset < 0) throw new WinnowError('bad_input', `offset must be a non-negative integer, got ${q.offset}`);
  if (!Number.isInteger(q.limit) || q.limit < 1 || q.limit > 10000) throw new WinnowError('bad_input', `limit must be an integer in 1..10000, got ${q.limit}`);
  const signals = listSignalColumns(db);
  const colSql = (name: string): string => {
    if (name in BUILTIN) return BUILTIN[name];
    if (signals.includes(name)) return `s."${name}"`;
    throw new WinnowError('bad_input', `unknown column "${name}" (known: ${[...Object.keys(BUILTIN), ...signals].join(', ')})`);
  };

  const where: string[] = [];
  const args: unknown[] = [];
  if (q.datasetId !== undefined) { where.push('e.dataset_id = ?'); args.push(q.datasetId); }
  if (q.subsetId !== undefined) {
    where.push('e.id IN (SELECT example_id FROM subset_members WHERE subset_id = ?)');
    args.push(q.subsetId);
  }
  for (const f of q.filters ?? []) {
    const c = colSql(f.column);
    if (f.min !== undefined) { where.push(`${c} >= ?`); args.push(f.min); }
    if (f.max !== undefined) { where.push(`${c} <= ?`); args.push(f.max); }
  }
  if (q.text !== undefined) {
    const m = ftsQuery(q.text);
    if (m !== null) { where.push('e.id IN (SELECT rowid FROM examples_fts WHERE examples_fts MATCH ?)'); args.push(m); }
  }
  if (q.sort && q.sort.dir !== 'asc' && q.sort.dir !== 'desc') {
    throw new WinnowError('bad_input', `sort direction must be "asc" or "desc", got "${String(q.sort.dir)}"`);
  }
  const order = q.sort
    ? `${colSql(q.sort.column)} ${q.sort.dir.toUpperCase()} NULLS LAST, e.id ${q.sort.dir.toUpperCase()}`
    : 'e.id ASC';

  const from = `FROM examples e
    LEFT JOIN example_signals s ON s.example_id = e.id
    LEFT JOIN renders r ON r.example_id = e.id AND r.tokenizer_id = ?`;
  const fromArgs = [q.tokenizerId ?? null];
  const whereSql = where.length ? `WHERE ${where.join(' AND ')}` : '';

  const total = db.prepare(`SELECT COUNT(*) ${from} ${whereSql}`).pluck().get(...fromArgs, ...args) as number;
  const sigSel = signals.map((s) => `, s."${s}" AS "sig_${s}"`).join('');
  const raw = db.prepare(`SELECT e.id, e.dataset_id, e.row_index, e.text_preview, r.n_tokens, r.n_label${sigSel}
    ${from} ${whereSql} ORDER BY ${order} LIMIT ? OFFSET ?`).all(...fromArgs, ...args, q.limit, q.offset) as Array<Record<string, unknown>>;

  const rows = raw.map((r): ExampleListRow => {
    const sig: Record<string, number | null> = {};
    for (const s of signals) sig[s] = (r[`sig_${s}`] as number | null) ?? null;
    return {
      id: r.id as number, datasetId: r.dataset_id as number, rowIndex: r.row_index as number,
      preview: r.text_preview as string, nTokens: (r.n_tokens as number | null) ?? null,
      nLabel: (r.n_label as number | null) ?? null, signals: sig,
    };
  });
  return { total, rows };
}
