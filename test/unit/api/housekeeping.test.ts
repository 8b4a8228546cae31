/**
 * Housekeeping on a real project (SQLite file, the bundled stories260K, real GSM8K rows, real scoring jobs): scoring a
 * subset or a seeded sample, the dependency report a deletion shows, the deletion itself (exactly what was named,
 * in one transaction), renames that keep unique names unique, and clearing finished jobs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EngineService } from '../../../main/engine/api/service';
import { InProcessExecutor } from '../../../main/engine/jobs/runners';
import { createTrainRun } from '../../../main/engine/api/train-runs';
import { sampleIds } from '../../../main/engine/scoring/rows';
import { TrainConfigSchema, type ApiInput, type ApiName, type ApiOutputs, type DependencyReport } from '../../../preload/contract';
import { serviceCalls } from '../../support/engine';

/** 50 short rows, written by the test: scoring them on CPU takes seconds */
const ROWS = 50;
let fixture = '';

let home: string;
let service: EngineService;
let dsA = 0;
let dsB = 0;
let modelId = 0;

const { call } = serviceCalls(() => service);

async function fails<N extends ApiName>(name: N, input: ApiInput<N>): Promise<{ code: string; message: string }> {
  const r = await service.call(name, input);
  if (r.ok) throw new Error(`${name} succeeded, expected an error`);
  return r.error;
}

async function importFixture(name: string): Promise<number> {
  const { jobId } = await call('datasets.import', { path: fixture, name });
  await service.whenIdle();
  const job = (await call('jobs.list', {})).find((j) => j.jobId === jobId)!;
  expect(job.status).toBe('done');
  return Number(job.stats.datasetId);
}

async function score(input: Omit<ApiInput<'scoring.start'>, 'modelId' | 'signals'>): Promise<{ runId: number; plan: ApiOutputs['scoring.start']['plan'] }> {
  const { jobId, plan } = await call('scoring.start', { modelId, signals: ['token_loss', 'mean_loss'], maxTokens: 64, ...input });
  await service.whenIdle();
  const job = (await call('jobs.list', {})).find((j) => j.jobId === jobId)!;
  expect(job.status, job.error?.message).toBe('done');
  return { runId: Number(job.stats.runId), plan };
}

const db = () => service.current().db;
const count = (sql: string, ...args: unknown[]) => db().prepare(sql).pluck().get(...args) as number;
const exampleIds = (datasetId: number) => db().prepare('SELECT id FROM examples WHERE dataset_id = ? ORDER BY row_index').pluck().all(datasetId) as number[];
const meanLoss = (runId: number) =>
  new Map((db().prepare(`SELECT example_id, value FROM example_scores WHERE run_id = ? AND signal = 'mean_loss'`).all(runId) as Array<{ example_id: number; value: number }>)
    .map((r) => [r.example_id, r.value]));

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'winnow-housekeeping-'));
  fixture = join(home, 'short.jsonl');
  const words = ['cat', 'dog', 'sun', 'tree', 'boat', 'bird', 'fish'];
  writeFileSync(fixture, Array.from({ length: ROWS }, (_, i) =>
    JSON.stringify({ prompt: `Say ${words[i % 7]} ${i}.`, completion: `${words[(i * 3) % 7]} ${i} ${words[(i + 2) % 7]}.` })).join('\n') + '\n');
  service = new EngineService({ projectsDir: home, mode: 'browser', executor: new InProcessExecutor() });
  service.open('housekeeping');
  await service.whenIdle();
  modelId = (await call('project.open', {})).models[0]!.id;
  dsA = await importFixture('alpha');
  dsB = await importFixture('beta');
}, 120_000);

afterAll(() => {
  service.close();
  rmSync(home, { recursive: true, force: true });
});

describe('scoring a subset or a sample', () => {
  it('scores only the subset\'s rows or the seeded sample, with the same values as scoring every row, and says which rows', async () => {
    const full = await score({ datasetId: dsA });
    const all = meanLoss(full.runId);
    expect(all.size).toBe(ROWS);

    const ids = exampleIds(dsA);
    const target = await call('subsets.create', { name: 'target', rule: { kind: 'ids', ids: [ids[3]!, ids[10]!, ids[20]!, ids[31]!, ids[49]!] } });
    const sub = await score({ datasetId: dsA, rows: { kind: 'subset', subsetId: target.id } });
    expect(sub.plan.examples).toBe(5);
    expect(sub.plan.rows).toBe("subset 'target' (5 rows)");
    const subValues = meanLoss(sub.runId);
    expect([...subValues.keys()].sort((a, b) => a - b)).toEqual([ids[3], ids[10], ids[20], ids[31], ids[49]]);
    for (const [id, v] of subValues) expect(v).toBeCloseTo(all.get(id)!, 5);

    const smp = await score({ datasetId: dsA, rows: { kind: 'sample', n: 7, seed: 3 } });
    expect(smp.plan.rows).toBe('random 7, seed 3');
    expect(smp.plan.examples).toBe(7);
    const smpValues = meanLoss(smp.runId);
    const want = sampleIds(db(), 7, 3, dsA);
    expect([...smpValues.keys()].sort((a, b) => a - b)).toEqual(want);
    for (const [id, v] of smpValues) expect(v).toBeCloseTo(all.get(id)!, 5);
    // the same rows a random subset rule with that n and seed picks
    const random = await call('subsets.create', { name: 'random7', rule: { kind: 'random', count: 7, seed: 3 }, datasetId: dsA });
    expect(count('SELECT COUNT(*) FROM subset_members WHERE subset_id = ? AND example_id IN (SELECT value FROM json_each(?))', random.id, JSON.stringify(want))).toBe(7);

    // the runs list names the rows each run covered, by the subset's current name
    await call('items.rename', { kind: 'subset', id: target.id, newName: 'target-renamed' });
    const runs = await call('scoring.runs', {});
    expect(runs.find((r) => r.id === sub.runId)!.rowsText).toBe("subset 'target-renamed' (5 rows)");
    expect(runs.find((r) => r.id === smp.runId)!.rowsText).toBe('random 7, seed 3');
    expect(runs.find((r) => r.id === full.runId)!.rowsText).toBe('all rows (50 rows)');
    expect(runs.find((r) => r.id === full.runId)!.datasetName).toBe('alpha');
  }, 300_000);

  it('refuses an empty scope, naming the subset, and starts nothing', async () => {
    const idsB = exampleIds(dsB);
    const onlyB = await call('subsets.create', { name: 'b-rows', rule: { kind: 'ids', ids: idsB.slice(0, 3) } });
    const jobs = (await call('jobs.list', {})).length;
    const err = await fails('scoring.start', { modelId, signals: ['mean_loss'], datasetId: dsA, rows: { kind: 'subset', subsetId: onlyB.id } });
    expect(err.code).toBe('bad_input');
    expect(err.message).toBe('rows: subset "b-rows" has no row in dataset "alpha": nothing to score');
    expect((await call('jobs.list', {})).length).toBe(jobs);
    await call('items.delete', { kind: 'subset', id: onlyB.id, token: (await call('items.dependents', { kind: 'subset', id: onlyB.id })).token });
  });
});

describe('deleting a dataset', () => {
  let report: DependencyReport;
  let runAll = 0;
  let mixed = 0;
  let onlyA = 0;
  let onlyB = 0;
  let trainRun = 0;

  beforeAll(async () => {
    // a run over every dataset, subsets inside A, inside B and across both, a hand-edited mask, a train run on A
    runAll = (await score({})).runId;
    const a = exampleIds(dsA);
    const b = exampleIds(dsB);
    onlyA = (await call('subsets.create', { name: 'only-a', rule: { kind: 'ids', ids: a.slice(0, 4) } })).id;
    onlyB = (await call('subsets.create', { name: 'only-b', rule: { kind: 'ids', ids: b.slice(0, 4) } })).id;
    mixed = (await call('subsets.create', { name: 'mixed', rule: { kind: 'ids', ids: [...a.slice(5, 8), ...b.slice(5, 7)] } })).id;
    const detail = await call('examples.get', { exampleId: a[0]! });
    await call('tokenMasks.save', { exampleId: a[0]!, name: 'edited', mask: detail.tokens.map((t) => (t.label ? 1 : 0)) });
    trainRun = createTrainRun(db(), TrainConfigSchema.parse({ modelId, subsetId: onlyA, datasetId: dsA, layers: 'all', steps: 2 }));
  }, 300_000);

  it('reports what goes with it and what stays referring to it', async () => {
    report = await call('items.dependents', { kind: 'dataset', id: dsA });
    expect(report.name).toBe('alpha');
    expect(report.blockedBy).toBeNull();
    const del = Object.fromEntries(report.deletes.map((l) => [l.what, l]));
    const keep = Object.fromEntries(report.keeps.map((l) => [l.what, l]));
    expect(del.rows!.count).toBe(50);
    // the runs over dataset A alone: full, subset and sample
    expect(del['score runs']!.count).toBe(3);
    expect(del['score runs']!.names.some((n) => n.includes("subset 'target-renamed'"))).toBe(true);
    expect(del['score runs']!.names.some((n) => n.includes('random 7, seed 3'))).toBe(true);
    expect(del.subsets!.names).toEqual(['"target-renamed" (5 rows, all in this dataset)', '"random7" (7 rows, all in this dataset)', '"only-a" (4 rows, all in this dataset)']);
    expect(del['token masks']!.names).toEqual(['"edited" on 1 row']);
    expect(keep["score runs losing these rows' values"]!.names).toEqual([expect.stringContaining(`score run #${runAll} `)]);
    expect(keep['subsets losing rows (marked stale)']!.names).toEqual(['"mixed" loses 3 of 5 rows']);
    expect(keep['train runs that used it (kept, with their models and files)']!.names).toEqual([`train run #${trainRun} (queued)`]);
  });

  it('a failed deletion changes nothing: a stale report, and a failure in the last statement', async () => {
    const before = snapshot();
    // the project changed after the report was shown: refused, nothing deleted
    const extra = await call('subsets.create', { name: 'late', rule: { kind: 'ids', ids: exampleIds(dsA).slice(40, 42) } });
    const stale = await fails('items.delete', { kind: 'dataset', id: dsA, token: report.token });
    expect(stale.code).toBe('conflict');
    expect(stale.message).toContain('nothing was deleted');
    await call('items.delete', { kind: 'subset', id: extra.id, token: (await call('items.dependents', { kind: 'subset', id: extra.id })).token });
    expect(snapshot()).toEqual(before);
    // the dataset row's own delete fails after the subsets, runs and scores were deleted: all of it rolls back
    db().exec(`CREATE TRIGGER refuse_dataset_delete BEFORE DELETE ON datasets BEGIN SELECT RAISE(ABORT, 'disk says no'); END`);
    try {
      const fresh = await call('items.dependents', { kind: 'dataset', id: dsA });
      expect(fresh.token).toBe(report.token);
      const err = await fails('items.delete', { kind: 'dataset', id: dsA, token: fresh.token });
      expect(err.message).toContain('disk says no');
    } finally {
      db().exec('DROP TRIGGER refuse_dataset_delete');
    }
    expect(snapshot()).toEqual(before);
  });

  it('deletes exactly what the report named, in one go', async () => {
    const keptB = exampleIds(dsB);
    const bScores = count(`SELECT COUNT(*) FROM example_scores WHERE run_id = ? AND example_id IN (SELECT id FROM examples WHERE dataset_id = ?)`, runAll, dsB);
    expect(bScores).toBeGreaterThan(0);
    const models = count('SELECT COUNT(*) FROM models');
    const done = await call('items.delete', { kind: 'dataset', id: dsA, token: report.token });
    expect(done.deletes).toEqual(report.deletes);

    expect(count('SELECT COUNT(*) FROM datasets WHERE id = ?', dsA)).toBe(0);
    expect(count('SELECT COUNT(*) FROM examples WHERE dataset_id = ?', dsA)).toBe(0);
    expect(count('SELECT COUNT(*) FROM score_runs WHERE dataset_id = ?', dsA)).toBe(0);
    expect(count('SELECT COUNT(*) FROM token_masks')).toBe(0);
    expect((await call('subsets.list', {})).map((s) => s.name).sort()).toEqual(['mixed', 'only-b']);
    // what was only named as kept is all there
    expect(exampleIds(dsB)).toEqual(keptB);
    expect(count('SELECT COUNT(*) FROM score_runs WHERE id = ?', runAll)).toBe(1);
    expect(count(`SELECT COUNT(*) FROM example_scores WHERE run_id = ?`, runAll)).toBe(bScores);
    expect(count('SELECT COUNT(*) FROM example_signals WHERE example_id IN (SELECT id FROM examples WHERE dataset_id = ?) AND mean_loss IS NOT NULL', dsB)).toBe(50);
    const m = (await call('subsets.list', {})).find((s) => s.id === mixed)!;
    expect(m.size).toBe(2);
    expect(count('SELECT COUNT(*) FROM subset_members WHERE subset_id = ?', mixed)).toBe(2);
    expect(m.staleReason).toBe('dataset "alpha" was deleted: 3 of its rows went with it');
    expect(count('SELECT COUNT(*) FROM subset_members WHERE subset_id = ?', onlyB)).toBe(4);
    expect(count('SELECT COUNT(*) FROM train_runs WHERE id = ?', trainRun)).toBe(1);
    expect(count('SELECT COUNT(*) FROM models')).toBe(models);
    expect((await call('project.open', {})).datasets.map((d) => d.name)).toEqual(['beta']);
  });
});

describe('other deletions and renames', () => {
  it('deleting a score run brings back the earlier run\'s values in the Examples table', async () => {
    const ids = exampleIds(dsB);
    const runs = await call('scoring.runs', {});
    const runAll = runs.find((r) => r.datasetName === 'all datasets')!.id;
    const before = count('SELECT mean_loss FROM example_signals WHERE example_id = ?', ids[0]);
    const again = await score({ datasetId: dsB, rows: { kind: 'sample', n: 3, seed: 1 } });
    const picked = sampleIds(db(), 3, 1, dsB);
    const rep = await call('items.dependents', { kind: 'score_run', id: again.runId });
    expect(rep.keeps[0]!.names).toEqual(['length_tokens', 'mean_loss']);
    await call('items.delete', { kind: 'score_run', id: again.runId, token: rep.token });
    for (const id of picked) {
      expect(count('SELECT mean_loss FROM example_signals WHERE example_id = ?', id)).toBe(count(`SELECT value FROM example_scores WHERE run_id = ? AND example_id = ? AND signal = 'mean_loss'`, runAll, id));
    }
    expect(count('SELECT mean_loss FROM example_signals WHERE example_id = ?', ids[0])).toBe(before);
    expect(count('SELECT COUNT(*) FROM example_scores WHERE run_id = ?', again.runId)).toBe(0);
  }, 120_000);

  it('a rename to a name in use is refused by name and changes nothing; names not unique today may repeat', async () => {
    const subsets = await call('subsets.list', {});
    const err = await fails('items.rename', { kind: 'subset', id: subsets.find((s) => s.name === 'mixed')!.id, newName: 'only-b' });
    expect(err).toMatchObject({ code: 'conflict', message: 'a subset named "only-b" already exists: choose another name' });
    expect((await call('subsets.list', {})).map((s) => s.name).sort()).toEqual(['mixed', 'only-b']);
    await call('layerMasks.save', { name: 'last', modelId, layers: 'last:1' });
    const lm2 = await call('layerMasks.save', { name: 'all', modelId, layers: 'all' });
    expect((await fails('items.rename', { kind: 'layer_mask', id: lm2.id, newName: 'last' })).message).toBe('a layer mask named "last" already exists: choose another name');
    await call('items.rename', { kind: 'dataset', id: dsB, newName: 'beta v2' });
    expect((await call('project.open', {})).datasets[0]!.name).toBe('beta v2');
    // runs keep their number and get a label, shown in the lists and in every dependency report
    const runAll = (await call('scoring.runs', {})).find((r) => r.datasetName === 'all datasets')!;
    await call('items.rename', { kind: 'score_run', id: runAll.id, newName: 'baseline' });
    expect((await call('scoring.runs', {})).find((r) => r.id === runAll.id)!.label).toBe('baseline');
    expect((await call('items.dependents', { kind: 'score_run', id: runAll.id })).name).toBe(`score run #${runAll.id} "baseline" (token_loss, mean_loss)`);
    expect((await fails('items.rename', { kind: 'train_run', id: 999, newName: 'x' })).code).toBe('not_found');
  });

  it('token masks are renamed and deleted by name, every row at once', async () => {
    const [b0, b1] = exampleIds(dsB);
    for (const [exampleId, name] of [[b0!, 'edited'], [b1!, 'edited'], [b0!, 'strict']] as const) {
      const detail = await call('examples.get', { exampleId });
      await call('tokenMasks.save', { exampleId, name, mask: detail.tokens.map((t) => (t.label ? 1 : 0)) });
    }
    expect(await call('tokenMasks.names', {})).toEqual([{ name: 'edited', rows: 2 }, { name: 'strict', rows: 1 }]);
    expect((await fails('items.rename', { kind: 'token_mask', name: 'edited', newName: 'strict' })).message).toBe('token masks named "strict" already exist: choose another name');
    await call('items.rename', { kind: 'token_mask', name: 'edited', newName: 'hand' });
    const rep = await call('items.dependents', { kind: 'token_mask', name: 'hand' });
    expect(rep.deletes).toEqual([{ what: 'token masks', count: 2, names: ['"hand" on 2 rows (the rows go back to their label mask)'] }]);
    await call('items.delete', { kind: 'token_mask', name: 'hand', token: rep.token });
    expect(await call('tokenMasks.names', {})).toEqual([{ name: 'strict', rows: 1 }]);
  });

  it('deleting a model removes its registration and masks, never its folder, and keeps its runs', async () => {
    const m = (await call('project.open', {})).models[0]!;
    const rep = await call('items.dependents', { kind: 'model', id: m.id });
    expect(rep.deletes.map((l) => l.what)).toEqual(['model registration', 'layer masks of this model']);
    expect(rep.deletes[1]!.names).toEqual(['"last"', '"all"']);
    const runs = count('SELECT COUNT(*) FROM score_runs');
    await call('items.delete', { kind: 'model', id: m.id, token: rep.token });
    expect((await call('project.open', {})).models).toEqual([]);
    expect(await call('layerMasks.list', {})).toEqual([]);
    expect(count('SELECT COUNT(*) FROM score_runs')).toBe(runs);
    expect(existsSync(join(m.path, 'config.json'))).toBe(true);
  });

  it('clears finished and failed jobs from the list, keeping what they made', async () => {
    const jobs = await call('jobs.list', {});
    expect(jobs.length).toBeGreaterThan(0);
    const runs = count('SELECT COUNT(*) FROM score_runs');
    const { cleared } = await call('jobs.clear', {});
    expect(cleared).toBe(jobs.filter((j) => ['done', 'failed', 'cancelled'].includes(j.status)).length);
    expect(await call('jobs.list', {})).toEqual([]);
    expect(count('SELECT COUNT(*) FROM score_runs')).toBe(runs);
  });
});

function snapshot(): Record<string, number> {
  const tables = ['datasets', 'examples', 'renders', 'score_runs', 'example_scores', 'token_scores', 'example_signals', 'subsets', 'subset_members', 'token_masks', 'train_runs', 'layer_scores'];
  const out: Record<string, number> = {};
  for (const t of tables) out[t] = count(`SELECT COUNT(*) FROM ${t}`);
  out.staleSubsets = count('SELECT COUNT(*) FROM subsets WHERE stale_reason IS NOT NULL');
  out.subsetSizes = count('SELECT COALESCE(SUM(size), 0) FROM subsets');
  return out;
}
