/**
 * What an import job has committed, kept with the rows (data/import-saved.ts says why): `{ datasetId, rows,
 * skipped }` in project_meta under `import_saved:<jobId>`, written inside the import's own transaction.
 */
import type { Db } from './open';

export interface SavedImport {
  datasetId: number;
  rows: number;
  skipped: number;
}

const key = (jobId: string) => `import_saved:${jobId}`;

export function recordSavedImport(db: Db, jobId: string, saved: SavedImport): void {
  db.prepare('INSERT OR REPLACE INTO project_meta (key, value) VALUES (?, ?)').run(key(jobId), JSON.stringify(saved));
}

export function savedImport(db: Db, jobId: string): SavedImport | null {
  const v = db.prepare('SELECT value FROM project_meta WHERE key = ?').pluck().get(key(jobId)) as string | undefined;
  if (v === undefined) return null;
  const s = JSON.parse(v) as SavedImport;
  return typeof s.datasetId === 'number' && typeof s.rows === 'number' ? { datasetId: s.datasetId, rows: s.rows, skipped: s.skipped ?? 0 } : null;
}

export function clearSavedImport(db: Db, jobId: string): void {
  db.prepare('DELETE FROM project_meta WHERE key = ?').run(key(jobId));
}
