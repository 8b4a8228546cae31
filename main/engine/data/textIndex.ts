/**
 * The search index (examples_fts, FTS5), built after an import commits rather than inside it: tokenizing the text
 * costs more CPU than writing the rows (measured ~30 µs a GSM8K row, the whole budget of a 50,000 rows/s import).
 * Each dataset's `text_indexed_upto` is the example id up to which it is indexed, committed with the index rows, so
 * a cancelled or killed indexer leaves a consistent prefix and the next run (any import or re-mapping job) goes on
 * from there. Until then a text filter searches the indexed rows and the table says the index is incomplete.
 */
import type { Db } from '../db/open';
import { datasetIdRange, examplePager, setTextIndexedUpto } from '../db/datasets';
import { examplesAfterCounter, searchTextWriter, textIndexMarks } from '../db/text-index';
import { messagesReader } from './examples';
import { fullText } from './normalize';
import { WinnowError } from '../util/errors';

export interface TextIndexOptions {
  /** only this dataset (default: every dataset that is behind) */
  datasetId?: number;
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
  /** rows per transaction (default 20,000) */
  perCommit?: number;
}

export interface TextIndexResult {
  indexed: number;
  /** false when stopped by the signal before the end */
  complete: boolean;
}

/**
 * A row's searchable text: its messages' text, or, for a stored row its mapping no longer takes (an older import or
 * a bug), the strings of its record — one such row must not stop the index, nor fail every later import whose
 * indexing walks the backlog (a Parquet NaN stored as JSON null did both: "dataset 8 row 3: field "output" is missing"
 * on the imports that followed).
 */
function searchText(messagesOf: ReturnType<typeof messagesReader>, datasetId: number,
  r: { rowIndex: number; rawJson: string; messagesJson: string }): string {
  try {
    return fullText(messagesOf({ datasetId, ...r }));
  } catch (err) {
    if (!(err instanceof WinnowError) || err.code !== 'parse_error') throw err;
    const parts: string[] = [];
    const walk = (v: unknown): void => {
      if (typeof v === 'string') parts.push(v);
      else if (Array.isArray(v)) v.forEach(walk);
      else if (v !== null && typeof v === 'object') Object.values(v).forEach(walk);
    };
    walk(JSON.parse(r.rawJson));
    return parts.join('\n\n');
  }
}

const PAGE = 2000;
/** rows per transaction: FTS5 writes a segment per commit, so few big commits mean little merging */
const PER_COMMIT = 20_000;

/** Examples not yet in the search index, per dataset. */
export function textIndexBacklog(db: Db, datasetId?: number): Array<{ datasetId: number; upto: number; pending: number }> {
  const ds = textIndexMarks(db, datasetId);
  const pending = examplesAfterCounter(db);
  const out: Array<{ datasetId: number; upto: number; pending: number }> = [];
  for (const d of ds) {
    const r = datasetIdRange(db, d.id);
    if (r === null || r.hi <= d.upto) continue;
    const n = r.contiguous ? r.hi - Math.max(d.upto, r.lo - 1) : pending(d.id, d.upto);
    out.push({ datasetId: d.id, upto: d.upto, pending: n });
  }
  return out;
}

export async function indexText(db: Db, opts: TextIndexOptions = {}): Promise<TextIndexResult> {
  const backlog = textIndexBacklog(db, opts.datasetId);
  const total = backlog.reduce((s, b) => s + b.pending, 0);
  type Row = { id: number; rowIndex: number; rawJson: string; messagesJson: string };
  const writeText = searchTextWriter(db);
  const messagesOf = messagesReader(db);
  const perCommit = opts.perCommit ?? PER_COMMIT;
  let done = 0;
  for (const b of backlog) {
    const page = examplePager<Row>(db, b.datasetId, 'id, row_index AS rowIndex, raw_json AS rawJson, messages_json AS messagesJson');
    let after = b.upto;
    for (;;) {
      if (opts.signal?.aborted) return { indexed: done, complete: false };
      let n = 0;
      let more = true;
      // IMMEDIATE: the transaction reads before it writes, and a deferred one fails at once ("database is locked",
      // SQLITE_BUSY_SNAPSHOT) when the host commits job progress in between; taking the write lock first waits instead
      db.transaction(() => {
        while (n < perCommit) {
          const want = Math.min(PAGE, perCommit - n);
          const rows = page(after, want);
          for (const r of rows) writeText(r.id, searchText(messagesOf, b.datasetId, r));
          n += rows.length;
          if (rows.length) after = rows[rows.length - 1].id;
          if (rows.length < want) { more = false; break; }
        }
        setTextIndexedUpto(db, b.datasetId, after);
      }).immediate();
      done += n;
      opts.onProgress?.(done, total);
      if (!more) break;
      // between commits: let cancellation and progress messages through
      await new Promise((r) => setImmediate(r));
    }
  }
  return { indexed: done, complete: true };
}
