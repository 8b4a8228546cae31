/** The search index's rows (examples_fts) and how far each dataset is indexed (datasets.text_indexed_upto). */
import type { Db } from './open';

/** Each dataset (or only `datasetId`) with the example id up to which it is indexed, in id order. */
export function textIndexMarks(db: Db, datasetId?: number): Array<{ id: number; upto: number }> {
  return db.prepare(`SELECT id, text_indexed_upto AS upto FROM datasets${datasetId === undefined ? '' : ' WHERE id = ?'} ORDER BY id`)
    .all(...(datasetId === undefined ? [] : [datasetId])) as Array<{ id: number; upto: number }>;
}

/** A counter (prepared once) of a dataset's examples with ids above `afterId`. */
export function examplesAfterCounter(db: Db): (datasetId: number, afterId: number) => number {
  const pending = db.prepare('SELECT COUNT(*) FROM examples WHERE dataset_id = ? AND id > ?').pluck();
  return (datasetId, afterId) => pending.get(datasetId, afterId) as number;
}

/** A writer (prepared once) of one example's searchable text into examples_fts. */
export function searchTextWriter(db: Db): (exampleId: number, text: string) => void {
  const ins = db.prepare('INSERT INTO examples_fts (rowid, text) VALUES (?, ?)');
  return (exampleId, text) => { ins.run(exampleId, text); };
}
