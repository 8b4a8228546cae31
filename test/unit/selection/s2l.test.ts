/**
 * S2L (issue #19): a real training run on a tiny Llama records every example's loss at each checkpoint, and the last
 * step's losses equal a direct float64 computation from the tuned model's logits (mean of −log softmax over the
 * response tokens, written here). The sampling rule is checked on hand-counted cluster sizes, and the whole rule on
 * trajectories with three well-separated shapes (so any correct K-means finds the three groups): each group gets the
 * count S2L's rule gives it, the same seed gives the same rows, and a run without trajectories is a clear error.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../main/engine/compute/backend';
import { getRender } from '../../../main/engine/db/renders';
import { forward, loadModel, disposeModel } from '../../../main/engine/models';
import { s2lSample } from '../../../main/engine/selection/s2l';
import { writeTinyModel } from '../models/tiny';
import { TestProject, gsm8kRows, logSoftmax64, logitsOf } from '../scoring/helpers';

beforeAll(async () => {
  await initBackend();
});

const TINY_LLAMA = {
  model_type: 'llama', architectures: ['LlamaForCausalLM'], vocab_size: 512, hidden_size: 16, intermediate_size: 24,
  num_hidden_layers: 2, num_attention_heads: 2, num_key_value_heads: 1, max_position_embeddings: 512, rms_norm_eps: 1e-5,
  rope_theta: 10000, tie_word_embeddings: false, bos_token_id: 1, eos_token_id: 2,
};

describe('S2L sampling rule (s2lSample)', () => {
  it('goes smallest cluster first, takes a small cluster whole and gives each the even share of what is left', () => {
    // sizes: cluster 0 → 20, 1 → 1, 2 → 10, 3 → 3; budget 12
    const assign = [...Array(20).fill(0), 1, ...Array(10).fill(2), ...Array(3).fill(3)];
    const picked = s2lSample(assign, 4, 12, 5);
    const per = [0, 0, 0, 0];
    for (const i of picked) per[assign[i]!]!++;
    // by hand: ⌊12/4⌋ = 3 ≥ 1 → all 1 (11 left); ⌊11/3⌋ = 3 ≥ 3 → all 3 (8 left); ⌊8/2⌋ = 4 of 10; ⌊4/1⌋ = 4 of 20
    expect(per).toEqual([4, 1, 4, 3]);
    expect(new Set(picked).size).toBe(12);
    expect(s2lSample(assign, 4, 12, 5)).toEqual(picked);
    // a budget over the row count takes every row
    expect(s2lSample(assign, 4, 100, 0).sort((a, b) => a - b)).toEqual(assign.map((_, i) => i));
  });
});

describe('S2L through a training run and the subset rule', () => {
  let proj: TestProject;
  let modelId = 0;
  let datasetId = 0;

  beforeAll(async () => {
    proj = new TestProject('s2l');
    modelId = await proj.addModel(writeTinyModel(TINY_LLAMA, 43));
    datasetId = await proj.importDataset(gsm8kRows(proj.home, 8));
  });
  afterAll(() => proj?.close());

  it('records a loss per example at every checkpoint; the last equals the tuned model\'s loss computed directly', async () => {
    const { jobId, runId } = await proj.call('train.start', {
      modelId, subsetId: null, datasetId, layers: 'all', steps: 5, batchSize: 2, lr: 0.02, evalFraction: 0.25, evalEvery: 5, checkpointEvery: 2, recordTrajectories: true,
    });
    const job = await proj.finished(jobId);
    const run = proj.db.prepare('SELECT out_dir, render_key_id FROM train_runs WHERE id = ?').get(runId) as { out_dir: string; render_key_id: number };
    // every example the run could train on: rendered under the run's key with a response token
    const trainable = proj.db.prepare('SELECT COUNT(*) FROM renders WHERE render_key_id = ? AND n_label > 0').pluck().get(run.render_key_id) as number;
    expect(trainable).toBeGreaterThanOrEqual(6);
    expect(job.stats.trajectoryExamples).toBe(trainable);
    const rows = proj.db.prepare('SELECT step, example_id, loss FROM loss_trajectories WHERE run_id = ? ORDER BY step, example_id').all(runId) as Array<{ step: number; example_id: number; loss: number }>;
    // checkpoints at steps 2 and 4, and the last step 5; every trainable row of the dataset (train and eval) at each
    expect([...new Set(rows.map((r) => r.step))]).toEqual([2, 4, 5]);
    expect(rows.filter((r) => r.step === 5)).toHaveLength(trainable);
    expect(rows.filter((r) => r.step === 2)).toHaveLength(trainable);
    // the losses move between checkpoints (the model trains)
    expect(rows.filter((r) => r.step === 2).some((r, i) => Math.abs(r.loss - rows.filter((x) => x.step === 5)[i]!.loss) > 1e-4)).toBe(true);

    const tuned = await loadModel(run.out_dir);
    try {
      for (const r of rows.filter((x) => x.step === 5)) {
        const rend = getRender(proj.db, r.example_id, run.render_key_id)!;
        const logits = logitsOf((ids) => forward(tuned.config, tuned.weights, ids), rend.tokenIds);
        let sum = 0;
        let n = 0;
        for (let t = 1; t < rend.tokenIds.length; t++) {
          if (!rend.labelMask[t]) continue;
          sum -= logSoftmax64(logits[t - 1]!)[rend.tokenIds[t]!]!;
          n++;
        }
        expect(Math.abs(r.loss - sum / n), `example ${r.example_id}`).toBeLessThan(1e-4);
      }
    } finally {
      disposeModel(tuned);
    }
    // a run without trajectories: the rule says what to do
    const plain = await proj.call('train.start', { modelId, subsetId: null, datasetId, layers: 'last:1', steps: 1, batchSize: 2 });
    await proj.finished(plain.jobId);
    const r = await proj.service.call('subsets.create', { name: 'no-traj', rule: { kind: 's2l', runId: plain.runId, count: 2, clusters: 1, seed: 0 } });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.message).toMatch(/recorded no loss trajectories.*recordTrajectories/);
  });

  it('clusters trajectories and spreads the budget over the clusters, seeded', async () => {
    // a stand-in run whose trajectories fall into three shapes: 2 rows falling fast, 2 flat high, 4 flat low
    const runId = Number(proj.db.prepare(`INSERT INTO train_runs (model_id, config_json, status, created_at) VALUES (?, '{}', 'done', datetime('now'))`).run(modelId).lastInsertRowid);
    const ids = proj.db.prepare('SELECT id FROM examples WHERE dataset_id = ? ORDER BY id').pluck().all(datasetId) as number[];
    const group = (i: number) => (i < 2 ? 0 : i < 4 ? 1 : 2);
    const shape = [[4, 2, 0.5], [5, 5, 5], [1, 1, 1]];
    const ins = proj.db.prepare('INSERT INTO loss_trajectories (run_id, step, example_id, loss) VALUES (?, ?, ?, ?)');
    ids.forEach((e, i) => shape[group(i)]!.forEach((l, s) => ins.run(runId, (s + 1) * 10, e, l + 0.01 * i)));
    const make = async (name: string, seed: number) => proj.call('subsets.create', { name, datasetId, rule: { kind: 's2l', runId, count: 5, clusters: 3, seed } });
    const a = await make('s2l-a', 1);
    const members = (id: number) => proj.db.prepare('SELECT example_id FROM subset_members WHERE subset_id = ? ORDER BY example_id').pluck().all(id) as number[];
    const got = members(a.id);
    const per = [0, 0, 0];
    for (const e of got) per[group(ids.indexOf(e))]!++;
    // ascending sizes 2, 2, 4 with budget 5: ⌊5/3⌋ = 1 of the first 2, ⌊4/2⌋ = 2 of the next 2 (whole), 2 of the 4
    // — which of the two 2-row groups comes first is the cluster index order, so count by sorted size
    expect(per.slice().sort()).toEqual([1, 2, 2]);
    expect(per[2]).toBe(2);
    expect(a.size).toBe(5);
    expect(a.rule).toMatchObject({ kind: 's2l', checkpoints: [10, 20, 30], candidates: 8 });
    expect((a.rule as { clusterSizes: number[] }).clusterSizes.slice().sort()).toEqual([2, 2, 4]);
    // same seed, same rows
    expect(members((await make('s2l-b', 1)).id)).toEqual(got);
    // more clusters than rows is refused, naming the field
    const bad = await proj.service.call('subsets.create', { name: 'too-many', rule: { kind: 's2l', runId, count: 2, clusters: 9, seed: 0 } });
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.error.message).toMatch(/"clusters" is 9, more than the 8/);
  });
});
