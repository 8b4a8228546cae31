/**
 * What an import job has committed, kept with the rows: an import is one transaction, but the search index, the
 * render and the duplicate signals run after it. The job records `{ datasetId, rows, skipped }` in project_meta
 * (key `import_saved:<jobId>`) inside the import's own transaction, so the record exists exactly when the rows do.
 * A job stopped after the commit (killed, cancelled, failed in a later phase) then says what was kept and is resumed
 * — never started again, which would import the rows twice; the record is removed when the job finishes.
 */
import type Database from 'better-sqlite3';

export interface SavedImport {
  datasetId: number;
  rows: number;
  skipped: number;
}

const key = (jobId: string) => `import_saved:${jobId}`;

export function recordSavedImport(db: Database.Database, jobId: string, saved: SavedImport): void {
  db.prepare('INSERT OR REPLACE INTO project_meta (key, value) VALUES (?, ?)').run(key(jobId), JSON.stringify(saved));
}

export function savedImport(db: Database.Database, jobId: string): SavedImport | null {
  const v = db.prepare('SELECT value FROM project_meta WHERE key = ?').pluck().get(key(jobId)) as string | undefined;
  if (v === undefined) return null;
  const s = JSON.parse(v) as SavedImport;
  return typeof s.datasetId === 'number' && typeof s.rows === 'number' ? { datasetId: s.datasetId, rows: s.rows, skipped: s.skipped ?? 0 } : null;
}

export function clearSavedImport(db: Database.Database, jobId: string): void {
  db.prepare('DELETE FROM project_meta WHERE key = ?').run(key(jobId));
}

/** The job's words for what it kept: the dataset by name, its rows, and what is left to do. */
export function describeSavedImport(db: Database.Database, s: SavedImport): string {
  const name = db.prepare('SELECT name FROM datasets WHERE id = ?').pluck().get(s.datasetId) as string | undefined;
  return `its ${s.rows} rows were saved as dataset ${s.datasetId}${name ? ` ("${name}")` : ''}${s.skipped ? ` (${s.skipped} malformed skipped)` : ''}`;
}
