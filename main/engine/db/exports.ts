/**
 * What the export job reads and records: the rows, datasets, subset and scores of a bundle, and the `exports` table
 * (one row per published bundle).
 */
import type { Db } from './open';

export interface ExportExampleRow { id: number; dataset_id: number; row_index: number; raw_json: string; messages_json: string }

/** An example's row as the bundle stores it (original JSON and normalized messages). */
export function exportExampleReader(db: Db): (exampleId: number) => ExportExampleRow {
  const get = db.prepare('SELECT id, dataset_id, row_index, raw_json, messages_json FROM examples WHERE id = ?');
  return (exampleId) => get.get(exampleId) as ExportExampleRow;
}

export function exampleDatasetId(db: Db, exampleId: number): number {
  return db.prepare('SELECT dataset_id FROM examples WHERE id = ?').pluck().get(exampleId) as number;
}

export function subsetExists(db: Db, subsetId: number): boolean {
  return !!db.prepare('SELECT 1 FROM subsets WHERE id = ?').get(subsetId);
}

export function subsetSummaryRow(db: Db, subsetId: number): { id: number; name: string; rule_json: string; size: number } {
  return db.prepare('SELECT id, name, rule_json, size FROM subsets WHERE id = ?').get(subsetId) as { id: number; name: string; rule_json: string; size: number };
}

/** One example's id, dataset, row index and the given signal columns (null where not scored). */
export function exampleSignalRowReader(db: Db, columns: string[]): (exampleId: number) => Record<string, unknown> {
  const get = db.prepare(`SELECT e.id, e.dataset_id, e.row_index${columns.map((c) => `, s."${c}"`).join('')} FROM examples e LEFT JOIN example_signals s ON s.example_id = e.id WHERE e.id = ?`);
  return (exampleId) => get.get(exampleId) as Record<string, unknown>;
}

export interface TokenSignalDbRow { run: number; signal: string; v: Buffer; key: number | null }

/**
 * An example's token signals: each model's latest score run of each signal (only `modelId`'s when it is not null),
 * with the render key that run scored, ordered by run and signal.
 */
export function latestTokenSignalsReader(db: Db): (exampleId: number, modelId: number | null) => TokenSignalDbRow[] {
  const get = db.prepare(`SELECT t.run_id AS run, t.signal, t."values" AS v, r.render_key_id AS key FROM token_scores t JOIN score_runs r ON r.id = t.run_id
    WHERE t.example_id = ? AND (? IS NULL OR r.model_id = ?) AND t.run_id = (SELECT MAX(u.run_id) FROM token_scores u JOIN score_runs ur ON ur.id = u.run_id
      WHERE u.example_id = t.example_id AND u.signal = t.signal AND ur.model_id IS r.model_id)
    ORDER BY t.run_id, t.signal`);
  return (exampleId, modelId) => get.all(exampleId, modelId, modelId) as TokenSignalDbRow[];
}

/** Records a published bundle: its parts (comma-separated), folder and manifest. */
export function insertExport(db: Db, kind: string, outPath: string, manifestJson: string): void {
  db.prepare(`INSERT INTO exports (kind, out_path, manifest_json, created_at) VALUES (?, ?, ?, datetime('now'))`).run(kind, outPath, manifestJson);
}

export interface ExportModelRow { id: number; name: string; path: string; architecture: string; hash: string }
export interface ExportDatasetRow { id: number; name: string; hash: string; format: string; row_count: number; source_path: string }

export function exportModelRow(db: Db, modelId: number): ExportModelRow {
  return db.prepare('SELECT id, name, path, architecture, hash FROM models WHERE id = ?').get(modelId) as ExportModelRow;
}

export function exportDatasetRow(db: Db, datasetId: number): ExportDatasetRow {
  return db.prepare('SELECT id, name, hash, format, row_count, source_path FROM datasets WHERE id = ?').get(datasetId) as ExportDatasetRow;
}
