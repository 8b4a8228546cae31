import type { Db } from './open';
import { WinnowError } from '../util/errors';
import { listSignalColumns } from './signals';
import { indexOf, planSignalRanges } from './rangeCount';
import { ftsQuery } from './fts';
import { getRender, tokenMaskFor } from './renders';
import { EDITED_MASK_NAME, N_LABEL_SLOT, countWithEdits, pageWithEdits, prepareEditedTrainable, type EditedQuery } from './edited-trainable';
import type { ExampleRow } from '../../../preload/contract';

export interface ExampleQuery {
  datasetId?: number;
  subsetId?: number;
  /** renders of this render key supply nTokens/nLabel (and the n_tokens/n_label columns); null without it */
  renderKeyId?: number | null;
  sort?: { column: string; dir: 'asc' | 'desc' };
  filters?: Array<{ column: string; min?: number; max?: number }>;
  /** full-text search over the example's text: all words must occur, the last one as a prefix (it may be half typed) */
  text?: string;
  offset: number;
  limit: number;
}

/** a table row, as the contract describes it (`examples.query`) */
export type ExampleListRow = ExampleRow;

export { EDITED_MASK_NAME };

const BUILTIN: Record<string, string> = {
  row_index: 'e.row_index',
  n_chars: 'e.n_chars',
  n_tokens: 'r.n_tokens',
  n_label: 'r.n_label',
};

/** The table's columns that every row has (not signal columns): row_index, n_chars and the token counts. */
export const TABLE_BUILTIN_COLUMNS: readonly string[] = Object.keys(BUILTIN);

interface Scope { lo: number; hi: number; n: number }

/**
 * A dataset's examples as an id range. An import inserts all of a dataset's rows in one write transaction and
 * nothing deletes single examples, so a dataset's ids are contiguous; checked here (ends by index seeks, count
 * from datasets.row_count, counted only when that disagrees). With the range, index walks on signals or n_chars
 * test membership from the index entry itself (the rowid) instead of joining every row to examples.
 */
function datasetScope(db: Db, datasetId: number): Scope | null {
  const lo = db.prepare('SELECT id FROM examples WHERE dataset_id = ? ORDER BY row_index ASC LIMIT 1').pluck().get(datasetId) as number | undefined;
  if (lo === undefined) return { lo: 1, hi: 0, n: 0 };
  const hi = db.prepare('SELECT id FROM examples WHERE dataset_id = ? ORDER BY row_index DESC LIMIT 1').pluck().get(datasetId) as number;
  const rowCount = db.prepare('SELECT row_count FROM datasets WHERE id = ?').pluck().get(datasetId) as number | undefined;
  const n = rowCount === hi - lo + 1 ? rowCount : (db.prepare('SELECT COUNT(*) FROM examples WHERE dataset_id = ?').pluck().get(datasetId) as number);
  return n === hi - lo + 1 ? { lo, hi, n } : null;
}

/**
 * The example table's query: every column name is checked against the built-ins and the signal columns
 * that exist, so the SQL is assembled only from known identifiers; values are bound.
 * A page is found as ids first (touching only the indexes the order and filters need), then its rows are
 * fetched with their signals and token counts: OFFSET then skips index entries, not joined rows.
 */
export interface ExampleQueryResult {
  total: number;
  rows: ExampleListRow[];
  /** with a text filter: rows in scope not yet in the search index (built after an import commits); absent when 0 */
  textPending?: number;
}

/**
 * Rows of the scope (one dataset, or all) that the search index does not cover yet. A dataset's ids are one range
 * (see datasetScope), so this is arithmetic on index seeks, not a count.
 */
function textPending(db: Db, datasetId: number | undefined): number {
  const ds = db.prepare(`SELECT id, text_indexed_upto AS upto FROM datasets${datasetId === undefined ? '' : ' WHERE id = ?'}`)
    .all(...(datasetId === undefined ? [] : [datasetId])) as Array<{ id: number; upto: number }>;
  let n = 0;
  for (const d of ds) {
    const s = datasetScope(db, d.id);
    if (s === null) n += db.prepare('SELECT COUNT(*) FROM examples WHERE dataset_id = ? AND id > ?').pluck().get(d.id, d.upto) as number;
    else if (s.n > 0) n += Math.max(0, s.hi - Math.max(d.upto, s.lo - 1));
  }
  return n;
}

/** A stored row whose preview is not stored, as `previewOf` gets it to make one. */
export interface PreviewSource { datasetId: number; rowIndex: number; rawJson: string; messagesJson: string }

/**
 * One page of the examples table. Rows imported since schema 8 store no preview: `previewOf` makes it from the row
 * (data/queryExamples.ts passes the row's messages' preview text), for this page only.
 */
export function queryExampleRows(db: Db, q: ExampleQuery, previewOf: (row: PreviewSource) => string): ExampleQueryResult {
  const page = queryIdPage(db, q);
  const extra = page.textPending > 0 ? { textPending: page.textPending } : {};
  if (page.ids.length === 0) return { total: page.total, rows: [], ...extra };
  return { total: page.total, rows: pageRows(db, page.ids, page.signals, q.renderKeyId ?? null, previewOf), ...extra };
}

/** a LIMIT no project reaches: every row */
const ALL_ROWS = 2 ** 31 - 1;

/**
 * Every example id the table's query matches (dataset, subset, filters, text), in id order: the table's own query,
 * so a subset made from the table's filters (the `filter` rule) holds exactly its rows. One statement, uncounted:
 * paging it by OFFSET re-read every row before each page (900k ids took 5.9 s that way; bench/query.ts).
 */
export function queryExampleIds(db: Db, q: Omit<ExampleQuery, 'offset' | 'limit' | 'sort'>): number[] {
  return queryIdPage(db, { ...q, offset: 0, limit: 1, all: true, counted: false }).ids;
}

/** Internally: every matching id at once (`all`, row order only, `limit` ignored) and no total (`counted: false`: -1). */
type IdPageQuery = ExampleQuery & { all?: true; counted?: false };

/** One page of the table's query as ids, with its total, the signal columns and the rows not yet searchable. */
function queryIdPage(db: Db, q: IdPageQuery): { total: number; ids: number[]; signals: string[]; textPending: number } {
  if (!Number.isInteger(q.offset) || q.offset < 0) throw new WinnowError('bad_input', `offset must be a non-negative integer, got ${q.offset}`);
  if (!Number.isInteger(q.limit) || q.limit < 1 || q.limit > 10000) throw new WinnowError('bad_input', `limit must be an integer in 1..10000, got ${q.limit}`);
  if (q.all && q.sort) throw new WinnowError('bad_input', 'every id at once is for row order only');
  const limit = q.all ? ALL_ROWS : q.limit;
  const signals = listSignalColumns(db);
  const keyArg = q.renderKeyId ?? null;
  // sorting or filtering on trainable tokens counts hand-edited masks (edited-trainable.ts)
  const nlFiltered = (q.filters ?? []).some((f) => f.column === 'n_label');
  const edited = keyArg !== null && (q.sort?.column === 'n_label' || nlFiltered) && prepareEditedTrainable(db, keyArg);
  const colSql = (name: string): string => {
    if (name === 'n_label' && edited) return N_LABEL_SLOT;
    if (name in BUILTIN) return BUILTIN[name];
    if (signals.includes(name)) return `s."${name}"`;
    throw new WinnowError('bad_input', `unknown column "${name}" (known: ${[...Object.keys(BUILTIN), ...signals].join(', ')})`);
  };
  if (q.sort && q.sort.dir !== 'asc' && q.sort.dir !== 'desc') {
    throw new WinnowError('bad_input', `sort direction must be "asc" or "desc", got "${String(q.sort.dir)}"`);
  }

  // each condition remembers which table it reads, so queries join only what they need
  type Cond = { sql: string; args: unknown[]; uses: 'e' | 's' | 'r' | 'id'; fts?: true };
  const conds: Cond[] = [];
  const usesR = (c: string | null): boolean => c !== null && (c.startsWith('r.') || c === N_LABEL_SLOT);
  const usesOf = (c: string): Cond['uses'] => (c.startsWith('s.') ? 's' : usesR(c) ? 'r' : 'e');
  let scope: Scope | null = null;
  if (q.datasetId !== undefined) {
    scope = datasetScope(db, q.datasetId);
    // 'id' conditions name the example id as {id}: s.example_id or e.id, whichever table leads the query
    // unary + keeps the planner from driving queries by this rowid range (without statistics it takes a range
    // for very selective, and would scan a million rows rather than walk a signal's or the FTS index)
    if (scope) conds.push({ sql: '+{id} BETWEEN ? AND ?', args: [scope.lo, scope.hi], uses: 'id' });
    else conds.push({ sql: 'e.dataset_id = ?', args: [q.datasetId], uses: 'e' });
  }
  if (q.subsetId !== undefined) {
    conds.push({ sql: '{id} IN (SELECT example_id FROM subset_members WHERE subset_id = ?)', args: [q.subsetId], uses: 'id' });
  }
  for (const f of q.filters ?? []) {
    const c = colSql(f.column);
    if (f.min !== undefined) conds.push({ sql: `${c} >= ?`, args: [f.min], uses: usesOf(c) });
    if (f.max !== undefined) conds.push({ sql: `${c} <= ?`, args: [f.max], uses: usesOf(c) });
  }
  if (q.text !== undefined) {
    const m = ftsQuery(q.text);
    if (m !== null) conds.push({ sql: '{id} IN (SELECT rowid FROM examples_fts WHERE examples_fts MATCH ?)', args: [m], uses: 'id', fts: true });
  }
  const dir = q.sort?.dir === 'desc' ? 'DESC' : 'ASC';
  const sortCol = q.sort ? colSql(q.sort.column) : null;
  const has = (t: Cond['uses'], extra: Cond[] = []) => [...conds, ...extra].some((c) => c.uses === t);

  type Lead = 'e' | 's' | 'r' | 'f';
  /**
   * FROM clause and WHERE for `extra` conditions, driven by `lead`: the table whose index orders or narrows the
   * rows (examples, signals, renders, or the FTS index). Leading from signals/renders/FTS keeps the query off
   * the examples table (~1 KB rows), which it otherwise reads page by page.
   */
  /** hint: how example_signals is read when it leads (INDEXED BY a small range's index, or NOT INDEXED) */
  const build = (lead: Lead, extra: Cond[] = [], hint = '') => {
    const all = [...conds, ...extra];
    const idCol = lead === 's' ? 's.example_id' : lead === 'r' ? 'r.example_id' : lead === 'f' ? 'examples_fts.rowid' : 'e.id';
    const joins: string[] = [];
    const args: unknown[] = [];
    if (lead !== 'e' && has('e', extra)) joins.push(`CROSS JOIN examples e ON e.id = ${idCol}`);
    if (lead !== 's' && has('s', extra)) joins.push(`LEFT JOIN example_signals s ON s.example_id = ${idCol}`);
    if (lead === 'r') args.push(keyArg);
    else if (has('r', extra) || usesR(sortCol)) {
      joins.push(`LEFT JOIN renders r ON r.example_id = ${idCol} AND r.render_key_id = ?`);
      args.push(keyArg);
    }
    const from = `${lead === 's' ? `example_signals s${hint}` : lead === 'r' ? 'renders r' : lead === 'f' ? 'examples_fts' : 'examples e'} ${joins.join(' ')}`;
    const sql = [...(lead === 'r' ? ['r.render_key_id = ?'] : []),
      ...all.map((c) => (lead === 'f' && c.fts ? 'examples_fts MATCH ?' : c.sql.replaceAll('{id}', idCol)))];
    const where = sql.length ? `WHERE ${sql.join(' AND ')}` : '';
    return { from, where, args: [...args, ...all.flatMap((c) => c.args)], idCol };
  };

  // total: the dataset's size when nothing else narrows it
  // row order over whole datasets: the page is made of id ranges (a table scan to an OFFSET reads every row)
  let ranges: Scope[] | null = null;
  const onlyScope = conds.every((c) => c.sql === '+{id} BETWEEN ? AND ?');
  if (conds.length === 0) {
    // every example belongs to one dataset, so contiguous datasets' ranges are all the examples
    const all = (db.prepare('SELECT id FROM datasets').pluck().all() as number[]).map((d) => datasetScope(db, d));
    if (all.every((r): r is Scope => r !== null)) ranges = all.filter((r) => r.n > 0).sort((a, b) => a.lo - b.lo);
  } else if (onlyScope && scope) ranges = [scope];

  // the table to lead counts and row-order pages: one whose conditions narrow the rows, examples last
  const lead: Lead = has('s') ? 's' : has('r') ? 'r' : conds.some((c) => c.fts) ? 'f' : 'e';
  let total: number;
  // only range filters on signal columns (in a dataset or everywhere): counted from the columns' indexes
  const signalRangesOnly = q.subsetId === undefined && (q.text === undefined || ftsQuery(q.text) === null) &&
    (q.datasetId === undefined || scope !== null) && (q.filters ?? []).length > 0 && (q.filters ?? []).every((f) => signals.includes(f.column));
  const plan = !ranges && signalRangesOnly ? planSignalRanges(db, q.filters!, scope) : null;
  // hand-edited masks counted: two arms merged (edited-trainable.ts)
  const withEdits: EditedQuery | null = edited ? {
    renderKeyId: keyArg!, conds: conds.map((c) => ({ sql: c.sql, args: c.args })),
    joinE: has('e') || (sortCol?.startsWith('e.') ?? false), joinS: has('s') || (sortCol?.startsWith('s.') ?? false),
    sort: sortCol ? { expr: sortCol, dir } : null, offset: q.offset, limit,
  } : null;
  if (q.counted === false) total = -1;
  else if (withEdits && nlFiltered) total = countWithEdits(db, withEdits);
  else if (ranges) total = ranges.reduce((t, r) => t + r.n, 0);
  else if (plan !== null) total = plan.total;
  else if (conds.length === 0) total = db.prepare('SELECT COUNT(*) FROM examples').pluck().get() as number;
  else {
    const b = build(lead);
    total = db.prepare(`SELECT COUNT(*) FROM ${b.from} ${b.where}`).pluck().get(...b.args) as number;
  }

  // within one dataset (a contiguous id range in row order) sorting by row_index is sorting by id
  const idOrder = !sortCol || (sortCol === 'e.row_index' && scope !== null && q.datasetId !== undefined);
  const idDir = sortCol && q.sort?.dir === 'desc' ? 'DESC' : 'ASC';
  let ids: number[];
  if (withEdits) ids = pageWithEdits(db, withEdits, !nlFiltered);
  else if (ranges && idOrder) ids = idsFromRanges(ranges, idDir, q.offset, limit);
  else if (idOrder) {
    // with signal ranges: few matches → from the smallest range's index, sorted; many → the rows in id order, tested
    const b = build(lead, [], plan && lead === 's' ? (plan.index ? ` INDEXED BY "${plan.index}"` : ' NOT INDEXED') : '');
    ids = db.prepare(`SELECT ${b.idCol} FROM ${b.from} ${b.where} ORDER BY ${b.idCol} ${idDir} LIMIT ? OFFSET ?`)
      .pluck().all(...b.args, limit, q.offset) as number[];
  } else if (sortCol.startsWith('s.') || usesR(sortCol)) {
    // Signal (or token count) sort in two parts so SQLite walks that column's index (a LEFT JOIN from examples
    // would sort in a temp b-tree): rows with a value in index order, then rows without one (NULLs last) in id order.
    const sl = sortCol.startsWith('s.') ? 's' : 'r';
    // few rows match the signal ranges: sort them rather than walk the sort column's index looking for them
    const sortIndex = sl === 's' ? indexOf(q.sort!.column) : null;
    const hint = plan?.index && sl === 's' && plan.index !== sortIndex ? ` INDEXED BY "${plan.index}"` : '';
    const valued = build(sl, [{ sql: `${sortCol} IS NOT NULL`, args: [], uses: sl }], hint);
    ids = db.prepare(`SELECT ${valued.idCol} FROM ${valued.from} ${valued.where} ORDER BY ${sortCol} ${dir}, ${valued.idCol} ${dir} LIMIT ? OFFSET ?`)
      .pluck().all(...valued.args, q.limit, q.offset) as number[];
    if (ids.length < q.limit) {
      // the page reaches the rows without a value: how many valued rows come before them decides the offset
      const nValued = ids.length > 0 ? q.offset + ids.length
        : (db.prepare(`SELECT COUNT(*) FROM ${valued.from} ${valued.where}`).pluck().get(...valued.args) as number);
      const nulls = build('e', [{ sql: `${sortCol} IS NULL`, args: [], uses: sl }]);
      ids = ids.concat(db.prepare(`SELECT e.id FROM ${nulls.from} ${nulls.where} ORDER BY e.id ${dir} LIMIT ? OFFSET ?`)
        .pluck().all(...nulls.args, q.limit - ids.length, Math.max(0, q.offset - nValued)) as number[]);
    }
  } else {
    const b = build('e');
    const order = `${sortCol} ${dir} NULLS LAST, e.id ${dir}`;
    ids = db.prepare(`SELECT e.id FROM ${b.from} ${b.where} ORDER BY ${order} LIMIT ? OFFSET ?`)
      .pluck().all(...b.args, q.limit, q.offset) as number[];
  }

  const pending = q.text !== undefined && ftsQuery(q.text) !== null ? textPending(db, q.datasetId) : 0;
  return { total, ids, signals, textPending: pending };
}

/** A page of ids in row order over whole datasets' id ranges (no table is read). */
function idsFromRanges(ranges: Scope[], dir: 'ASC' | 'DESC', offset: number, limit: number): number[] {
  const ids: number[] = [];
  let skip = offset;
  const ordered = dir === 'DESC' ? [...ranges].reverse() : ranges;
  for (const r of ordered) {
    if (skip >= r.n) { skip -= r.n; continue; }
    if (dir === 'DESC') for (let id = r.hi - skip; id >= r.lo && ids.length < limit; id--) ids.push(id);
    else for (let id = r.lo + skip; id <= r.hi && ids.length < limit; id++) ids.push(id);
    skip = 0;
    if (ids.length >= limit) break;
  }
  return ids;
}

/** The page's rows, in `ids` order, with their signals, token counts (of the render key) and hand edits. */
function pageRows(db: Db, ids: number[], signals: string[], keyArg: number | null, previewOf: (row: PreviewSource) => string): ExampleListRow[] {
  const sigSel = signals.map((c) => `, s."${c}" AS "sig_${c}"`).join('');
  const raw = db.prepare(`SELECT e.id, e.dataset_id, e.row_index, e.text_preview, r.n_tokens, r.n_label${sigSel},
    CASE WHEN e.text_preview = '' THEN e.raw_json END AS raw_json, CASE WHEN e.text_preview = '' THEN e.messages_json END AS messages_json
    FROM examples e LEFT JOIN example_signals s ON s.example_id = e.id
    LEFT JOIN renders r ON r.example_id = e.id AND r.render_key_id = ?
    WHERE e.id IN (SELECT value FROM json_each(?))`).all(keyArg, JSON.stringify(ids)) as Array<Record<string, unknown>>;
  const byId = new Map(raw.map((r) => [r.id as number, r]));
  // rows imported since schema 8 store no preview: previewOf makes it, for this page only
  const preview = (r: Record<string, unknown>): string => (r.text_preview as string) || previewOf({
    datasetId: r.dataset_id as number, rowIndex: r.row_index as number, rawJson: r.raw_json as string, messagesJson: r.messages_json as string,
  });
  const rows = ids.filter((id) => byId.has(id)).map((id): ExampleListRow => {
    const r = byId.get(id)!;
    const sig: Record<string, number | null> = {};
    for (const s of signals) sig[s] = (r[`sig_${s}`] as number | null) ?? null;
    return {
      id: r.id as number, datasetId: r.dataset_id as number, rowIndex: r.row_index as number,
      preview: preview(r), nTokens: (r.n_tokens as number | null) ?? null,
      nLabel: (r.n_label as number | null) ?? null, signals: sig,
    };
  });
  if (keyArg !== null) withEditedMasks(db, rows, keyArg);
  return rows;
}

/**
 * A row with a hand-edited mask trains on that mask's tokens, not the template's: its nLabel is the edited count and
 * it is marked `edited`. Few rows have one, so the page's ids are looked up in one query and only those are resolved
 * (tokenMaskFor: the mask must have been drawn on these tokens). Sorting and filtering on n_label count the edits too
 * (edited-trainable.ts).
 */
function withEditedMasks(db: Db, rows: ExampleListRow[], renderKeyId: number): void {
  if (rows.length === 0) return;
  const withMask = new Set(db.prepare(`SELECT DISTINCT example_id FROM token_masks WHERE name = ? AND example_id IN (SELECT value FROM json_each(?))`)
    .pluck().all(EDITED_MASK_NAME, JSON.stringify(rows.map((r) => r.id))) as number[]);
  for (const row of rows) {
    if (!withMask.has(row.id)) continue;
    const render = getRender(db, row.id, renderKeyId);
    const m = render && tokenMaskFor(db, EDITED_MASK_NAME, render);
    if (!m) continue;
    row.nLabel = m.mask.reduce((a, b) => a + b, 0);
    row.edited = true;
  }
}
