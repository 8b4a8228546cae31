/**
 * What an import job has committed, kept with the rows: an import is one transaction, but the search index, the
 * render and the duplicate signals run after it. The job records `{ datasetId, rows, skipped }` in project_meta
 * (key `import_saved:<jobId>`) inside the import's own transaction, so the record exists exactly when the rows do.
 * A job stopped after the commit (killed, cancelled, failed in a later phase) then says what was kept and is resumed
 * — never started again, which would import the rows twice; the record is removed when the job finishes.
 */
import type { Db } from '../db/open';
import { datasetMappingReader } from '../db/datasets';
import type { SavedImport } from '../db/import-state';

export { clearSavedImport, recordSavedImport, savedImport, type SavedImport } from '../db/import-state';

/** The job's words for what it kept: the dataset by name, its rows, and what is left to do. */
export function describeSavedImport(db: Db, s: SavedImport): string {
  const name = datasetMappingReader(db)(s.datasetId)?.name;
  return `its ${s.rows} rows were saved as dataset ${s.datasetId}${name ? ` ("${name}")` : ''}${s.skipped ? ` (${s.skipped} malformed skipped)` : ''}`;
}
