/**
 * Forward-pass signals through the scoring job on a tiny random Qwen2-style model (GQA, biases, untied head), batched
 * with padding, against a direct per-example computation in float64 written here: token_loss, token_prob,
 * token_entropy, token_rank, mean_loss, and the `embedding` vector (mean of forwardWithHidden's hidden state).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../../main/engine/compute/backend';
import { loadModel, forward, forwardWithHidden, type LoadedModel } from '../../../main/engine/models';
import { blobToFloat32, getRender } from '../../../main/engine/db';
import { readExampleVectors } from '../../../main/engine/db/vectors';
import { writeTinyModel, TINY_QWEN2 } from '../models/tiny';
import { GSM8K_50, TestProject, logSoftmax64, logitsOf } from './helpers';

let proj: TestProject;
let model: LoadedModel;
let runId = 0;
let datasetId = 0;

beforeAll(async () => {
  await initBackend();
  proj = new TestProject();
  const dir = writeTinyModel(TINY_QWEN2, 7);
  model = await loadModel(dir);
  const modelId = await proj.addModel(dir);
  datasetId = await proj.importDataset(GSM8K_50);
  runId = await proj.score({
    modelId, datasetId, batchSize: 5,
    signals: ['token_loss', 'token_entropy', 'token_prob', 'token_rank', 'mean_loss', 'embedding'],
  });
});

afterAll(() => proj?.close());

function stored(exampleId: number, signal: string): Float32Array {
  const b = proj.db.prepare('SELECT "values" FROM token_scores WHERE run_id = ? AND example_id = ? AND signal = ?').pluck().get(runId, exampleId, signal) as Buffer;
  return blobToFloat32(b);
}

describe('forward signals', () => {
  it('token_loss/prob/entropy/rank and mean_loss match a direct float64 computation', () => {
    const ids = proj.db.prepare('SELECT id FROM examples WHERE dataset_id = ? ORDER BY id LIMIT 6').pluck().all(datasetId) as number[];
    for (const id of ids) {
      const r = getRender(proj.db, id, proj.renderKey(model.tokenizer))!;
      const logits = logitsOf((x) => forward(model.config, model.weights, x), r.tokenIds);
      const [loss, prob, ent, rank] = ['token_loss', 'token_prob', 'token_entropy', 'token_rank'].map((s) => stored(id, s));
      expect(loss!.length).toBe(r.nTokens);
      expect(Number.isNaN(loss![0]!)).toBe(true);
      let sum = 0;
      let n = 0;
      for (let t = 1; t < r.nTokens; t++) {
        const row = logits[t - 1]!;
        const lp = logSoftmax64(row);
        const x = r.tokenIds[t]!;
        expect(loss![t]!).toBeCloseTo(-lp[x]!, 4);
        expect(prob![t]!).toBeCloseTo(Math.exp(lp[x]!), 5);
        let h = 0;
        for (const v of lp) h -= Math.exp(v) * v;
        expect(ent![t]!).toBeCloseTo(h, 4);
        expect(rank![t]!).toBe(1 + row.filter((v) => v > row[x]!).length);
        if (r.labelMask[t]) {
          sum += -lp[x]!;
          n++;
        }
      }
      const mean = proj.db.prepare('SELECT value FROM example_scores WHERE run_id = ? AND example_id = ? AND signal = ?').pluck().get(runId, id, 'mean_loss') as number;
      expect(mean).toBeCloseTo(sum / n, 4);
    }
  });

  it('embedding is the mean of the final normed hidden state over the real tokens, stored as a vector', () => {
    const vectors = readExampleVectors(proj.db, 'embedding', runId);
    expect(vectors.size).toBe(50);
    // not a sortable column
    const cols = proj.db.prepare(`SELECT name FROM pragma_table_info('example_signals')`).pluck().all() as string[];
    expect(cols).not.toContain('embedding');
    const ids = proj.db.prepare('SELECT id FROM examples WHERE dataset_id = ? ORDER BY id LIMIT 4').pluck().all(datasetId) as number[];
    for (const id of ids) {
      const r = getRender(proj.db, id, proj.renderKey(model.tokenizer))!;
      const hidden = tf.tidy(() => forwardWithHidden(model.config, model.weights, tf.tensor2d(Array.from(r.tokenIds), [1, r.nTokens], 'int32')).hidden);
      const h = (hidden.arraySync() as number[][][])[0]!;
      hidden.dispose();
      const v = vectors.get(id)!;
      expect(v.length).toBe(model.config.hiddenSize);
      for (let k = 0; k < v.length; k++) {
        let s = 0;
        for (let t = 0; t < r.nTokens; t++) s += h[t]![k]!;
        expect(v[k]!).toBeCloseTo(s / r.nTokens, 4);
      }
    }
  });
});
