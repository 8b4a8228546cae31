/**
 * The embedding rules through the engine service on a real project (SQLite, bundled stories260K, 50 GSM8K rows):
 * K-means as a job stored as the `cluster` column with provenance, per-cluster quotas, k-center as a `select` job,
 * UMAP layouts for the map. Embeddings are written directly (scoring is tested elsewhere) as three known blobs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { EngineService } from '../../../main/engine/api/service';
import { InProcessExecutor } from '../../../main/engine/jobs/runners';
import { toBlob, writeExampleSignal } from '../../../main/engine/db';
import type { SubsetRule } from '../../../preload/contract';
import { mulberry32 } from '../../../main/engine/util/random';
import { serviceCalls } from '../../support/engine';

const FIXTURE = resolve(__dirname, '../../fixtures/data/gsm8k-50.jsonl');
const DIM = 8;

let home: string;
let service: EngineService;
let datasetId = 0;
let ids: number[] = [];
const vectors = new Map<number, Float32Array>();

const { call, finished } = serviceCalls(() => service);

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'winnow-embedding-rules-'));
  service = new EngineService({ projectsDir: home, mode: 'browser', executor: new InProcessExecutor() });
  service.open('rules');
  const { jobId } = await call('datasets.import', { path: FIXTURE });
  datasetId = Number((await finished(jobId)).stats.datasetId);
  const db = service.current().db;
  ids = db.prepare('SELECT id FROM examples WHERE dataset_id = ? ORDER BY row_index').pluck().all(datasetId) as number[];
  // three blobs by row % 3 (far apart), a little noise; mean_loss = row index
  const rand = mulberry32(5);
  const run = Number(db.prepare(`INSERT INTO score_runs (signals_json, params_json, status, created_at) VALUES ('["embedding"]', '{}', 'done', datetime('now'))`).run().lastInsertRowid);
  const put = db.prepare('INSERT INTO example_vectors (run_id, example_id, signal, dim, vector) VALUES (?, ?, ?, ?, ?)');
  ids.forEach((id, i) => {
    const v = Float32Array.from({ length: DIM }, (_, t) => (t === i % 3 ? 30 : 0) + (rand() - 0.5));
    vectors.set(id, v);
    put.run(run, id, 'embedding', DIM, toBlob(v));
  });
  writeExampleSignal(db, null, 'mean_loss', ids.map((id, i): [number, number] => [id, i]));
});

afterAll(() => {
  service.close();
  rmSync(home, { recursive: true, force: true });
});

describe('clusters', () => {
  it('a cluster job stores the `cluster` column with its provenance; the table filters by it', async () => {
    expect(await call('clusters.info', { datasetId })).toBe(null);
    const bad = await service.call('subsets.create', { name: 'q0', rule: { kind: 'cluster_quota', count: 1 }, datasetId });
    expect(!bad.ok && bad.error.message).toMatch(/K-means/);
    const { jobId } = await call('clusters.start', { datasetId, k: 3, seed: 2 });
    const job = await finished(jobId);
    const info = (await call('clusters.info', { datasetId }))!;
    expect(info.runId).toBe(job.stats.runId);
    expect(info).toMatchObject({ k: 3, seed: 2, n: 50, dim: DIM, converged: true });
    expect([...info.sizes].sort()).toEqual([16, 17, 17]);
    // every blob is one cluster
    const page = await call('examples.query', { datasetId, limit: 100, sort: { column: 'row_index', dir: 'asc' } });
    expect(page.columns).toContain('cluster');
    const clusterOfBlob = [0, 1, 2].map((b) => new Set(page.rows.filter((r) => r.rowIndex % 3 === b).map((r) => r.signals.cluster)));
    for (const s of clusterOfBlob) expect(s.size).toBe(1);
    for (let c = 0; c < 3; c++) {
      const only = await call('examples.query', { datasetId, filters: [{ column: 'cluster', min: c, max: c }], limit: 1 });
      expect(only.total).toBe(info.sizes[c]);
    }
  });

  it('per-cluster quotas: the top n by a signal in every cluster, a percent of each, or a seeded random n', async () => {
    const info = (await call('clusters.info', { datasetId }))!;
    const page = await call('examples.query', { datasetId, limit: 100 });
    const members = (c: number) => page.rows.filter((r) => r.signals.cluster === c);

    const top = await call('subsets.create', { name: 'top2-per-cluster', rule: { kind: 'cluster_quota', count: 2, signal: 'mean_loss' }, datasetId });
    const expected = [0, 1, 2].flatMap((c) => members(c).sort((a, b) => b.signals.mean_loss! - a.signals.mean_loss!).slice(0, 2).map((r) => r.id));
    const got = await call('examples.query', { datasetId, subsetId: top.id, limit: 100 });
    expect(got.rows.map((r) => r.id).sort((a, b) => a - b)).toEqual(expected.sort((a, b) => a - b));
    const stored = top.rule as Extract<SubsetRule, { kind: 'cluster_quota' }>;
    expect(stored.clusterRunId).toBe(info.runId);
    expect(stored.k).toBe(3);

    const low = await call('subsets.create', { name: 'low-10pc', rule: { kind: 'cluster_quota', percent: 10, signal: 'mean_loss', dir: 'asc' }, datasetId });
    // 10% of 16 or 17 rounds to 2
    expect(low.size).toBe(info.sizes.map((s) => Math.max(1, Math.round(0.1 * s))).reduce((a, b) => a + b, 0));
    const lowRows = await call('examples.query', { datasetId, subsetId: low.id, limit: 100 });
    for (let c = 0; c < 3; c++) {
      const want = members(c).sort((a, b) => a.signals.mean_loss! - b.signals.mean_loss!).slice(0, 2).map((r) => r.id);
      expect(lowRows.rows.filter((r) => r.signals.cluster === c).map((r) => r.id).sort()).toEqual(want.sort());
    }

    const r1 = await call('subsets.create', { name: 'rand-a', rule: { kind: 'cluster_quota', count: 3, seed: 9 }, datasetId });
    const r2 = await call('subsets.create', { name: 'rand-b', rule: { kind: 'cluster_quota', count: 3, seed: 9 }, datasetId });
    const rows = async (id: number) => (await call('examples.query', { datasetId, subsetId: id, limit: 100 })).rows;
    const a = await rows(r1.id);
    expect(a.map((r) => r.id)).toEqual((await rows(r2.id)).map((r) => r.id));
    for (let c = 0; c < 3; c++) expect(a.filter((r) => r.signals.cluster === c)).toHaveLength(3);
  });
});

describe('k-center', () => {
  it('runs as a select job; the stored rule carries the covering radius, which a direct computation confirms', async () => {
    const { jobId } = await call('subsets.start', { name: 'diverse-6', rule: { kind: 'kcenter', count: 6, seed: 1 }, datasetId });
    const job = await finished(jobId);
    const s = (await call('subsets.list', {})).find((x) => x.id === job.stats.subsetId)!;
    expect(s.size).toBe(6);
    const rule = s.rule as Extract<SubsetRule, { kind: 'kcenter' }>;
    expect(rule.candidates).toBe(50);
    const picked = (await call('examples.query', { datasetId, subsetId: s.id, limit: 100 })).rows.map((r) => vectors.get(r.id)!);
    const d = (a: Float32Array, b: Float32Array) => Math.sqrt(a.reduce((acc, x, t) => acc + (x - b[t]!) ** 2, 0));
    const radius = Math.max(...[...vectors.values()].map((v) => Math.min(...picked.map((p) => d(v, p)))));
    expect(rule.radius).toBeCloseTo(radius, 5);
    // six picks over three far-apart blobs: each blob holds two
    const blobOf = (v: Float32Array) => v.indexOf(Math.max(...v));
    expect([0, 1, 2].map((b) => picked.filter((p) => blobOf(p) === b).length)).toEqual([2, 2, 2]);
  });

  it('pre-filters to a subset, and refuses a name already taken before starting', async () => {
    const top = (await call('subsets.list', {})).find((x) => x.name === 'top2-per-cluster')!;
    const s = await call('subsets.create', { name: 'diverse-in-top', rule: { kind: 'kcenter', count: 4, seed: 0, subsetId: top.id }, datasetId });
    expect(s.size).toBe(4);
    expect((s.rule as Extract<SubsetRule, { kind: 'kcenter' }>).subsetName).toBe('top2-per-cluster');
    const inTop = new Set((await call('examples.query', { datasetId, subsetId: top.id, limit: 100 })).rows.map((r) => r.id));
    for (const r of (await call('examples.query', { datasetId, subsetId: s.id, limit: 100 })).rows) expect(inTop.has(r.id)).toBe(true);
    const taken = await service.call('subsets.start', { name: 'diverse-6', rule: { kind: 'kcenter', count: 2 }, datasetId });
    expect(!taken.ok && taken.error.code).toBe('conflict');
  });
});

describe('map projections', () => {
  it('PCA by default; UMAP once a layout job ran, the same seed giving the same points', async () => {
    const pca = await call('examples.map', { datasetId, signal: 'cluster' });
    expect(pca.method).toBe('pca');
    expect(pca.ids).toHaveLength(50);
    expect(pca.values.every((v) => v !== null && v >= 0 && v < 3)).toBe(true);
    const none = await call('examples.map', { datasetId, method: 'umap' });
    expect(none.points).toHaveLength(0);
    expect(none.message).toMatch(/UMAP/);
    const first = await call('map.umap', { datasetId, seed: 3, nNeighbors: 8, nEpochs: 40 });
    await finished(first.jobId);
    const a = await call('examples.map', { datasetId, method: 'umap', signal: 'mean_loss' });
    expect(a.layout).toMatchObject({ seed: 3, nNeighbors: 8 });
    expect(a.ids).toEqual(pca.ids);
    expect(a.values).toEqual(a.ids.map((_, i) => i));
    const again = await call('map.umap', { datasetId, seed: 3, nNeighbors: 8, nEpochs: 40 });
    await finished(again.jobId);
    const b = await call('examples.map', { datasetId, method: 'umap' });
    expect(b.layout!.runId).toBeGreaterThan(a.layout!.runId);
    expect(b.points).toEqual(a.points);
  });
});
