/**
 * The roles of a scoring run's second model. excess_loss and learnability take the LATER model as the reference
 * (ℓ^θ − ℓ^ref: θ the base, ref the model tuned from it); sstoken takes the EARLIER model as its history model
 * (REL = ℓ^his − ℓ^θ: his the base, θ the tuned model — ssToken scripts/finetune.py subtracts the training model's loss
 * from the base model's). Checked here against per-token losses computed in the test:
 *  - a base/tuned pair scored in the right roles gives sstoken (γ = 1) = min-max of excess_loss over the response;
 *    the pair given to sstoken the other way round gives the opposite order (1 − that);
 *  - a pair in the wrong roles is refused when the project knows one model was trained from the other (a train run's
 *    output, a changed-tensors folder naming its base), as is one model given both roles and an sstoken request
 *    that names only a reference model.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { initBackend } from '../../../main/engine/compute/backend';
import { loadModel, forward, type LoadedModel } from '../../../main/engine/models';
import { blobToFloat32, getRender } from '../../../main/engine/db';
import { assertModelRoles, modelAncestors } from '../../../main/engine/scoring/passes/reference';
import { DELTA_FILE, DELTA_FORMAT } from '../../../main/engine/models/delta';
import { writeTinyModel, TINY_GPT2 } from '../models/tiny';
import { TestProject, logSoftmax64, logitsOf } from './helpers';

let proj: TestProject;
let base: LoadedModel;
let tuned: LoadedModel;
let baseId = 0;
let tunedId = 0;
let datasetId = 0;

beforeAll(async () => {
  await initBackend();
  proj = new TestProject('roles');
  const baseDir = writeTinyModel(TINY_GPT2, 31);
  const tunedDir = writeTinyModel(TINY_GPT2, 32);
  base = await loadModel(baseDir);
  tuned = await loadModel(tunedDir);
  baseId = await proj.addModel(baseDir);
  tunedId = await proj.addModel(tunedDir);
  const rows = ['the cat sat on the mat', 'a dog ran in the park', 'birds sing in the morning', 'rain fell on the roof'].map((q, i, all) => ({ question: q, answer: all[(i + 1) % all.length]! }));
  const file = join(proj.home, 'roles.jsonl');
  writeFileSync(file, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  datasetId = await proj.importDataset(file);
});

afterAll(() => proj?.close());

const tokens = (runId: number, id: number, signal: string) =>
  blobToFloat32(proj.db.prepare('SELECT "values" FROM token_scores WHERE run_id = ? AND example_id = ? AND signal = ?').pluck().get(runId, id, signal) as Buffer);

/** ℓ_t under a model, in float64, from its logits (position 0: NaN) */
function losses(m: LoadedModel, ids: Int32Array): number[] {
  const lg = logitsOf((x) => forward(m.config, m.weights, x), ids);
  return Array.from(ids, (tok, t) => (t === 0 ? NaN : -logSoftmax64(lg[t - 1]!)[tok]!));
}

describe('second-model roles', () => {
  it('excess_loss (base, later reference) and sstoken (tuned, earlier history) agree; sstoken with the pair swapped reverses the order', async () => {
    const excessRun = await proj.score({ modelId: baseId, refModelId: tunedId, datasetId, signals: ['excess_loss'] });
    const ssRun = await proj.score({ modelId: tunedId, historyModelId: baseId, datasetId, signals: ['sstoken'], sstokenGamma: 1 });
    const swappedRun = await proj.score({ modelId: baseId, historyModelId: tunedId, datasetId, signals: ['sstoken'], sstokenGamma: 1 });
    const ids = proj.db.prepare('SELECT id FROM examples WHERE dataset_id = ?').pluck().all(datasetId) as number[];
    let checked = 0;
    for (const id of ids) {
      const r = getRender(proj.db, id, proj.renderKey(base.tokenizer))!;
      const lb = losses(base, r.tokenIds);
      const lt = losses(tuned, r.tokenIds);
      const resp = Array.from(r.labelMask.keys()).filter((t) => t > 0 && r.labelMask[t] === 1);
      // excess_loss_t = ℓ^base − ℓ^tuned, and REL_t = ℓ^his − ℓ^θ = the same difference in the right roles
      const rel = resp.map((t) => lb[t]! - lt[t]!);
      const lo = Math.min(...rel);
      const hi = Math.max(...rel);
      const excess = tokens(excessRun, id, 'excess_loss');
      const ss = tokens(ssRun, id, 'sstoken');
      const swapped = tokens(swappedRun, id, 'sstoken');
      resp.forEach((t, i) => {
        expect(excess[t]!, `excess ${id}:${t}`).toBeCloseTo(rel[i]!, 4);
        const norm = (rel[i]! - lo) / (hi - lo + 1e-8);
        expect(ss[t]!, `sstoken ${id}:${t}`).toBeCloseTo(norm, 4);
        // the pair the other way round: REL = −excess_loss, so min-max gives 1 − norm
        expect(swapped[t]!, `swapped ${id}:${t}`).toBeCloseTo(1 - norm, 4);
        checked++;
      });
    }
    expect(checked).toBeGreaterThan(10);
    // the run records which model had which role
    const params = JSON.parse(proj.db.prepare('SELECT params_json FROM score_runs WHERE id = ?').pluck().get(ssRun) as string) as Record<string, unknown>;
    expect(params).toMatchObject({ modelId: tunedId, historyModelId: baseId });
    expect(params.refModelId).toBeUndefined();
  });

  it('refuses a pair in the wrong roles once the project knows the tuned model came from the base (a train run)', async () => {
    // before any train run, nothing says which came first: both orders are accepted by the planner
    expect(modelAncestors(proj.db, tunedId).size).toBe(0);
    const run = proj.db
      .prepare(`INSERT INTO train_runs (model_id, config_json, status, out_dir, created_at, out_model_id) VALUES (?, '{}', 'done', ?, datetime('now'), ?)`)
      .run(baseId, base.dir + '-not-this', tunedId).lastInsertRowid;
    expect(modelAncestors(proj.db, tunedId).get(baseId)).toBe(`train run ${run} started from it`);
    expect(modelAncestors(proj.db, baseId).size).toBe(0);

    const refSwapped = await proj.service.call('scoring.start', { modelId: tunedId, refModelId: baseId, datasetId, signals: ['excess_loss'] });
    expect(refSwapped.ok).toBe(false);
    if (!refSwapped.ok) expect(refSwapped.error.message).toMatch(/roles swapped: the reference model .* is the model .* was trained from \(train run \d+ started from it\).*LATER/);
    const hisSwapped = await proj.service.call('scoring.start', { modelId: baseId, historyModelId: tunedId, datasetId, signals: ['sstoken'] });
    expect(hisSwapped.ok).toBe(false);
    if (!hisSwapped.ok) expect(hisSwapped.error.message).toMatch(/roles swapped: the history model .* was trained from the scored model .*EARLIER/);
    // the job itself refuses too (a job queued through another path)
    await expect(proj.score({ modelId: baseId, historyModelId: tunedId, datasetId, signals: ['sstoken'] })).rejects.toThrow(/roles swapped/);

    // the right roles are accepted
    const ok = await proj.service.call('scoring.start', { modelId: baseId, refModelId: tunedId, datasetId, signals: ['excess_loss', 'learnability'] });
    expect(ok.ok).toBe(true);
    const ok2 = await proj.call('scoring.start', { modelId: tunedId, historyModelId: baseId, datasetId, signals: ['sstoken'] });
    expect(ok2.plan.passes.map((p) => [p.model, p.signals])).toEqual([['model', ['sstoken']], ['history', ['sstoken']]]);
    await proj.service.whenIdle();
  });

  it('knows a changed-tensors folder came from the base its winnow_delta.json names', async () => {
    const b = writeTinyModel(TINY_GPT2, 34);
    const d = writeTinyModel(TINY_GPT2, 35);
    const bId = await proj.addModel(b);
    const dId = await proj.addModel(d);
    expect(modelAncestors(proj.db, dId).size).toBe(0);
    // the manifest a `--changed-only` export writes, base path relative to the folder
    writeFileSync(join(d, DELTA_FILE), JSON.stringify({ format: DELTA_FORMAT, base: { path: relative(d, b), hash: 'x' }, tensors: [] }));
    expect(modelAncestors(proj.db, dId).get(bId)).toMatch(/winnow_delta\.json names it as the base/);
    expect(() => assertModelRoles(proj.db, { modelId: dId, refModelId: bId, signals: ['excess_loss'] })).toThrow(/roles swapped.*winnow_delta\.json/);
    expect(() => assertModelRoles(proj.db, { modelId: bId, historyModelId: dId, signals: ['sstoken'] })).toThrow(/roles swapped/);
    expect(() => assertModelRoles(proj.db, { modelId: dId, historyModelId: bId, signals: ['sstoken'] })).not.toThrow();
  });

  it('refuses sstoken given only a reference model, and one model in both roles', async () => {
    const refOnly = await proj.service.call('scoring.start', { modelId: tunedId, refModelId: baseId, datasetId, signals: ['sstoken'] });
    expect(refOnly.ok).toBe(false);
    if (!refOnly.ok) expect(refOnly.error.message).toMatch(/sstoken needs a history model, the EARLIER one.*historyModelId \(CLI --history-model DIR\)/);
    const third = await proj.addModel(writeTinyModel(TINY_GPT2, 33));
    const both = await proj.service.call('scoring.start', { modelId: third, refModelId: baseId, historyModelId: baseId, datasetId, signals: ['excess_loss', 'sstoken'] });
    expect(both.ok).toBe(false);
    if (!both.ok) expect(both.error.message).toMatch(/both the later reference .* and the earlier history model/);
  });
});
