/**
 * Histogram of one numeric column over the rows the Examples table would show (same dataset/subset/filters/search
 * scope): min, max, `bins` equal-width counts (the max folded into the last), rows with a value, rows without.
 *
 * The table asks for one per numeric column whenever it opens, before the user does anything, and the engine answers
 * calls one at a time: a histogram that reads every row keeps the first sort click waiting (measured: 40 s for the
 * first click on a cold 1M-row project). So a column with an index over a whole dataset (or all of them) and no other
 * condition is answered from its index alone: min and max by seeks, each bucket's edge by a seek and its count by a
 * walk over index entries (a few bytes each), never touching the rows. Anything else (other filters, a subset, a
 * search) goes through one SQL pass as before.
 */
import type { Db } from './open';
import { EDITED_N_LABEL, editedTable, prepareEditedTrainable } from './edited-trainable';
import { WinnowError } from '../util/errors';
import { listSignalColumns } from './signals';
import { datasetIdRange } from './datasets';
import { ftsQuery } from './fts';

export interface HistogramQuery {
  datasetId?: number;
  subsetId?: number;
  column: string;
  bins: number;
  filters?: Array<{ column: string; min?: number; max?: number }>;
  text?: string;
  /** renders of this render key supply n_tokens / n_label */
  renderKeyId?: number | null;
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

/** Bucket of value v, as SQL computes it in the one-pass path (the index path finds the same edges). */
const BUCKET = (v: string) => `MIN(CAST((${v} - ?) / (? - ?) * ? AS INTEGER), ? - 1)`;

export function columnHistogram(db: Db, q: HistogramQuery): HistogramResult {
  const steps = histogramSteps(db, q);
  for (;;) {
    const s = steps.next();
    if (s.done) return s.value;
  }
}

/**
 * columnHistogram for the engine service: between its statements (a bucket count each) it lets other calls run, so a
 * page the user asked for is not kept waiting behind the histograms of a table that just opened.
 */
export async function columnHistogramYielding(db: Db, q: HistogramQuery): Promise<HistogramResult> {
  const steps = histogramSteps(db, q);
  for (;;) {
    const s = steps.next();
    if (s.done) return s.value;
    await new Promise((r) => setImmediate(r));
  }
}

/** The histogram as steps: a generator that yields between SQL statements of the index path. */
function* histogramSteps(db: Db, q: HistogramQuery): Generator<void, HistogramResult> {
  if (!Number.isInteger(q.bins) || q.bins < 1 || q.bins > 1000) throw new WinnowError('bad_input', `examples.histogram: field "bins" must be 1..1000, got ${q.bins}`);
  const signals = listSignalColumns(db);
  // trainable tokens count hand-edited masks (edited-trainable.ts); then the one-pass path reads them
  const edited = q.renderKeyId !== undefined && q.renderKeyId !== null &&
    (q.column === 'n_label' || (q.filters ?? []).some((f) => f.column === 'n_label')) && prepareEditedTrainable(db, q.renderKeyId);
  const colSql = (name: string): string => {
    if (name === 'n_label' && edited) return EDITED_N_LABEL;
    if (name in BUILTIN) return BUILTIN[name]!;
    if (signals.includes(name)) return `s."${name}"`;
    throw new WinnowError('bad_input', `examples.histogram: unknown column "${name}" (known: ${[...Object.keys(BUILTIN), ...signals].join(', ')})`);
  };
  const col = colSql(q.column);
  for (const f of q.filters ?? []) colSql(f.column);
  const text = q.text !== undefined ? ftsQuery(q.text) : null;
  if (q.subsetId === undefined && text === null && (q.filters ?? []).length === 0) {
    const fast = yield* fromIndex(db, q, col);
    if (fast) return fast;
  }
  return yield* onePassSteps(db, q, col, colSql, text);
}

/**
 * The column's index as a source: the table, its index, the value's column, conditions every entry must meet
 * (tokenizer) and the example-id column. Null for columns without one (or without a usable scope).
 */
function indexSource(db: Db, q: HistogramQuery, col: string): { from: string; value: string; fixed: string[]; fixedArgs: unknown[]; id: string; table: string } | null {
  if (col.startsWith('s.')) {
    const name = col.slice(3, -1);
    const index = `idx_example_signals_${name}`;
    if (!db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?").get(index)) return null;
    return { from: `example_signals INDEXED BY "${index}"`, value: `"${name}"`, fixed: [], fixedArgs: [], id: 'example_id', table: 'example_signals' };
  }
  if (col === 'r.n_tokens' || col === 'r.n_label') {
    if (q.renderKeyId === undefined || q.renderKeyId === null) return null;
    const c = col.slice(2);
    return { from: `renders INDEXED BY idx_renders_key_${c === 'n_tokens' ? 'ntokens' : 'nlabel'}`, value: c, fixed: ['render_key_id = ?'], fixedArgs: [q.renderKeyId], id: 'example_id', table: 'renders' };
  }
  if (col === 'e.n_chars') {
    if (!db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'idx_examples_n_chars'").get()) return null;
    return { from: 'examples INDEXED BY idx_examples_n_chars', value: 'n_chars', fixed: [], fixedArgs: [], id: 'id', table: 'examples' };
  }
  return null;
}

function* fromIndex(db: Db, q: HistogramQuery, col: string): Generator<void, HistogramResult | null> {
  const src = indexSource(db, q, col);
  if (!src) return null;
  // the scope as an id range; the whole project when no dataset is given
  let lo: number;
  let hi: number;
  let inScope: number;
  if (q.datasetId !== undefined) {
    const r = datasetIdRange(db, q.datasetId);
    if (r === null) return { min: null, max: null, counts: new Array<number>(q.bins).fill(0), total: 0, nulls: 0 };
    if (!r.contiguous) return null;
    ({ lo, hi } = r);
    inScope = hi - lo + 1;
  } else {
    lo = -Infinity;
    hi = Infinity;
    inScope = db.prepare('SELECT COALESCE(SUM(row_count), 0) FROM datasets').pluck().get() as number;
  }
  // when the range holds every id the table has, leave it out: then MIN/MAX are single seeks
  const ends = idEnds(db, src.table, src.id);
  const whole = ends.a === null || (ends.a >= lo && ends.b! <= hi);
  const conds = [...src.fixed, ...(whole ? [] : [`+${src.id} BETWEEN ? AND ?`])];
  const condArgs = [...src.fixedArgs, ...(whole ? [] : [lo, hi])];
  const where = (extra: string[]) => `WHERE ${[...conds, ...extra].join(' AND ')}`;
  const v = src.value;
  const one = (sql: string, ...args: unknown[]) => db.prepare(sql).pluck().get(...condArgs, ...args) as number | null;
  const min = one(`SELECT ${v} FROM ${src.from} ${where([`${v} IS NOT NULL`])} ORDER BY ${v} ASC LIMIT 1`) ?? null;
  const max = one(`SELECT ${v} FROM ${src.from} ${where([`${v} IS NOT NULL`])} ORDER BY ${v} DESC LIMIT 1`) ?? null;
  const counts = new Array<number>(q.bins).fill(0);
  if (min === null || max === null) return { min: null, max: null, counts, total: 0, nulls: inScope };
  const count = db.prepare(`SELECT COUNT(*) FROM ${src.from} ${where([`${v} >= ?`, `${v} < ?`])}`).pluck();
  if (max === min) {
    counts[0] = one(`SELECT COUNT(*) FROM ${src.from} ${where([`${v} = ?`])}`, min)!;
  } else {
    // edge k: the smallest value the bucket expression puts in bucket ≥ k — found from just below the arithmetic edge
    // (rounding moves it by an ulp or two) by a seek, so the counts are the one-pass SQL's exactly
    const edge = db.prepare(`SELECT ${v} FROM ${src.from} ${where([`${v} >= ?`, `${BUCKET(v)} >= ?`])} ORDER BY ${v} LIMIT 1`).pluck();
    const edges: number[] = [min];
    const span = max - min;
    for (let k = 1; k < q.bins; k++) {
      const approx = min + (k * span) / q.bins;
      const e = edge.get(...condArgs, approx - Math.abs(approx) * 1e-12 - span * 1e-12, min, max, min, q.bins, q.bins, k) as number | undefined;
      edges.push(e ?? Infinity);
    }
    edges.push(Infinity);
    yield;
    for (let k = 0; k < q.bins; k++) {
      counts[k] = edges[k] === Infinity ? 0 : (count.get(...condArgs, edges[k], edges[k + 1]) as number);
      yield;
    }
  }
  const total = counts.reduce((a, b) => a + b, 0);
  return { min, max, counts, total, nulls: inScope - total };
}

/** The one-pass path for any query (benchmarks compare the index path with it). */
export function columnHistogramOnePass(db: Db, q: HistogramQuery): HistogramResult {
  const signals = listSignalColumns(db);
  const colSql = (name: string): string => (name in BUILTIN ? BUILTIN[name]! : `s."${name}"`);
  if (!(q.column in BUILTIN) && !signals.includes(q.column)) throw new WinnowError('bad_input', `examples.histogram: unknown column "${q.column}"`);
  const steps = onePassSteps(db, q, colSql(q.column), colSql, q.text !== undefined ? ftsQuery(q.text) : null);
  for (;;) {
    const s = steps.next();
    if (s.done) return s.value;
  }
}

/**
 * A table's smallest and largest example id, by two seeks (MIN and MAX in one SELECT are not optimized: SQLite then
 * reads the whole table).
 */
export function idEnds(db: Db, table: string, id: string): { a: number | null; b: number | null } {
  return {
    a: db.prepare(`SELECT MIN(${id}) FROM ${table}`).pluck().get() as number | null,
    b: db.prepare(`SELECT MAX(${id}) FROM ${table}`).pluck().get() as number | null,
  };
}

/** ids per statement of the pass over rows: each statement is short, and the service lets other calls run between them */
export const passChunk = { ids: 65_536 };

/**
 * A pass over the rows in scope (joined as the conditions need), as statements over consecutive id ranges of
 * `passChunk.ids` (two passes: min, max and counts; then the buckets), yielding between them. Filters only on signal
 * columns of a signal column read example_signals alone (a row without a signals row fails any such filter). A search
 * runs as one statement per pass: its FTS match would be evaluated again for every chunk.
 */
function* onePassSteps(db: Db, q: HistogramQuery, col: string, colSql: (n: string) => string, text: string | null): Generator<void, HistogramResult> {
  const filters = q.filters ?? [];
  const range = q.datasetId === undefined ? undefined : datasetIdRange(db, q.datasetId);
  if (range === null) return { min: null, max: null, counts: new Array<number>(q.bins).fill(0), total: 0, nulls: 0 };
  const signalsOnly =
    q.subsetId === undefined && text === null && (range === undefined || range.contiguous) && filters.length > 0 &&
    col.startsWith('s.') && filters.every((f) => colSql(f.column).startsWith('s.'));
  const idCol = signalsOnly ? 's.example_id' : 'e.id';
  const chunked = text === null;
  const conds: string[] = [];
  const args: unknown[] = [];
  // the ids to walk, chunk by chunk
  let span: { lo: number; hi: number } | null = null;
  if (range !== undefined) {
    span = { lo: range.lo, hi: range.hi };
    // a dataset's id range needs no look at each row's dataset_id
    if (!range.contiguous) {
      conds.push('e.dataset_id = ?');
      args.push(q.datasetId);
    }
  } else {
    const ends = signalsOnly ? idEnds(db, 'example_signals', 'example_id') : idEnds(db, 'examples', 'id');
    if (ends.a !== null) span = { lo: ends.a, hi: ends.b! };
  }
  if (q.subsetId !== undefined) {
    conds.push('e.id IN (SELECT example_id FROM subset_members WHERE subset_id = ? AND example_id BETWEEN ? AND ?)');
    args.push(q.subsetId, CHUNK_LO, CHUNK_HI);
  }
  for (const f of filters) {
    // chunked, the id range drives: a filter's index would be walked again for every chunk
    const c = `${chunked ? '+' : ''}${colSql(f.column)}`;
    if (f.min !== undefined) {
      conds.push(`${c} >= ?`);
      args.push(f.min);
    }
    if (f.max !== undefined) {
      conds.push(`${c} <= ?`);
      args.push(f.max);
    }
  }
  if (text !== null) {
    conds.push('e.id IN (SELECT rowid FROM examples_fts WHERE examples_fts MATCH ?)');
    args.push(text);
  }
  const readsR = (c: string) => c.startsWith('r.') || c === EDITED_N_LABEL;
  const usesR = readsR(col) || filters.some((f) => readsR(colSql(f.column)));
  const usesEdited = col === EDITED_N_LABEL || filters.some((f) => colSql(f.column) === EDITED_N_LABEL);
  const from = signalsOnly
    ? 'FROM example_signals s'
    : `FROM examples e LEFT JOIN example_signals s ON s.example_id = e.id${usesR ? ' LEFT JOIN renders r ON r.example_id = e.id AND r.render_key_id = ?' : ''}` +
      (usesEdited ? ` LEFT JOIN ${editedTable(q.renderKeyId!)} en ON en.example_id = e.id` : '');
  const fromArgs = usesR && !signalsOnly ? [q.renderKeyId ?? null] : [];
  // one statement for the whole span when searching (or when there are no rows); else one per chunk of ids
  const chunks: Array<[number, number]> = [];
  if (span === null) chunks.push([0, -1]);
  else if (!chunked) chunks.push([span.lo, span.hi]);
  else for (let a = span.lo; a <= span.hi; a += passChunk.ids) chunks.push([a, Math.min(span.hi, a + passChunk.ids - 1)]);
  const bind = ([a, b]: [number, number]) => args.map((x) => (x === CHUNK_LO ? a : x === CHUNK_HI ? b : x));
  const where = (extra: string[]) => `WHERE ${[`${idCol} BETWEEN ? AND ?`, ...conds, ...extra].join(' AND ')}`;

  const agg = db.prepare(`SELECT MIN(${col}) AS lo, MAX(${col}) AS hi, COUNT(${col}) AS n, COUNT(*) AS rows ${from} ${where([])}`);
  let lo: number | null = null;
  let hi: number | null = null;
  let n = 0;
  let rows = 0;
  for (const c of chunks) {
    const r = agg.get(...fromArgs, ...c, ...bind(c)) as { lo: number | null; hi: number | null; n: number; rows: number };
    if (r.lo !== null && (lo === null || r.lo < lo)) lo = r.lo;
    if (r.hi !== null && (hi === null || r.hi > hi)) hi = r.hi;
    n += r.n;
    rows += r.rows;
    yield;
  }
  const counts = new Array<number>(q.bins).fill(0);
  if (lo === null || hi === null) return { min: null, max: null, counts, total: 0, nulls: rows };
  if (hi === lo) {
    counts[0] = n;
  } else {
    const buckets = db.prepare(`SELECT ${BUCKET(col)} AS b, COUNT(*) AS c ${from} ${where([`${col} IS NOT NULL`])} GROUP BY b`);
    for (const c of chunks) {
      const got = buckets.all(lo, hi, lo, q.bins, q.bins, ...fromArgs, ...c, ...bind(c)) as Array<{ b: number; c: number }>;
      for (const r of got) counts[Math.max(0, Math.min(q.bins - 1, r.b))]! += r.c;
      yield;
    }
  }
  return { min: lo, max: hi, counts, total: n, nulls: rows - n };
}

/** placeholders in the condition arguments for the current chunk's first and last id */
const CHUNK_LO = Symbol('chunk lo');
const CHUNK_HI = Symbol('chunk hi');
