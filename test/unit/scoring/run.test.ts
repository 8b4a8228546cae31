/**
 * The scoring job as a whole: a cancelled run resumes from its cursor with every example scored exactly once (all of
 * a batch's signals land together), and the plan lists the passes as they are with an estimate from measured
 * throughput.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend } from '../../../main/engine/compute/backend';
import { planScoring, IMPLEMENTED_SIGNALS, BACKWARD_COST, scopeTokens } from '../../../main/engine/scoring/plan';
import { SIGNALS } from '../../../preload/contract';
import { tmpDir } from '../models/tiny';
import { STORIES, TestProject, gsm8kRows } from './helpers';

const ROWS = 20;
let proj: TestProject;
let modelId = 0;
let refModelId = 0;
let datasetId = 0;

beforeAll(async () => {
  await initBackend();
  proj = new TestProject();
  modelId = (await proj.call('project.open', {})).models[0]!.id;
  const copy = join(tmpDir('run-ref'), 'stories-ref');
  cpSync(STORIES, copy, { recursive: true });
  refModelId = await proj.addModel(copy);
  datasetId = await proj.importDataset(gsm8kRows(proj.home, ROWS));
});

afterAll(() => proj?.close());

describe('scoring job', () => {
  it('a cancelled run resumes at its cursor: every example once, every signal of a batch together', async () => {
    const signals = ['token_loss', 'mean_loss', 'excess_loss', 'learnability', 'ifd', 'embedding'];
    const jobId = 'resume-me';
    let batches = 0;
    await expect(
      proj.score({ modelId, datasetId, refModelId, signals, batchSize: 4 }, { jobId, progress: (p) => void (p.total > 0 && batches++), isCancelled: () => batches >= 2 }),
    ).rejects.toThrow('cancelled');
    const count = (table: string, signal: string) =>
      proj.db.prepare(`SELECT COUNT(*) AS n, COUNT(DISTINCT example_id) AS d FROM ${table} WHERE signal = ?`).get(signal) as { n: number; d: number };
    const before = count('example_scores', 'length_tokens').n;
    expect(before).toBe(8);
    for (const [table, s] of [['token_scores', 'token_loss'], ['token_scores', 'excess_loss'], ['example_scores', 'ifd'], ['example_vectors', 'embedding']] as const) {
      expect(count(table, s).n, s).toBe(before);
    }
    expect(proj.db.prepare(`SELECT status, cursor FROM score_runs WHERE job_id = ?`).get(jobId)).toEqual({ status: 'cancelled', cursor: 8 });

    await proj.score({ modelId, datasetId, refModelId, signals, batchSize: 4 }, { jobId });
    for (const [table, s] of [['example_scores', 'length_tokens'], ['token_scores', 'token_loss'], ['token_scores', 'excess_loss'], ['example_scores', 'learnability'], ['example_vectors', 'embedding']] as const) {
      expect(count(table, s), s).toEqual({ n: ROWS, d: ROWS });
    }
    expect(proj.db.prepare(`SELECT status, cursor, total FROM score_runs WHERE job_id = ?`).get(jobId)).toEqual({ status: 'done', cursor: ROWS, total: ROWS });
  });

  it('the plan lists each pass once and estimates from the measured throughput', () => {
    const plan = planScoring(proj.db, { signals: ['token_loss', 'embedding', 'excess_loss', 'learnability', 'ifd', 'fim', 'layer_grad_norm'], datasetId, refModelId, fimExamples: 10 });
    expect(plan.passes.map(({ model, kind, signals }) => ({ model, kind, signals }))).toEqual([
      { model: 'model', kind: 'forward', signals: ['token_loss', 'embedding'] },
      { model: 'reference', kind: 'forward', signals: ['excess_loss', 'learnability'] },
      { model: 'model', kind: 'forward_answer_only', signals: ['ifd'] },
      { model: 'model', kind: 'backward', signals: ['fim', 'layer_grad_norm'] },
    ]);
    expect(plan.passes.map((p) => p.examples)).toEqual([ROWS, ROWS, ROWS, 10]);
    expect(plan.examples).toBe(ROWS);
    const eps = Number(proj.db.prepare(`SELECT value FROM project_meta WHERE key = 'score_examples_per_sec'`).pluck().get());
    expect(eps).toBeGreaterThan(0);
    // no backward pass measured in this project yet: BACKWARD_COST forward passes each
    expect(proj.db.prepare(`SELECT value FROM project_meta WHERE key = 'score_backward_examples_per_sec'`).pluck().get()).toBeUndefined();
    // forward passes from tokens: the rows' tokens (rendered by the run, so their tokens per character is exact here)
    // at the run's tokens/s; the backward pass, not measured, at BACKWARD_COST forward passes per example
    const tps = Number(proj.db.prepare(`SELECT value FROM project_meta WHERE key = 'score_tokens_per_sec'`).pluck().get());
    expect(tps).toBeGreaterThan(eps);
    const tokens = scopeTokens(proj.db, undefined, datasetId);
    const rendered = proj.db.prepare('SELECT SUM(r.n_tokens) FROM renders r JOIN examples e ON e.id = r.example_id WHERE e.dataset_id = ?').pluck().get(datasetId) as number;
    expect(tokens).toBeCloseTo(rendered, 6);
    expect(plan.passes[0]!.estimatedSeconds!).toBeCloseTo(tokens / tps, 6);
    expect(plan.estimatedSeconds!).toBeCloseTo((3 * tokens) / tps + (BACKWARD_COST * 10) / eps, 6);
    expect(plan.passes.reduce((a, p) => a + p.estimatedSeconds!, 0)).toBeCloseTo(plan.estimatedSeconds!, 9);
    expect(() => planScoring(proj.db, { signals: ['excess_loss'] })).toThrow(/refModelId/);
    expect(() => planScoring(proj.db, { signals: ['sstoken'] })).toThrow(/history model, the EARLIER one.*historyModelId/);
    // a reference model is not sstoken's history model: the roles are named, not guessed
    expect(() => planScoring(proj.db, { signals: ['sstoken'], refModelId })).toThrow(/historyModelId/);
  });

  it('the P2 passes: rifd adds two forward passes, sstoken the history model, per-example gradients cover the scope plus the target set', () => {
    const outside = proj.db.prepare('SELECT id FROM examples WHERE dataset_id != ? LIMIT 1').pluck().get(datasetId) as number | undefined;
    const inside = proj.db.prepare('SELECT id FROM examples WHERE dataset_id = ? ORDER BY id LIMIT 3').pluck().all(datasetId) as number[];
    const target = proj.db.prepare(`INSERT INTO subsets (name, rule_json, size, created_at) VALUES ('plan-target', '{"kind":"ids"}', 0, datetime('now'))`).run().lastInsertRowid;
    for (const id of outside === undefined ? inside : [...inside, outside]) proj.db.prepare('INSERT INTO subset_members (subset_id, example_id) VALUES (?, ?)').run(target, id);
    const plan = planScoring(proj.db, { signals: ['rifd', 'sstoken', 'grad_norm', 'grad_sim_base', 'fim'], modelId, datasetId, historyModelId: refModelId, targetSubsetId: Number(target), fimExamples: 5 });
    expect(plan.passes.map(({ model, kind, signals }) => ({ model, kind, signals }))).toEqual([
      { model: 'model', kind: 'forward', signals: ['sstoken'] },
      { model: 'history', kind: 'forward', signals: ['sstoken'] },
      { model: 'model', kind: 'forward_reverse', signals: ['rifd'] },
      { model: 'model', kind: 'forward_instruction_only', signals: ['rifd'] },
      { model: 'model', kind: 'backward', signals: ['grad_norm', 'grad_sim_base', 'fim'] },
    ]);
    // one backward pass per example of the scope, plus target members from other datasets; fim's sample is inside
    expect(plan.passes[4]!.examples).toBe(ROWS + (outside === undefined ? 0 : 1));
    expect(() => planScoring(proj.db, { signals: ['grad_sim_base'], modelId, datasetId })).toThrow(/target/);
  });

  it('every signal of the contract is implemented, the text ones (exact_dup, near_dup) included', () => {
    expect(SIGNALS.filter((s) => !IMPLEMENTED_SIGNALS.has(s))).toEqual([]);
  });
});
