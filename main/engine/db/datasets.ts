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
  hash: string; row_count: number; created_at: string;
}

function toDataset(r: DatasetDbRow): DatasetRow {
  return {
    id: r.id, name: r.name, sourcePath: r.source_path, format: r.format, mapping: JSON.parse(r.mapping_json),
    hash: r.hash, rowCount: r.row_count, createdAt: r.created_at,
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

/**
 * Prepared once per import: returns a function inserting one example (row + FTS text), giving its id.
 * `fts: false` leaves search out (fullText is then not needed). Measured: FTS5 indexing costs about as much as
 * the row insert itself; building it in bulk at the end from messages_json (SQL JSON) was slower, not faster.
 */
export function exampleInserter(db: Db, datasetId: number, opts: { fts?: boolean } = {}): (e: NewExample) => number {
  const ins = db.prepare(`INSERT INTO examples (dataset_id, row_index, raw_json, messages_json, text_preview, norm_hash, n_chars)
    VALUES (?, ?, ?, ?, ?, ?, ?)`);
  const fts = opts.fts === false ? null : db.prepare('INSERT INTO examples_fts (rowid, text) VALUES (?, ?)');
  return (e) => {
    const id = Number(ins.run(datasetId, e.rowIndex, e.rawJson, e.messagesJson, e.textPreview, e.normHash, e.nChars).lastInsertRowid);
    fts?.run(id, e.fullText ?? '');
    return id;
  };
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

interface ExampleDbRow {
  id: number; dataset_id: number; row_index: number; raw_json: string; messages_json: string;
  text_preview: string; norm_hash: string; n_chars: number;
}

function toExample(r: ExampleDbRow): ExampleRow {
  return {
    id: r.id, datasetId: r.dataset_id, rowIndex: r.row_index, raw: JSON.parse(r.raw_json),
    messages: JSON.parse(r.messages_json), textPreview: r.text_preview, normHash: r.norm_hash, nChars: r.n_chars,
  };
}

export function getExample(db: Db, exampleId: number): ExampleRow {
  const r = db.prepare('SELECT * FROM examples WHERE id = ?').get(exampleId) as ExampleDbRow | undefined;
  if (!r) throw new WinnowError('not_found', `example ${exampleId} does not exist`);
  return toExample(r);
}

export function getExampleByRow(db: Db, datasetId: number, rowIndex: number): ExampleRow {
  const r = db.prepare('SELECT * FROM examples WHERE dataset_id = ? AND row_index = ?').get(datasetId, rowIndex) as ExampleDbRow | undefined;
  if (!r) throw new WinnowError('not_found', `dataset ${datasetId} has no row ${rowIndex}`);
  return toExample(r);
}

/** Keyset pagination in id order: safe to write between pages (better-sqlite3 forbids writes while iterating). */
export function examplesAfter(db: Db, datasetId: number, afterId: number, limit: number): Array<{ id: number; rowIndex: number; messagesJson: string }> {
  return db.prepare(`SELECT id, row_index AS rowIndex, messages_json AS messagesJson FROM examples
    WHERE dataset_id = ? AND id > ? ORDER BY id LIMIT ?`).all(datasetId, afterId, limit) as
    Array<{ id: number; rowIndex: number; messagesJson: string }>;
}
