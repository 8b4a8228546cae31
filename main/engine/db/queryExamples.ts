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

  // each condition remembers which joined table it reads, so counts join only what they need
  type Cond = { sql: string; args: unknown[]; uses: 'e' | 's' | 'r' };
  const conds: Cond[] = [];
  const usesOf = (c: string): Cond['uses'] => (c.startsWith('s.') ? 's' : c.startsWith('r.') ? 'r' : 'e');
  if (q.datasetId !== undefined) conds.push({ sql: 'e.dataset_id = ?', args: [q.datasetId], uses: 'e' });
  if (q.subsetId !== undefined) {
    conds.push({ sql: 'e.id IN (SELECT example_id FROM subset_members WHERE subset_id = ?)', args: [q.subsetId], uses: 'e' });
  }
  for (const f of q.filters ?? []) {
    const c = colSql(f.column);
    if (f.min !== undefined) conds.push({ sql: `${c} >= ?`, args: [f.min], uses: usesOf(c) });
    if (f.max !== undefined) conds.push({ sql: `${c} <= ?`, args: [f.max], uses: usesOf(c) });
  }
  if (q.text !== undefined) {
    const m = ftsQuery(q.text);
    if (m !== null) conds.push({ sql: 'e.id IN (SELECT rowid FROM examples_fts WHERE examples_fts MATCH ?)', args: [m], uses: 'e' });
  }
  if (q.sort && q.sort.dir !== 'asc' && q.sort.dir !== 'desc') {
    throw new WinnowError('bad_input', `sort direction must be "asc" or "desc", got "${String(q.sort.dir)}"`);
  }
  const dir = q.sort?.dir === 'desc' ? 'DESC' : 'ASC';
  const sortCol = q.sort ? colSql(q.sort.column) : null;
  const tokArg = q.tokenizerId ?? null;
  const sJoin = 'LEFT JOIN example_signals s ON s.example_id = e.id';
  const rJoin = 'LEFT JOIN renders r ON r.example_id = e.id AND r.tokenizer_id = ?';
  const where = (extra: Cond[] = []) => {
    const all = [...conds, ...extra];
    return { sql: all.length ? `WHERE ${all.map((c) => c.sql).join(' AND ')}` : '', args: all.flatMap((c) => c.args) };
  };
  const needs = (t: Cond['uses'], extra: Cond[] = []) => [...conds, ...extra].some((c) => c.uses === t);

  const w0 = where();
  const total = db.prepare(`SELECT COUNT(*) FROM examples e ${needs('s') ? sJoin : ''} ${needs('r') ? rJoin : ''} ${w0.sql}`)
    .pluck().get(...(needs('r') ? [tokArg] : []), ...w0.args) as number;

  const sigSel = signals.map((c) => `, s."${c}" AS "sig_${c}"`).join('');
  const select = `SELECT e.id, e.dataset_id, e.row_index, e.text_preview, r.n_tokens, r.n_label${sigSel}`;
  const pageFrom = `FROM examples e ${sJoin} ${rJoin}`;
  let raw: Array<Record<string, unknown>>;
  if (sortCol && sortCol.startsWith('s.')) {
    // Signal sort in two parts so SQLite walks the signal's index (a LEFT JOIN from examples would sort in a
    // temp b-tree): rows with a value in index order, then rows without one (NULLs last) in id order.
    // CROSS JOIN fixes the loop order (signals outer), which is what lets the index serve the ORDER BY.
    const notNull: Cond = { sql: `${sortCol} IS NOT NULL`, args: [], uses: 's' };
    const isNull: Cond = { sql: `${sortCol} IS NULL`, args: [], uses: 's' };
    const wv = where([notNull]);
    const countFrom = needs('e') || needs('r')
      ? `FROM example_signals s CROSS JOIN examples e ON e.id = s.example_id ${needs('r') ? rJoin : ''}`
      : 'FROM example_signals s';
    const nValued = db.prepare(`SELECT COUNT(*) ${countFrom} ${wv.sql}`).pluck().get(...(needs('r') ? [tokArg] : []), ...wv.args) as number;
    raw = [];
    if (q.offset < nValued) {
      raw = db.prepare(`${select} FROM example_signals s CROSS JOIN examples e ON e.id = s.example_id ${rJoin} ${wv.sql}
        ORDER BY ${sortCol} ${dir}, s.example_id ${dir} LIMIT ? OFFSET ?`).all(tokArg, ...wv.args, q.limit, q.offset) as Array<Record<string, unknown>>;
    }
    if (raw.length < q.limit) {
      const wn = where([isNull]);
      raw = raw.concat(db.prepare(`${select} ${pageFrom} ${wn.sql} ORDER BY e.id ${dir} LIMIT ? OFFSET ?`)
        .all(tokArg, ...wn.args, q.limit - raw.length, Math.max(0, q.offset - nValued)) as Array<Record<string, unknown>>);
    }
  } else {
    const order = sortCol ? `${sortCol} ${dir} NULLS LAST, e.id ${dir}` : 'e.id ASC';
    raw = db.prepare(`${select} ${pageFrom} ${w0.sql} ORDER BY ${order} LIMIT ? OFFSET ?`)
      .all(tokArg, ...w0.args, q.limit, q.offset) as Array<Record<string, unknown>>;
  }

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
