/**
 * The `embedding` signal as one dense row-major matrix (n × dim Float32), the input of clustering, k-center and the
 * map's projections. The latest scoring run's vector per example; scoped to a dataset and/or a subset.
 */
import { blobToFloat32, type Db } from '../db';
import { hasEmbeddingTable, latestEmbeddingRows } from '../db/embeddings';
import { WinnowError } from '../util/errors';

export interface EmbeddingMatrix {
  /** example ids, ascending */
  ids: number[];
  /** n × dim, row-major */
  data: Float32Array;
  dim: number;
  /** the scoring runs the vectors came from (provenance) */
  runIds: number[];
}

export const NO_EMBEDDINGS = 'No embeddings yet: score the dataset with the embedding signal (Score → embedding).';

export function loadEmbeddings(db: Db, scope: { datasetId?: number; subsetId?: number; limit?: number } = {}): EmbeddingMatrix {
  if (!hasEmbeddingTable(db)) return { ids: [], data: new Float32Array(0), dim: 0, runIds: [] };
  const rows = latestEmbeddingRows(db, scope);
  if (!rows.length) return { ids: [], data: new Float32Array(0), dim: 0, runIds: [] };
  const dim = rows[0]!.vector.byteLength / 4;
  const data = new Float32Array(rows.length * dim);
  const runs = new Set<number>();
  rows.forEach((r, i) => {
    const v = blobToFloat32(r.vector);
    if (v.length !== dim) {
      throw new WinnowError('internal', `embedding of example ${r.id} has ${v.length} values, others ${dim} — score embedding again for the whole dataset`);
    }
    data.set(v, i * dim);
    runs.add(r.run);
  });
  return { ids: rows.map((r) => r.id), data, dim, runIds: [...runs].sort((a, b) => a - b) };
}

/** Squared Euclidean distance between row i of `a` and row j of `b` (both row-major with `dim` columns). */
export function sqDist(a: ArrayLike<number>, i: number, b: ArrayLike<number>, j: number, dim: number): number {
  let s = 0;
  const ai = i * dim;
  const bj = j * dim;
  for (let t = 0; t < dim; t++) {
    const d = a[ai + t]! - b[bj + t]!;
    s += d * d;
  }
  return s;
}
