/**
 * The Map screen's data: every example's embedding projected to 2-D — PCA (computed here, cached until the
 * embeddings change) or the latest stored UMAP layout — with a colour value per point.
 */
import type { ExampleMap } from '../../../preload/contract';
import { listSignalColumns, signalColumnInIdRange, type Db } from '../db';
import { embeddingFingerprint, hasEmbeddingTable } from '../db/embeddings';
import { layoutPoints } from '../db/layouts';
import { NO_EMBEDDINGS, loadEmbeddings } from '../selection/embeddings';
import { pca2 } from '../selection/projection';
import { latestUmapRun } from '../selection/umap';
import { WinnowError } from '../util/errors';

const EMPTY = (message: string, method: 'pca' | 'umap'): ExampleMap => ({ points: [], ids: [], values: [], message, explained: [], method, layout: null, layoutKey: null });

/**
 * PCA of 100k × 64 takes ~2 s; colouring by another column must not pay it again. Keyed by the project file, the scope
 * and a fingerprint of the embedding rows (latest run, count), so rescoring invalidates it.
 */
const pcaCache = new Map<string, { ids: number[]; points: number[]; explained: number[]; key: string }>();

function pcaPoints(db: Db, datasetId: number | undefined, limit: number): { ids: number[]; points: number[]; explained: number[]; key: string } {
  const fp = embeddingFingerprint(db);
  const key = `${db.name}|${datasetId ?? '*'}|${limit}|${fp.run}|${fp.n}`;
  const hit = pcaCache.get(key);
  if (hit) return hit;
  const m = loadEmbeddings(db, { datasetId, limit });
  const rows: Float32Array[] = [];
  for (let i = 0; i < m.ids.length; i++) rows.push(m.data.subarray(i * m.dim, (i + 1) * m.dim));
  const p = pca2(rows);
  // the key sent to the renderer leaves out the file path
  const out = { ids: m.ids, points: Array.from(p.points, (x) => Math.round(x * 1e5) / 1e5), explained: p.explained as number[], key: `pca|${key.slice(db.name.length + 1)}` };
  if (pcaCache.size >= 4) pcaCache.delete(pcaCache.keys().next().value!);
  pcaCache.set(key, out);
  return out;
}

function colourValues(db: Db, ids: number[], signal: string | undefined): Array<number | null> {
  const out: Array<number | null> = new Array(ids.length).fill(null);
  if (signal === undefined || !ids.length) return out;
  // two plucked columns in key order, merged with the ascending ids: ~3× faster than row objects and a Map at 100k
  // rows (77 vs 236 ms), and this is all a colour change waits for
  const { ids: rowIds, values: rowValues } = signalColumnInIdRange(db, signal, ids[0]!, ids[ids.length - 1]!);
  let j = 0;
  for (let r = 0; r < rowIds.length && j < ids.length; r++) {
    const id = rowIds[r]!;
    while (j < ids.length && ids[j]! < id) j++;
    const v = rowValues[r];
    if (ids[j] === id && v !== null && v !== undefined && Number.isFinite(v)) out[j] = v;
  }
  return out;
}

/**
 * With `valuesOnly` (a colour change) the points and ids are left out: ~1/4 of the bytes at 100k points, and the
 * renderer keeps its fitted positions, hover index, zoom and lasso pick.
 */
export function exampleMap(db: Db, i: { datasetId?: number; signal?: string; limit: number; method?: 'pca' | 'umap'; valuesOnly?: boolean }): ExampleMap {
  const method = i.method ?? 'pca';
  if (!hasEmbeddingTable(db)) return EMPTY(NO_EMBEDDINGS, method);
  if (i.signal !== undefined && !listSignalColumns(db).includes(i.signal)) {
    throw new WinnowError('bad_input', `examples.map: field "signal": unknown column "${i.signal}"`);
  }
  if (method === 'umap') {
    const run = latestUmapRun(db, i.datasetId);
    if (!run) {
      const any = loadEmbeddings(db, { datasetId: i.datasetId, limit: 1 }).ids.length > 0;
      return EMPTY(any ? 'No UMAP layout yet: compute one (a background job; the same seed gives the same layout).' : NO_EMBEDDINGS, method);
    }
    const rows = layoutPoints(db, run.runId, i.limit, !!i.valuesOnly);
    const ids = rows.map((r) => r.id);
    const points: number[] = [];
    if (!i.valuesOnly) for (const r of rows) points.push(Math.round(r.x * 1e5) / 1e5, Math.round(r.y * 1e5) / 1e5);
    const { seed, nNeighbors, minDist } = run.params;
    const layout = { runId: run.runId, seed, nNeighbors, minDist, createdAt: run.createdAt };
    return { points, ids: i.valuesOnly ? [] : ids, values: colourValues(db, ids, i.signal), message: null, explained: [], method, layout, layoutKey: `umap|${run.runId}|${ids.length}|${ids[0]}|${ids[ids.length - 1]}` };
  }
  const p = pcaPoints(db, i.datasetId, i.limit);
  if (!p.ids.length) return EMPTY(NO_EMBEDDINGS, method);
  const values = colourValues(db, p.ids, i.signal);
  if (i.valuesOnly) return { points: [], ids: [], values, message: null, explained: p.explained, method, layout: null, layoutKey: p.key };
  return { points: p.points, ids: p.ids, values, message: null, explained: p.explained, method, layout: null, layoutKey: p.key };
}
