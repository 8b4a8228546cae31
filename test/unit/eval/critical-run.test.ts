/**
 * A critical-token run over a project's GSM8K rows with the bundled stories260K: the stored `critical` values are, at
 * each render's response positions, what criticalTokens computes for that render's prompt and response (NaN
 * elsewhere and past the budget), under the render key; the run's cost is the estimate stated before it; the
 * `critical` token policy keeps exactly the response tokens with a value > 0. `winnow critical --estimate` states
 * the cost and runs nothing.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../main/engine/compute/backend';
import { getRender, renderKeyId, renderKeyOf } from '../../../main/engine/db';
import { renderDataset } from '../../../main/engine/data/renderDataset';
import { DEFAULT_RENDER } from '../../../main/engine/data/render-key';
import { criticalTokens, finalAnswerCheck } from '../../../main/engine/eval/critical';
import { criticalValues, estimateCriticalRun, responseSpan, runCriticalTokens } from '../../../main/engine/eval/critical-run';
import { eosIds } from '../../../main/engine/models/generate';
import { disposeModel, loadModel, type LoadedModel } from '../../../main/engine/models/model';
import { createTokenMasker } from '../../../main/engine/selection/token-policy';
import { gsm8kRows, STORIES, TestProject } from '../scoring/helpers';
import { TINY_QWEN2, writeTinyModel } from '../models/tiny';

const ROOT = path.resolve(__dirname, '../../..');
let proj: TestProject;
let m: LoadedModel;
let modelId: number;
let datasetId: number;
let keyId: number;
let ids: number[];
const budget = { maxPositions: 3, alternatives: 2, maxNewTokens: 6 };

beforeAll(async () => {
  await initBackend();
  proj = new TestProject('critical');
  modelId = await proj.addModel(STORIES);
  datasetId = await proj.importDataset(gsm8kRows(proj.home, 2));
  m = await loadModel(STORIES);
  keyId = (await renderDataset(proj.db, datasetId, m.tokenizer, DEFAULT_RENDER)).renderKeyId;
  expect(keyId).toBe(renderKeyId(proj.db, renderKeyOf(m.tokenizer, DEFAULT_RENDER)));
  ids = proj.db.prepare('SELECT id FROM examples WHERE dataset_id = ? ORDER BY id').pluck().all(datasetId) as number[];
});
afterAll(() => {
  if (m) disposeModel(m);
  proj?.close();
});

describe('critical-token run', () => {
  it('stores what criticalTokens computes on each render, states its cost first, and feeds the critical policy', async () => {
    const eos = eosIds(m.config, m.tokenizer);
    const est = estimateCriticalRun(proj.db, m, { renderKeyId: keyId, exampleIds: ids, budget });
    expect(est).toMatchObject({ examples: 2, skipped: 0, positions: 6, rollouts: 12, maxGeneratedTokens: 72 });
    const r = await runCriticalTokens(proj.db, m, { modelId, datasetId, renderKeyId: keyId, exampleIds: ids, budget, eosIds: eos });
    expect(r.cost).toEqual({ examples: 2, positions: 6, rollouts: 12, maxGeneratedTokens: 72, budget });
    expect(r.rollouts).toBe(12);
    expect(r.examined).toBe(6);
    expect(proj.db.prepare('SELECT render_key_id, signals_json, status FROM score_runs WHERE id = ?').get(r.runId)).toEqual({ render_key_id: keyId, signals_json: '["critical"]', status: 'done' });
    let critical = 0;
    for (const id of ids) {
      const render = getRender(proj.db, id, keyId)!;
      const span = responseSpan(render.labelMask)!;
      const all = Array.from(render.tokenIds);
      const reference = m.tokenizer.decode(all.slice(span.start, span.end), { skipSpecialTokens: true });
      expect(reference).toContain('####');
      const direct = await criticalTokens(m, all.slice(0, span.start), all.slice(span.start, span.end), finalAnswerCheck(reference), budget, { eosIds: eos });
      expect(direct.correct).toBe(true);
      const stored = Array.from(criticalValues(proj.db, r.runId, id)!);
      expect(stored).toHaveLength(render.nTokens);
      stored.forEach((v, t) => {
        const want = t >= span.start && t < span.end ? direct.values[t - span.start] : null;
        if (want === null || want === undefined) expect(Number.isNaN(v), `position ${t}`).toBe(true);
        else expect(v, `position ${t}`).toBe(want);
      });
      // the policy: exactly the response tokens with a value > 0
      const masked = createTokenMasker(proj.db, { renderKeyId: keyId, modelId, policy: { kind: 'critical' } }, ids)(id)!;
      const want = stored.map((v, t) => (t > 0 && render.labelMask[t] && v > 0 ? 1 : 0));
      expect(Array.from(masked.mask)).toEqual(want);
      critical += want.reduce((a: number, b) => a + b, 0);
    }
    expect(r.critical).toBe(critical);
  });

  it('trains with the critical policy (train.start checks the critical run exists)', async () => {
    const t = await proj.call('train.start', { modelId, subsetId: null, datasetId, layers: 'last:1', steps: 1, batchSize: 2, lr: 0.001, evalFraction: 0, tokenPolicy: 'critical' });
    const job = await proj.finished(t.jobId);
    expect(job.status).toBe('done');
    const run = (await proj.call('train.list', {})).find((x) => x.id === t.runId)!;
    expect(run.config.tokenPolicy).toBe('critical');
  });

  it('refuses the policy for a model with no critical run, and winnow critical --estimate states the cost only', async () => {
    const tiny = writeTinyModel(TINY_QWEN2, 5);
    try {
      const other = await proj.addModel(tiny);
      expect(() => createTokenMasker(proj.db, { renderKeyId: keyId, modelId: other, policy: { kind: 'critical' } }, ids)).toThrow(/no "critical" token scores for this model yet/);
      const refused = await proj.service.call('train.start', { modelId: other, subsetId: null, datasetId, layers: 'last:1', steps: 1, tokenPolicy: 'critical' });
      expect(refused.ok).toBe(false);
      if (!refused.ok) expect(refused.error.message).toMatch(/"critical" token scores/);
    } finally {
      fs.rmSync(tiny, { recursive: true, force: true });
    }
    const res = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'main/cli/index.ts'), 'critical', '--model', STORIES, '--data', gsm8kRows(proj.home, 2),
      '--max-positions', '3', '--alternatives', '2', '--max-new-tokens', '6', '--estimate', '--json'], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, WINNOW_HOME: path.join(proj.home, 'cli-home') }, timeout: 300_000 });
    expect(res.status, res.stderr).toBe(0);
    const out = JSON.parse(res.stdout.trim().split('\n').pop()!) as { estimate: Record<string, unknown>; message: string };
    expect(out.message).toBe('critical tokens: 2 example(s) with a checkable answer (0 skipped), 6 position(s) × 2 alternative(s) = 12 rollout(s), at most 72 generated token(s)');
    expect(out.estimate).toMatchObject({ examples: 2, positions: 6, rollouts: 12, maxGeneratedTokens: 72, skipped: 0 });
    expect(fs.existsSync(path.join(proj.home, 'cli-home'))).toBe(false); // no project: a temporary one, removed
  });
});
