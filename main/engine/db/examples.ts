/** Statements on the `examples` table by dataset that the data/ passes need (counts, stored records, re-mapping). */
import type { Db } from './open';

export function countDatasetExamples(db: Db, datasetId: number): number {
  return db.prepare('SELECT COUNT(*) FROM examples WHERE dataset_id = ?').pluck().get(datasetId) as number;
}

/** A dataset's first `limit` stored records (raw_json as stored) in row order. */
export function firstStoredRecords(db: Db, datasetId: number, limit: number): Array<{ rowIndex: number; raw: string }> {
  return db.prepare('SELECT row_index AS rowIndex, raw_json AS raw FROM examples WHERE dataset_id = ? ORDER BY row_index LIMIT ?')
    .all(datasetId, limit) as Array<{ rowIndex: number; raw: string }>;
}

/**
 * A writer of one re-mapped example (prepared once): its new character count, and '' for the messages, preview and
 * hash, which follow from the record and the new mapping (derived on read / by the duplicate pass).
 */
export function remappedExampleWriter(db: Db): (exampleId: number, nChars: number) => void {
  const update = db.prepare(`UPDATE examples SET messages_json = '', text_preview = '', norm_hash = '', n_chars = ? WHERE id = ?`);
  return (exampleId, nChars) => { update.run(nChars, exampleId); };
}
