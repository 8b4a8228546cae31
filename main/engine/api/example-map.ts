/** The Map screen's data: every example's embedding projected to 2-D (PCA), with a colour value per point. */
import type { ExampleMap } from '../../../preload/contract';
import { blobToFloat32, listSignalColumns, type Db } from '../db';
import { pca2 } from '../selection/projection';
import { WinnowError } from '../util/errors';

const EMPTY = (message: string): ExampleMap => ({ points: [], ids: [], values: [], message, explained: [] });

export function exampleMap(db: Db, i: { datasetId?: number; signal?: string; limit: number }): ExampleMap {
  const hasTable = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'example_vectors'`).get();
  if (!hasTable) return EMPTY('No embeddings yet: score the dataset with the embedding signal (Score → embedding).');
  if (i.signal !== undefined && !listSignalColumns(db).includes(i.signal)) {
    throw new WinnowError('bad_input', `examples.map: field "signal": unknown column "${i.signal}"`);
  }
  const scope = i.datasetId !== undefined ? 'AND e.dataset_id = ?' : '';
  const colour = i.signal !== undefined ? `, s."${i.signal}" AS value` : ', NULL AS value';
  // the latest run's vector per example
  const rows = db
    .prepare(
      `SELECT v.example_id AS id, v.vector${colour} FROM example_vectors v
       JOIN examples e ON e.id = v.example_id LEFT JOIN example_signals s ON s.example_id = v.example_id
       WHERE v.signal = 'embedding' ${scope}
         AND v.run_id = (SELECT MAX(run_id) FROM example_vectors x WHERE x.example_id = v.example_id AND x.signal = 'embedding')
       ORDER BY v.example_id LIMIT ?`,
    )
    .all(...(i.datasetId !== undefined ? [i.datasetId] : []), i.limit) as Array<{ id: number; vector: Buffer; value: number | null }>;
  if (!rows.length) return EMPTY('No embeddings yet: score the dataset with the embedding signal (Score → embedding).');
  const vectors = rows.map((r) => blobToFloat32(r.vector));
  const dim = vectors[0]!.length;
  const same = vectors.filter((v) => v.length === dim);
  if (same.length !== vectors.length) throw new WinnowError('internal', `examples.map: embeddings of different sizes (${dim} and others) — rescore embedding`);
  const p = pca2(vectors);
  return {
    points: Array.from(p.points, (x) => Math.round(x * 1e5) / 1e5),
    ids: rows.map((r) => r.id),
    values: rows.map((r) => (r.value === null || r.value === undefined || !Number.isFinite(r.value) ? null : r.value)),
    message: null,
    explained: p.explained,
  };
}
