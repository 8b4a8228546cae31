/**
 * Curation calls through the engine service on a real project (SQLite, bundled stories260K, real GSM8K rows):
 * column histograms, subset set operations, IFD's drop-then-top, edited token masks and the embedding map.
 * Signal values are written directly (scoring itself is tested elsewhere) so the expected answers are known.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { EngineService } from '../../../main/engine/api/service';
import { InProcessExecutor } from '../../../main/engine/jobs/runners';
import { writeExampleSignal, toBlob } from '../../../main/engine/db';
import { serviceCalls } from '../../support/engine';

const FIXTURE = resolve(__dirname, '../../fixtures/data/gsm8k-50.jsonl');

let home: string;
let service: EngineService;
let datasetId = 0;
let ids: number[] = [];

const { call } = serviceCalls(() => service);

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'winnow-curation-'));
  service = new EngineService({ projectsDir: home, mode: 'browser', executor: new InProcessExecutor() });
  service.open('curation');
  const { jobId } = await call('datasets.import', { path: FIXTURE });
  await service.whenIdle();
  const job = (await call('jobs.list', {})).find((j) => j.jobId === jobId)!;
  expect(job.status).toBe('done');
  datasetId = Number(job.stats.datasetId);
  const db = service.current().db;
  ids = db.prepare('SELECT id FROM examples WHERE dataset_id = ? ORDER BY row_index').pluck().all(datasetId) as number[];
  // mean_loss = row index (0..49), except row 0 has none; ifd = row/25 (0..1.96)
  writeExampleSignal(db, null, 'mean_loss', ids.map((id, i): [number, number | null] => [id, i === 0 ? null : i]));
  writeExampleSignal(db, null, 'ifd', ids.map((id, i): [number, number | null] => [id, i / 25]));
});

afterAll(() => {
  service.close();
  rmSync(home, { recursive: true, force: true });
});

describe('examples.histogram', () => {
  it('buckets a column in SQL: counts sum to the valued rows, nulls counted apart, the max in the last bin', async () => {
    const h = await call('examples.histogram', { datasetId, column: 'mean_loss', bins: 7 });
    expect(h.min).toBe(1);
    expect(h.max).toBe(49);
    expect(h.nulls).toBe(1);
    expect(h.total).toBe(49);
    expect(h.counts).toHaveLength(7);
    expect(h.counts.reduce((a, b) => a + b, 0)).toBe(49);
    // width 48/7: values 1..7.857 → bin 0 holds 1..7
    expect(h.counts[0]).toBe(7);
    expect(h.counts[6]).toBeGreaterThan(0);
  });

  it('respects filters and the default of 30 bins; a constant column is one bar; unknown columns are refused', async () => {
    const h = await call('examples.histogram', { datasetId, column: 'mean_loss', filters: [{ column: 'ifd', max: 0.4 }] });
    expect(h.counts).toHaveLength(30);
    expect(h.total).toBe(10); // rows 1..10 (row 0 has no mean_loss)
    expect(h.max).toBe(10);
    const one = await call('examples.histogram', { datasetId, column: 'mean_loss', filters: [{ column: 'mean_loss', min: 5, max: 5 }], bins: 4 });
    expect(one.counts).toEqual([1, 0, 0, 0]);
    const tokens = await call('examples.histogram', { datasetId, column: 'n_tokens', bins: 5 });
    expect(tokens.total).toBe(50);
    const bad = await service.call('examples.histogram', { column: 'no_such' });
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.error.message).toContain('no_such');
  });
});

describe('subset rules', () => {
  it('ifd_top drops ifd > 1, then keeps the highest', async () => {
    const s = await call('subsets.create', { name: 'ifd-5', rule: { kind: 'ifd_top', count: 5 }, datasetId });
    expect(s.size).toBe(5);
    const db = service.current().db;
    const members = db.prepare('SELECT s.ifd FROM subset_members m JOIN example_signals s ON s.example_id = m.example_id WHERE m.subset_id = ? ORDER BY s.ifd DESC').pluck().all(s.id) as number[];
    // rows 25 (ifd 1.0) down to 21; 26..49 have ifd > 1 and are dropped
    expect(members[0]).toBeCloseTo(1, 6);
    expect(members[4]).toBeCloseTo(21 / 25, 6);
    const pct = await call('subsets.create', { name: 'ifd-20pct', rule: { kind: 'ifd_top', percent: 20 }, datasetId });
    expect(pct.size).toBe(5); // 20% of the 26 rows with ifd ≤ 1
  });

  it('union, intersection and difference run on subset_members and record how they were made', async () => {
    const lo = await call('subsets.create', { name: 'lo', rule: { kind: 'threshold', signal: 'mean_loss', max: 20 }, datasetId }); // 1..20
    const hi = await call('subsets.create', { name: 'hi', rule: { kind: 'threshold', signal: 'mean_loss', min: 15 }, datasetId }); // 15..49
    const u = await call('subsets.combine', { name: 'u', op: 'union', subsetIds: [lo.id, hi.id] });
    const n = await call('subsets.combine', { name: 'n', op: 'intersection', subsetIds: [lo.id, hi.id] });
    const d = await call('subsets.combine', { name: 'd', op: 'difference', subsetIds: [lo.id, hi.id] });
    expect([u.size, n.size, d.size]).toEqual([49, 6, 14]);
    expect(n.rule).toMatchObject({ kind: 'combine', op: 'intersection', subsetIds: [lo.id, hi.id], names: ['lo', 'hi'] });
    // the stored rule recreates the same subset (this is how undo of a delete works)
    await call('subsets.delete', { subsetId: n.id });
    const again = await call('subsets.create', { name: 'n', rule: n.rule });
    expect(again.size).toBe(6);
    const missing = await service.call('subsets.combine', { name: 'x', op: 'union', subsetIds: [lo.id, 99999] });
    expect(missing.ok).toBe(false);
    if (!missing.ok) expect(missing.error.code).toBe('not_found');
  });
});

describe('picked rows', () => {
  it('an ids rule keeps the rows that exist, once each', async () => {
    const s = await call('subsets.create', { name: 'lasso', rule: { kind: 'ids', ids: [ids[5]!, ids[2]!, ids[5]!, 999999], source: 'map lasso' }, datasetId });
    expect(s.size).toBe(2);
    expect(s.rule).toMatchObject({ kind: 'ids', source: 'map lasso' });
  });
});

describe('token masks', () => {
  it('saves an edited mask of the render length and reads it back; a wrong length names the counts', async () => {
    const detail = await call('examples.get', { exampleId: ids[3]! });
    const n = detail.tokens.length;
    expect(await call('tokenMasks.get', { exampleId: ids[3]! })).toBeNull();
    const mask = detail.tokens.map((t, i) => (t.label && i % 2 === 0 ? 1 : 0));
    const saved = await call('tokenMasks.save', { exampleId: ids[3]!, mask, provenance: { policy: 'top:50:token_loss' } });
    expect(saved.name).toBe('edited');
    expect(saved.mask).toEqual(mask);
    expect(saved.trainable).toBe(mask.reduce((a: number, b) => a + b, 0));
    expect(saved.provenance).toMatchObject({ source: 'edited', policy: 'top:50:token_loss' });
    const got = await call('tokenMasks.get', { exampleId: ids[3]! });
    expect(got?.mask).toEqual(mask);
    // saving again replaces
    await call('tokenMasks.save', { exampleId: ids[3]!, mask: new Array(n).fill(1) });
    expect((await call('tokenMasks.get', { exampleId: ids[3]! }))?.trainable).toBe(n);
    const bad = await service.call('tokenMasks.save', { exampleId: ids[3]!, mask: [1, 0] });
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.error.message).toContain(`${n} tokens`);
  });
});

describe('examples.map', () => {
  it('says what to do when there are no embeddings, and projects them once they exist', async () => {
    const empty = await call('examples.map', { datasetId });
    expect(empty.points).toEqual([]);
    expect(empty.message).toMatch(/embedding/);
    const db = service.current().db;
    const hasTable = db.prepare(`SELECT 1 FROM sqlite_master WHERE name = 'example_vectors'`).get();
    // the same table as migration 004 (scoring's), in case this tree does not register it yet
    if (!hasTable) db.exec('CREATE TABLE example_vectors (run_id INTEGER NOT NULL, example_id INTEGER NOT NULL, signal TEXT NOT NULL, dim INTEGER NOT NULL, vector BLOB NOT NULL, PRIMARY KEY (run_id, example_id, signal))');
    const none = await call('examples.map', { datasetId });
    expect(none.message).toMatch(/embedding/);
    const run = Number(db.prepare(`INSERT INTO score_runs (model_id, dataset_id, signals_json, params_json, status, created_at) VALUES (NULL, ?, '[]', '{}', 'done', datetime('now'))`).run(datasetId).lastInsertRowid);
    const put = db.prepare('INSERT INTO example_vectors (run_id, example_id, signal, dim, vector) VALUES (?, ?, ?, ?, ?)');
    ids.forEach((id, i) => put.run(run, id, 'embedding', 3, toBlob(Float32Array.from([i, 2 * i, 0.5]))));
    const m = await call('examples.map', { datasetId, signal: 'mean_loss' });
    expect(m.message).toBeNull();
    expect(m.ids).toHaveLength(50);
    expect(m.points).toHaveLength(100);
    expect(m.values[0]).toBeNull();
    expect(m.values[10]).toBe(10);
    expect(m.explained[0]).toBeGreaterThan(0.99);
  });

  it('valuesOnly sends a colour column without the points, keyed to the layout they belong to', async () => {
    const full = await call('examples.map', { datasetId, signal: 'ifd' });
    const only = await call('examples.map', { datasetId, signal: 'mean_loss', valuesOnly: true });
    expect(only.points).toEqual([]);
    expect(only.ids).toEqual([]);
    expect(only.layoutKey).toBe(full.layoutKey);
    // the values line up with the full call's ids: mean_loss = row index, none for row 0
    const rowOf = new Map(ids.map((id, i) => [id, i]));
    expect(only.values).toEqual(full.ids.map((id) => (rowOf.get(id) === 0 ? null : rowOf.get(id))));
    expect(full.values).toEqual(full.ids.map((id) => rowOf.get(id)! / 25));
    // new embeddings are other points: the key changes, so values made for the old points are not used on them
    const db = service.current().db;
    const run = Number(db.prepare(`INSERT INTO score_runs (model_id, dataset_id, signals_json, params_json, status, created_at) VALUES (NULL, ?, '[]', '{}', 'done', datetime('now'))`).run(datasetId).lastInsertRowid);
    const put = db.prepare('INSERT INTO example_vectors (run_id, example_id, signal, dim, vector) VALUES (?, ?, ?, ?, ?)');
    ids.slice(0, 40).forEach((id, i) => put.run(run, id, 'embedding', 3, toBlob(Float32Array.from([-i, i % 3, 1]))));
    const after = await call('examples.map', { datasetId, signal: 'mean_loss', valuesOnly: true });
    expect(after.layoutKey).not.toBe(full.layoutKey);
    expect(after.values).toHaveLength(50);
    // a row with no signal row at all gets null; its neighbours keep theirs
    db.prepare('DELETE FROM example_signals WHERE example_id = ?').run(ids[5]);
    const gap = await call('examples.map', { datasetId, signal: 'mean_loss', valuesOnly: true });
    const layout = await call('examples.map', { datasetId });
    expect(gap.values).toEqual(layout.ids.map((id) => (id === ids[5] || rowOf.get(id) === 0 ? null : rowOf.get(id))));
  });
});
