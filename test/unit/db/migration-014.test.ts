/**
 * Migration 014 (cluster_assignments, layout_points): a schema-13 project whose clustering lived in example_scores
 * and whose UMAP layout lived in example_vectors opens with both in their own tables, read back by the engine.
 */
import { describe, expect, it } from 'vitest';
import { migrate } from '../../../main/engine/db/migrate';
import { toBlob } from '../../../main/engine/db/blobs';
import { exampleMap } from '../../../main/engine/api/example-map';
import { getClusterRun, latestClusterRun } from '../../../main/engine/selection/clusters';
import { evaluateRule } from '../../../main/engine/selection/subsets';
import { unmigratedProjectPerTest } from './helpers';

const fresh = unmigratedProjectPerTest();

describe('migration 014: clusters and layouts', () => {
  it('moves a schema-13 clustering and UMAP layout into their own tables; the map, clusters and quota rules read them', () => {
    const db = fresh();
    migrate(db, { upTo: 13 });
    db.prepare("INSERT INTO datasets (id,name,source_path,format,mapping_json,hash,created_at) VALUES (1,'d','p','jsonl','{}','h','t')").run();
    const ex = db.prepare("INSERT INTO examples (id,dataset_id,row_index,raw_json,messages_json,text_preview,norm_hash,n_chars) VALUES (?,1,?,'{}','[]','','h',0)");
    for (let i = 1; i <= 4; i++) ex.run(i, i - 1);
    const run = db.prepare(`INSERT INTO score_runs (id, dataset_id, signals_json, params_json, status, cursor, total, created_at) VALUES (?, 1, ?, ?, 'done', 4, 4, 't')`);
    run.run(1, '["embedding"]', '{}');
    run.run(2, '["cluster"]', JSON.stringify({ method: 'kmeans', k: 2, seed: 7, n: 4, sizes: [2, 2] }));
    run.run(3, '["umap"]', JSON.stringify({ seed: 5, nNeighbors: 3, minDist: 0.1, nEpochs: 0, n: 4, limit: 100, embeddingRuns: [1] }));
    // as the engine wrote them before 014: embeddings and the layout in example_vectors, the clusters in example_scores
    const vec = db.prepare('INSERT INTO example_vectors (run_id, example_id, signal, dim, vector) VALUES (?, ?, ?, ?, ?)');
    const score = db.prepare('INSERT INTO example_scores (run_id, example_id, signal, value) VALUES (?, ?, ?, ?)');
    db.exec('ALTER TABLE example_signals ADD COLUMN "cluster" REAL');
    const sig = db.prepare('INSERT INTO example_signals (example_id, "cluster") VALUES (?, ?)');
    for (let i = 1; i <= 4; i++) {
      vec.run(1, i, 'embedding', 2, toBlob(new Float32Array([i, -i])));
      vec.run(3, i, 'umap', 2, toBlob(new Float32Array([i + 0.25, 10 - i * 0.5])));
      score.run(2, i, 'cluster', i <= 2 ? 0 : 1);
      sig.run(i, i <= 2 ? 0 : 1);
    }
    migrate(db);

    expect(db.prepare('SELECT run_id, example_id, cluster FROM cluster_assignments ORDER BY example_id').all()).toEqual([
      { run_id: 2, example_id: 1, cluster: 0 }, { run_id: 2, example_id: 2, cluster: 0 },
      { run_id: 2, example_id: 3, cluster: 1 }, { run_id: 2, example_id: 4, cluster: 1 },
    ]);
    expect(db.prepare('SELECT run_id, example_id, x, y FROM layout_points ORDER BY example_id').all()).toEqual([
      { run_id: 3, example_id: 1, x: 1.25, y: 9.5 }, { run_id: 3, example_id: 2, x: 2.25, y: 9 },
      { run_id: 3, example_id: 3, x: 3.25, y: 8.5 }, { run_id: 3, example_id: 4, x: 4.25, y: 8 },
    ]);
    // the layout left example_vectors; the embeddings and the cluster column's history stayed
    expect(db.prepare('SELECT DISTINCT signal FROM example_vectors').pluck().all()).toEqual(['embedding']);
    expect(db.prepare("SELECT COUNT(*) FROM example_scores WHERE signal = 'cluster'").pluck().get()).toBe(4);

    const map = exampleMap(db, { datasetId: 1, method: 'umap', limit: 100, signal: 'cluster' });
    expect(map.ids).toEqual([1, 2, 3, 4]);
    expect(map.points).toEqual([1.25, 9.5, 2.25, 9, 3.25, 8.5, 4.25, 8]);
    expect(map.values).toEqual([0, 0, 1, 1]);
    expect(map.layout).toMatchObject({ runId: 3, seed: 5, nNeighbors: 3, minDist: 0.1 });
    expect(latestClusterRun(db, 1)).toMatchObject({ runId: 2, k: 2, sizes: [2, 2] });
    expect(getClusterRun(db, 2).runId).toBe(2);
    // one row per cluster, by the row's own id (a random pick per cluster needs the assignments too)
    expect(evaluateRule(db, { kind: 'cluster_quota', count: 1, signal: 'row_index', dir: 'asc', seed: 0 }, 1)).toEqual([1, 3]);

    // the new rows go with their run and with their example
    db.prepare('DELETE FROM examples WHERE id = 4').run();
    db.prepare('DELETE FROM score_runs WHERE id = 3').run();
    expect(db.prepare('SELECT COUNT(*) FROM layout_points').pluck().get()).toBe(0);
    expect(db.prepare('SELECT example_id FROM cluster_assignments ORDER BY example_id').pluck().all()).toEqual([1, 2, 3]);
  });
});
