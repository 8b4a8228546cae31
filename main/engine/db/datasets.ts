import type { Db } from './open';
import { WinnowError } from '../util/errors';

export interface DatasetRow {
  id: number;
  name: string;
  sourcePath: string;
  format: string;
  mapping: unknown;
  hash: string;
  rowCount: number;
  createdAt: string;
  /** examples with ids up to this one are in the search index (built after the import commits) */
  textIndexedUpto: number;
}

export interface NewExample {
  rowIndex: number;
  rawJson: string;
  messagesJson: string;
  textPreview: string;
  normHash: string;
  nChars: number;
  /** full searchable text, indexed in examples_fts (not needed with exampleInserter's fts: false) */
  fullText?: string;
}

export interface ExampleRow {
  id: number;
  datasetId: number;
  rowIndex: number;
  raw: unknown;
  /** ChatMessage[] for chat records, `{ text }` for plain-text records */
  messages: unknown;
  textPreview: string;
  normHash: string;
  nChars: number;
}

interface DatasetDbRow {
  id: number; name: string; source_path: string; format: string; mapping_json: string;
  hash: string; row_count: number; created_at: string; text_indexed_upto: number;
}

function toDataset(r: DatasetDbRow): DatasetRow {
  return {
    id: r.id, name: r.name, sourcePath: r.source_path, format: r.format, mapping: JSON.parse(r.mapping_json),
    hash: r.hash, rowCount: r.row_count, createdAt: r.created_at, textIndexedUpto: r.text_indexed_upto,
  };
}

export function createDataset(db: Db, d: { name: string; sourcePath: string; format: string; mapping: unknown; hash: string }): number {
  const info = db.prepare(`INSERT INTO datasets (name, source_path, format, mapping_json, hash, row_count, created_at)
    VALUES (?, ?, ?, ?, ?, 0, ?)`).run(d.name, d.sourcePath, d.format, JSON.stringify(d.mapping), d.hash, new Date().toISOString());
  return Number(info.lastInsertRowid);
}

export function setDatasetRowCount(db: Db, datasetId: number, rowCount: number): void {
  db.prepare('UPDATE datasets SET row_count = ? WHERE id = ?').run(rowCount, datasetId);
}

export function getDataset(db: Db, datasetId: number): DatasetRow {
  const r = db.prepare('SELECT * FROM datasets WHERE id = ?').get(datasetId) as DatasetDbRow | undefined;
  if (!r) throw new WinnowError('not_found', `dataset ${datasetId} does not exist`);
  return toDataset(r);
}

export function listDatasets(db: Db): DatasetRow[] {
  return (db.prepare('SELECT * FROM datasets ORDER BY id').all() as DatasetDbRow[]).map(toDataset);
}

export function deleteDataset(db: Db, datasetId: number): void {
  db.prepare('DELETE FROM datasets WHERE id = ?').run(datasetId);
}

/** The datasets the given examples belong to. */
export function datasetIdsOfExamples(db: Db, exampleIds: number[]): number[] {
  return db.prepare(`SELECT DISTINCT dataset_id FROM examples WHERE id IN (SELECT value FROM json_each(?))`).pluck().all(JSON.stringify(exampleIds)) as number[];
}

/**
 * One example at a time with everything given (tests, hand-made rows): returns a function inserting one example
 * (row + search text), giving its id. `fts: false` leaves search out (fullText is then not needed). Imports use
 * exampleBatchInserter.
 */
export function exampleInserter(db: Db, datasetId: number, opts: { fts?: boolean } = {}): (e: NewExample) => number {
  const ins = db.prepare(`INSERT INTO examples (dataset_id, row_index, raw_json, messages_json, text_preview, norm_hash, n_chars)
    VALUES (?, ?, ?, ?, ?, ?, ?)`);
  const fts = opts.fts === false ? null : db.prepare('INSERT INTO examples_fts (rowid, text) VALUES (?, ?)');
  const indexed = db.prepare('UPDATE datasets SET text_indexed_upto = max(text_indexed_upto, ?) WHERE id = ?');
  return (e) => {
    const id = Number(ins.run(datasetId, e.rowIndex, e.rawJson, e.messagesJson, e.textPreview, e.normHash, e.nChars).lastInsertRowid);
    if (fts) {
      fts.run(id, e.fullText ?? '');
      indexed.run(id, datasetId);
    }
    return id;
  };
}

/**
 * The import's writer: rows as the parser gives them (record JSON, character count), numbered from `firstRow`.
 * messages_json, text_preview and norm_hash are stored as '' and derived when needed: messages and preview on read
 * (deriveMessages), the normalized-text hash by the duplicate pass, its only user (hashing every character was a
 * third of the parsing time). That halves what an import writes. The search index is built afterwards
 * (data/textIndex.ts). (Multi-row INSERTs were measured: no faster than one prepared single-row statement.)
 */
export function exampleBatchInserter(db: Db, datasetId: number): (firstRow: number, raws: string[], hashes: string[] | null, nChars: number[]) => void {
  const one = db.prepare(`INSERT INTO examples (dataset_id, row_index, raw_json, messages_json, text_preview, norm_hash, n_chars)
    VALUES (?, ?, ?, '', '', ?, ?)`);
  // hashes: normalized-text hashes when the caller has them; null stores '' (the duplicate pass makes them)
  return (firstRow, raws, hashes, nChars) => {
    for (let i = 0; i < raws.length; i++) one.run(datasetId, firstRow + i, raws[i], hashes ? hashes[i] : '', nChars[i]);
  };
}

/**
 * exampleBatchInserter for rows given as UTF-8 bytes (the import's parser): row i is raw[ends[i-1]..ends[i]], bound
 * as a blob and stored as TEXT (CAST), so no string is made or re-encoded per row.
 */
export function exampleBytesInserter(db: Db, datasetId: number): (firstRow: number, raw: Uint8Array, ends: number[], nChars: number[]) => void {
  const one = db.prepare(`INSERT INTO examples (dataset_id, row_index, raw_json, messages_json, text_preview, norm_hash, n_chars)
    VALUES (?, ?, CAST(? AS TEXT), '', '', '', ?)`);
  return (firstRow, raw, ends, nChars) => {
    const buf = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    let start = 0;
    for (let i = 0; i < ends.length; i++) {
      one.run(datasetId, firstRow + i, buf.subarray(start, ends[i]), nChars[i]);
      start = ends[i];
    }
  };
}

/**
 * Secondary indexes of examples that a big import drops and builds again once its rows are in: one sort at the end
 * costs far less than keeping a random-order index up to date row by row (measured: half of the insert time).
 */
const EXAMPLE_INDEXES: Record<string, string> = {
  idx_examples_n_chars: 'CREATE INDEX IF NOT EXISTS idx_examples_n_chars ON examples(n_chars)',
};

export function dropExampleIndexes(db: Db): void {
  for (const name of Object.keys(EXAMPLE_INDEXES)) db.exec(`DROP INDEX IF EXISTS ${name}`);
}

export function createExampleIndexes(db: Db): void {
  for (const sql of Object.values(EXAMPLE_INDEXES)) db.exec(sql);
}

/** Examples in the project (from datasets' row counts: no table walk). */
export function projectExampleCount(db: Db): number {
  return db.prepare('SELECT COALESCE(SUM(row_count), 0) FROM datasets').pluck().get() as number;
}

/** Example rows counted in the table: of one dataset, or of the project. */
export function countExampleRows(db: Db, datasetId?: number): number {
  return (datasetId !== undefined ? db.prepare('SELECT COUNT(*) FROM examples WHERE dataset_id = ?').pluck().get(datasetId) : db.prepare('SELECT COUNT(*) FROM examples').pluck().get()) as number;
}

/**
 * A reader of datasets' names and mappings (mapping_json as stored) by id, with its statement prepared once; undefined
 * for a dataset that does not exist. data/examples.ts derives rows' messages with them.
 */
export function datasetMappingReader(db: Db): (datasetId: number) => { name: string; mappingJson: string } | undefined {
  const get = db.prepare('SELECT name, mapping_json AS mappingJson FROM datasets WHERE id = ?');
  return (datasetId) => get.get(datasetId) as { name: string; mappingJson: string } | undefined;
}

export function setDatasetHash(db: Db, datasetId: number, hash: string): void {
  db.prepare('UPDATE datasets SET hash = ? WHERE id = ?').run(hash, datasetId);
}

export function importSkipInserter(db: Db, datasetId: number): (line: number, reason: string, raw: string | null) => void {
  const ins = db.prepare('INSERT INTO import_skips (dataset_id, line, reason, raw) VALUES (?, ?, ?, ?)');
  return (line, reason, raw) => { ins.run(datasetId, line, reason, raw); };
}

export function listImportSkips(db: Db, datasetId: number): Array<{ line: number; reason: string; raw: string | null }> {
  return db.prepare('SELECT line, reason, raw FROM import_skips WHERE dataset_id = ? ORDER BY line').all(datasetId) as
    Array<{ line: number; reason: string; raw: string | null }>;
}

/** An examples row with its dataset's mapping and name, as data/examples.ts turns it into an ExampleRow. */
export interface ExampleDbRow {
  id: number; dataset_id: number; row_index: number; raw_json: string; messages_json: string;
  text_preview: string; norm_hash: string; n_chars: number; mapping_json: string; dataset_name: string;
}

const EXAMPLE_SELECT = 'SELECT e.*, d.mapping_json, d.name AS dataset_name FROM examples e JOIN datasets d ON d.id = e.dataset_id';

export function exampleDbRow(db: Db, exampleId: number): ExampleDbRow {
  const r = db.prepare(`${EXAMPLE_SELECT} WHERE e.id = ?`).get(exampleId) as ExampleDbRow | undefined;
  if (!r) throw new WinnowError('not_found', `example ${exampleId} does not exist`);
  return r;
}

export function exampleDbRowByRow(db: Db, datasetId: number, rowIndex: number): ExampleDbRow {
  const r = db.prepare(`${EXAMPLE_SELECT} WHERE e.dataset_id = ? AND e.row_index = ?`).get(datasetId, rowIndex) as ExampleDbRow | undefined;
  if (!r) throw new WinnowError('not_found', `dataset ${datasetId} has no row ${rowIndex}`);
  return r;
}

/**
 * A dataset's first and last example ids (an import writes a dataset's rows in one transaction, so its ids are one
 * range; `contiguous` checks it against the row count), or null when it has no rows. Two index seeks.
 */
export function datasetIdRange(db: Db, datasetId: number): { lo: number; hi: number; contiguous: boolean } | null {
  const end = (dir: 'ASC' | 'DESC') => db.prepare(`SELECT id FROM examples WHERE dataset_id = ? ORDER BY row_index ${dir} LIMIT 1`).pluck().get(datasetId) as number | undefined;
  const lo = end('ASC');
  if (lo === undefined) return null;
  const hi = end('DESC')!;
  const n = db.prepare('SELECT row_count FROM datasets WHERE id = ?').pluck().get(datasetId) as number | undefined;
  return { lo, hi, contiguous: n === hi - lo + 1 };
}

/**
 * Keyset pages of a dataset's examples in id order (safe to write between pages: better-sqlite3 forbids writes while
 * iterating): `page(afterId, limit)` gives up to `limit` rows with ids above `afterId`, with the given columns.
 * The query walks the rowid range up to the dataset's last id: written as "dataset_id = ? AND id > ?" SQLite took the
 * (dataset_id, row_index) index and sorted the rest of the dataset for every page — quadratic at a million rows.
 */
export function examplePager<T>(db: Db, datasetId: number, columns: string): (afterId: number, limit: number) => T[] {
  const range = datasetIdRange(db, datasetId);
  const st = db.prepare(`SELECT ${columns} FROM examples WHERE id > ? AND id <= ? AND +dataset_id = ? ORDER BY id LIMIT ?`);
  return (afterId, limit) => (range ? st.all(afterId, range.hi, datasetId, limit) as T[] : []);
}

/** Marks a dataset's examples up to `exampleId` as in the search index. */
export function setTextIndexedUpto(db: Db, datasetId: number, exampleId: number): void {
  db.prepare('UPDATE datasets SET text_indexed_upto = ? WHERE id = ?').run(exampleId, datasetId);
}

// ---------- re-mapping a dataset (data/remap.ts): what depends on its examples ----------

const IN_DATASET = 'IN (SELECT id FROM examples WHERE dataset_id = ?)';

/** What re-mapping would delete or mark stale, counted: renders, examples with any of `scoredColumns`, token masks. */
export function countDatasetDependents(db: Db, datasetId: number, scoredColumns: readonly string[]): { renders: number; scoredExamples: number; tokenMasks: number } {
  const count = (sql: string) => db.prepare(sql).pluck().get(datasetId) as number;
  return {
    renders: count(`SELECT COUNT(*) FROM renders WHERE example_id ${IN_DATASET}`),
    scoredExamples: scoredColumns.length ? count(`SELECT COUNT(*) FROM example_signals WHERE example_id ${IN_DATASET} AND (${scoredColumns.map((c) => `"${c}" IS NOT NULL`).join(' OR ')})`) : 0,
    tokenMasks: count(`SELECT COUNT(*) FROM token_masks WHERE example_id ${IN_DATASET}`),
  };
}

/** Score runs, not stale, that read the dataset: on it, or on every dataset since `createdAt` (the dataset's). */
export function scoreRunsReadingDataset(db: Db, datasetId: number, createdAt: string): Array<{ id: number; signals_json: string }> {
  return db.prepare(`SELECT id, signals_json FROM score_runs WHERE status != 'stale' AND (dataset_id = ? OR (dataset_id IS NULL AND created_at >= ?))
    ORDER BY id`).all(datasetId, createdAt) as Array<{ id: number; signals_json: string }>;
}

/** Subsets holding any of the dataset's rows, in id order. */
export function subsetsHoldingDataset(db: Db, datasetId: number): Array<{ id: number; name: string }> {
  return db.prepare(`SELECT id, name FROM subsets WHERE id IN (SELECT DISTINCT subset_id FROM subset_members WHERE example_id ${IN_DATASET}) ORDER BY id`)
    .all(datasetId) as Array<{ id: number; name: string }>;
}

/**
 * Deletes what was computed from the dataset's messages (renders, render errors, scores, vectors, signal columns,
 * token masks, search index), the layer scores of `staleRunIds` (marked stale with `reason`), and marks the subsets
 * holding its rows stale ("<reason>: its scores were deleted"). The caller holds the transaction.
 */
export function deleteDatasetDerived(db: Db, datasetId: number, staleRunIds: number[], reason: string): void {
  const del = (sql: string) => db.prepare(sql).run(datasetId);
  del(`DELETE FROM renders WHERE example_id ${IN_DATASET}`);
  del('DELETE FROM render_errors WHERE dataset_id = ?');
  del(`DELETE FROM example_scores WHERE example_id ${IN_DATASET}`);
  del(`DELETE FROM token_scores WHERE example_id ${IN_DATASET}`);
  del(`DELETE FROM example_vectors WHERE example_id ${IN_DATASET}`);
  del(`DELETE FROM layout_points WHERE example_id ${IN_DATASET}`);
  del(`DELETE FROM cluster_assignments WHERE example_id ${IN_DATASET}`);
  del(`DELETE FROM example_signals WHERE example_id ${IN_DATASET}`);
  del(`DELETE FROM token_masks WHERE example_id ${IN_DATASET}`);
  del(`DELETE FROM examples_fts WHERE rowid ${IN_DATASET}`);
  if (staleRunIds.length) {
    const list = staleRunIds.join(',');
    db.exec(`DELETE FROM layer_scores WHERE run_id IN (${list})`);
    db.prepare(`UPDATE score_runs SET status = 'stale', error = ? WHERE id IN (${list})`).run(reason);
  }
  db.prepare(`UPDATE subsets SET stale_reason = ? WHERE id IN (SELECT DISTINCT subset_id FROM subset_members WHERE example_id ${IN_DATASET})`)
    .run(`${reason}: its scores were deleted`, datasetId);
}

/** A new mapping and format for the dataset; its search index starts again (text_indexed_upto 0). */
export function setDatasetMapping(db: Db, datasetId: number, mapping: unknown, format: string): void {
  db.prepare('UPDATE datasets SET mapping_json = ?, format = ?, text_indexed_upto = 0 WHERE id = ?')
    .run(JSON.stringify(mapping), format, datasetId);
}
