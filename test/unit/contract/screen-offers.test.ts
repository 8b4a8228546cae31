/**
 * What the Score screen offers, the engine runs: every signal it lists as a checkbox is planned by the engine (with
 * the reference model / target set the screen asks for when they are needed), the ones it shows as "computed at
 * import" are the engine's text signals (and a run may still name them), and the screen's "needs a reference",
 * "needs a history model" and "per-example gradient" groups are the engine's. A signal added to the contract without the engine, or to the
 * engine without the screen, fails here. The Train form and the parameter-mask panel offer "top k% of tokens by" every
 * token signal: one that is not scored for the model is refused when the run is started, not by the job later.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IMPORT_SIGNALS, SIGNALS, TOKEN_SIGNALS, parseInput } from '../../../preload/contract';
import { NEEDS_HISTORY, NEEDS_REFERENCE, PER_EXAMPLE_GRADIENT, SCORE_SCREEN_SIGNALS, SIGNAL_HELP } from '../../../renderer/src/components/signals';
import { EXAMPLE_GRADIENT_SIGNALS, HISTORY_SIGNALS, LATER_REFERENCE_SIGNALS, TEXT_SIGNALS, assertTokenSignalScored, planScoring } from '../../../main/engine/scoring/plan';
import { TestProject, gsm8kRows } from '../scoring/helpers';

let proj: TestProject;
let modelId = 0;
let datasetId = 0;
let targetSubsetId = 0;
let lessRunId = 0;

beforeAll(async () => {
  proj = new TestProject('offers');
  modelId = (await proj.call('project.open', {})).models[0]!.id;
  datasetId = await proj.importDataset(gsm8kRows(proj.home, 4));
  targetSubsetId = (await proj.call('subsets.create', { name: 'target', rule: { kind: 'random', count: 2, seed: 1 }, datasetId })).id;
  // grad_sim (LESS) reads a LoRA warm-up run with kept checkpoints (the screen's "Warm-up run #")
  const warm = await proj.call('train.start', { modelId, subsetId: null, datasetId, layers: 'last:1', lora: { r: 2, alpha: 2 }, steps: 1, batchSize: 2, evalFraction: 0, keepCheckpoints: 1 });
  await proj.finished(warm.jobId);
  lessRunId = warm.runId;
});

afterAll(() => proj?.close());

describe('the Score screen offers only what the engine runs', () => {
  it('its checkboxes and its "computed at import" line cover the contract, each signal once', () => {
    expect([...SCORE_SCREEN_SIGNALS, ...IMPORT_SIGNALS].sort()).toEqual([...SIGNALS].sort());
    expect(SCORE_SCREEN_SIGNALS.filter((s) => IMPORT_SIGNALS.includes(s))).toEqual([]);
    expect([...IMPORT_SIGNALS].sort()).toEqual([...TEXT_SIGNALS].sort());
    for (const s of SIGNALS) expect(SIGNAL_HELP[s], `help text for ${s}`).toBeTruthy();
  });

  it("its reference, history and per-example-gradient groups are the engine's", () => {
    expect([...NEEDS_REFERENCE].sort()).toEqual([...LATER_REFERENCE_SIGNALS].sort());
    expect([...NEEDS_HISTORY].sort()).toEqual([...HISTORY_SIGNALS].sort());
    expect([...PER_EXAMPLE_GRADIENT].sort()).toEqual([...EXAMPLE_GRADIENT_SIGNALS].sort());
  });

  for (const s of [...SCORE_SCREEN_SIGNALS, ...IMPORT_SIGNALS]) {
    it(`${s}: the API takes it and the engine plans a pass that yields it`, () => {
      const input = {
        modelId, datasetId, signals: [s],
        ...(NEEDS_REFERENCE.has(s) ? { refModelId: modelId } : {}),
        ...(NEEDS_HISTORY.has(s) ? { historyModelId: modelId } : {}),
        ...(s === 'grad_sim_base' || s === 'grad_sim' ? { targetSubsetId } : {}),
        ...(s === 'grad_sim' ? { lessRunId } : {}),
      };
      const parsed = parseInput('scoring.start', input);
      expect(parsed.ok, JSON.stringify(parsed)).toBe(true);
      const plan = planScoring(proj.db, input);
      expect(plan.passes.flatMap((p) => p.signals)).toContain(s);
      expect(plan.passes.every((p) => (p.model === 'none') === (p.kind === 'text'))).toBe(true);
    });
  }
});

describe('top k% of tokens by a token signal is refused at start when the signal is not scored', () => {
  const train = { modelId: 0, subsetId: null, layers: 'last:1', steps: 1, batchSize: 1, tokenPolicy: 'top_percent' as const, tokenPercent: 50 };

  it('train.start and paramMasks.compute name the missing signal', async () => {
    for (const s of TOKEN_SIGNALS) {
      const r = await proj.service.call('train.start', { ...train, modelId, datasetId, tokenSignal: s });
      expect(r.ok, s).toBe(false);
      if (!r.ok) expect(r.error.message).toContain(`no "${s}" token scores for model ${modelId}`);
    }
    const pm = await proj.service.call('paramMasks.compute', { name: 'pm', modelId, method: 'salience', datasetId, tokenPolicy: 'top_percent', tokenSignal: 'token_loss' });
    expect(pm.ok).toBe(false);
    if (!pm.ok) expect(pm.error.message).toContain('no "token_loss" token scores');
  });

  it('once the model has scores of the signal, the check passes for it alone', async () => {
    await proj.score({ modelId, datasetId, signals: ['token_entropy'] });
    expect(() => assertTokenSignalScored(proj.db, modelId, 'token_entropy')).not.toThrow();
    expect(() => assertTokenSignalScored(proj.db, modelId, 'token_loss')).toThrow(/no "token_loss" token scores/);
  });
});
