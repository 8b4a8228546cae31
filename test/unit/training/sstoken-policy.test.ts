/**
 * Training on the top k% of response tokens by `sstoken` (the Train form lists it with the other token signals):
 * the config the form sends is accepted, the training data keeps exactly the round(k%·n) response tokens with the
 * highest sstoken values of the latest scoring run (ranked here from the stored values), and a train job runs on it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend } from '../../../main/engine/compute/backend';
import { blobToFloat32, getRender } from '../../../main/engine/db';
import { loadModel } from '../../../main/engine/models';
import { loadTrainData } from '../../../main/engine/training/data';
import { trainTokenPolicy } from '../../../main/engine/training/run';
import { TOKEN_SIGNALS, TrainConfigSchema } from '../../../preload/contract';
import { writeTinyModel, TINY_GPT2 } from '../models/tiny';
import { TestProject } from '../scoring/helpers';

let proj: TestProject;

beforeAll(async () => {
  await initBackend();
  proj = new TestProject('sstoken-train');
});
afterAll(() => proj?.close());

const ROWS = [
  ['Where did the dog go?', 'The dog ran to the park and found a big stick under the old tree.'],
  ['What did Mom say?', 'Mom said the cake was hot, so they waited by the window and sang.'],
  ['What did Ben see?', 'Ben saw a bird in the tree. The bird sang a happy song all day long.'],
  ['How was the day?', 'The sun was warm and the sky was blue, so the children played outside.'],
].map(([question, answer]) => ({ question, answer }));

describe('token policy top_percent by sstoken', () => {
  it('keeps the highest-sstoken response tokens of the latest run, and a train job runs on them', async () => {
    expect(TOKEN_SIGNALS).toContain('sstoken');
    const file = join(proj.home, 'qa.jsonl');
    writeFileSync(file, ROWS.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const datasetId = await proj.importDataset(file);
    const GPT2 = { ...TINY_GPT2, n_positions: 512 };
    const dir = writeTinyModel(GPT2, 31);
    const modelId = await proj.addModel(dir);
    const hisId = await proj.addModel(writeTinyModel(GPT2, 32));
    const runId = await proj.score({ modelId, datasetId, historyModelId: hisId, signals: ['sstoken'], batchSize: 2 });

    const cfg = TrainConfigSchema.parse({ modelId, subsetId: null, datasetId, layers: 'last:1', steps: 2, batchSize: 2, tokenPolicy: 'top_percent', tokenSignal: 'sstoken', tokenPercent: 50, evalFraction: 0 });
    // the run's render key: the scored rows at the train run's max tokens would be another key; here both are 512
    const renderKeyId = proj.renderKey((await loadModel(dir)).tokenizer);
    const data = loadTrainData(proj.db, { subsetId: null, datasetId, renderKeyId, modelId, policy: trainTokenPolicy(cfg), evalFraction: 0, seed: 0 });
    expect(data.train).toHaveLength(ROWS.length);
    for (const ex of data.train) {
      const r = getRender(proj.db, ex.exampleId, renderKeyId)!;
      const v = blobToFloat32(proj.db.prepare(`SELECT "values" FROM token_scores WHERE run_id = ? AND example_id = ? AND signal = 'sstoken'`).pluck().get(runId, ex.exampleId) as Buffer);
      const response = [...r.labelMask.keys()].filter((t) => t > 0 && r.labelMask[t] === 1);
      expect(response.length).toBeGreaterThan(4);
      const want = [...response].sort((a, b) => v[b]! - v[a]! || a - b).slice(0, Math.round(response.length / 2)).sort((a, b) => a - b);
      const kept = [...ex.weights.keys()].filter((t) => ex.weights[t] === 1);
      expect(kept, `example ${ex.exampleId}`).toEqual(want);
    }

    const { jobId } = await proj.call('train.start', cfg);
    const job = await proj.finished(jobId);
    expect(job.message).toMatch(/^trained 2 steps/);
  }, 120_000);
});
