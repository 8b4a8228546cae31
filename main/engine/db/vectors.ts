/** Per-example vector signals (`embedding`) in example_vectors (migration 004): Float32 blobs, never sortable columns. */
import type { Db } from './open';
import { blobToFloat32, toBlob } from './blobs';

export function writeExampleVectors(db: Db, runId: number, signal: string, rows: Iterable<[number, Float32Array]>): void {
  const put = db.prepare('INSERT OR REPLACE INTO example_vectors (run_id, example_id, signal, dim, vector) VALUES (?, ?, ?, ?, ?)');
  for (const [exampleId, v] of rows) put.run(runId, exampleId, signal, v.length, toBlob(v));
}

/** Stores vectors as stored bytes (a merge copies its shards' blobs); a vector the run already has is an error. */
export function exampleVectorInserter(db: Db): (runId: number, exampleId: number, signal: string, vector: Buffer) => void {
  const stmt = db.prepare('INSERT INTO example_vectors (run_id, example_id, signal, dim, vector) VALUES (?, ?, ?, ?, ?)');
  return (runId, exampleId, signal, vector) => void stmt.run(runId, exampleId, signal, vector.length / 4, vector);
}

/** The latest run's vector of `signal` for each example that has one (optionally only those of one run). */
export function readExampleVectors(db: Db, signal: string, runId?: number): Map<number, Float32Array> {
  const rows = (runId !== undefined
    ? db.prepare('SELECT example_id AS id, vector FROM example_vectors WHERE signal = ? AND run_id = ?').all(signal, runId)
    : db
        .prepare(
          `SELECT v.example_id AS id, v.vector FROM example_vectors v
           WHERE v.signal = ? AND v.run_id = (SELECT MAX(run_id) FROM example_vectors x WHERE x.example_id = v.example_id AND x.signal = v.signal)`,
        )
        .all(signal)) as Array<{ id: number; vector: Buffer }>;
  return new Map(rows.map((r) => [r.id, blobToFloat32(r.vector)]));
}
