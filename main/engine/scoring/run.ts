/**
 * The scoring job: renders what is not rendered yet, then runs the planned forward pass over length-bucketed
 * batches. Each batch's results are written in one transaction together with the run's cursor, so a killed job
 * resumes at the next unfinished batch with no example missing or scored twice.
 */
import * as tf from '@tensorflow/tfjs';
import { openProjectDb, getRender, writeExampleSignal, toBlob, type Db } from '../db';
import { loadModel, disposeModel, forward } from '../models';
import { renderDataset } from '../data/renderDataset';
import { DEFAULT_RENDER } from '../api/examples';
import type { JobContext, JobOutcome } from '../jobs/types';
import { WinnowError } from '../util/errors';
import { checkSignals } from './plan';
import { maskedMean, tokenSignalsFromLogits } from './token-signals';

export interface ScoreParams {
  modelId: number;
  datasetId?: number;
  signals: string[];
  refModelId?: number;
  batchSize: number;
  maxTokens: number;
  projectModelPath: string;
}

const TOKEN_SIGNAL_IDS = ['token_loss', 'token_entropy', 'token_prob', 'token_rank'] as const;
/** logits elements per micro-batch (B·T·V): bounds memory on every backend */
const MAX_LOGIT_ELEMENTS = 1 << 24;

export function cancelled(): WinnowError {
  return new WinnowError('cancelled', 'cancelled');
}

function findOrCreateRun(db: Db, jobId: string, p: ScoreParams): number {
  const existing = db.prepare('SELECT id FROM score_runs WHERE job_id = ?').pluck().get(jobId) as number | undefined;
  if (existing) return existing;
  const info = db
    .prepare(
      `INSERT INTO score_runs (model_id, ref_model_id, dataset_id, signals_json, params_json, status, cursor, created_at, job_id)
       VALUES (?, ?, ?, ?, ?, 'running', 0, datetime('now'), ?)`,
    )
    .run(p.modelId, p.refModelId ?? null, p.datasetId ?? null, JSON.stringify(p.signals), JSON.stringify(p), jobId);
  return Number(info.lastInsertRowid);
}

export async function runScoreJob(ctx: JobContext): Promise<JobOutcome> {
  const p = ctx.params as unknown as ScoreParams;
  checkSignals(p.signals);
  const db = openProjectDb(ctx.dbPath);
  try {
    const runId = findOrCreateRun(db, ctx.jobId, p);
    db.prepare(`UPDATE score_runs SET status = 'running', error = NULL WHERE id = ?`).run(runId);
    ctx.progress({ current: 0, total: 0, message: 'loading model' });
    const model = await loadModel(p.projectModelPath);
    try {
      const tokenizerId = model.tokenizer.id;
      const datasetIds = p.datasetId !== undefined
        ? [p.datasetId]
        : (db.prepare('SELECT id FROM datasets ORDER BY id').pluck().all() as number[]);
      for (const d of datasetIds) {
        ctx.progress({ current: 0, total: 0, message: 'rendering examples' });
        await renderDataset(db, d, model.tokenizer, { ...DEFAULT_RENDER, maxTokens: p.maxTokens });
      }
      const scope = p.datasetId !== undefined ? 'AND e.dataset_id = ?' : '';
      const args = p.datasetId !== undefined ? [tokenizerId, p.datasetId] : [tokenizerId];
      const total = db
        .prepare(`SELECT COUNT(*) FROM renders r JOIN examples e ON e.id = r.example_id WHERE r.tokenizer_id = ? ${scope}`)
        .pluck()
        .get(...args) as number;
      // pending: rendered, not yet scored by this run (length_tokens is written for every scored example)
      const pending = db
        .prepare(
          `SELECT r.example_id AS id, r.n_tokens AS n FROM renders r JOIN examples e ON e.id = r.example_id
           WHERE r.tokenizer_id = ? ${scope}
             AND NOT EXISTS (SELECT 1 FROM example_scores s WHERE s.run_id = ${runId} AND s.example_id = r.example_id AND s.signal = 'length_tokens')
           ORDER BY r.n_tokens, r.example_id`,
        )
        .all(...args) as Array<{ id: number; n: number }>;
      let done = total - pending.length;
      db.prepare('UPDATE score_runs SET total = ?, cursor = ? WHERE id = ?').run(total, done, runId);

      const want = new Set(p.signals);
      const tokenSignals = TOKEN_SIGNAL_IDS.filter((s) => want.has(s));
      const insertToken = db.prepare(`INSERT INTO token_scores (run_id, example_id, signal, "values") VALUES (?, ?, ?, ?)`);
      const started = Date.now();
      let tokensDone = 0;
      const V = model.config.vocabSize;
      const padId = model.tokenizer.padId ?? model.tokenizer.eosId ?? 0;

      for (let i = 0; i < pending.length; ) {
        if (ctx.isCancelled()) throw cancelled();
        // length-bucketed batch: pending is sorted by length, so neighbours pad little
        const maxLen = pending[Math.min(i + p.batchSize, pending.length) - 1]!.n;
        const byMemory = Math.max(1, Math.floor(MAX_LOGIT_ELEMENTS / Math.max(1, maxLen * V)));
        const batch = pending.slice(i, i + Math.min(p.batchSize, byMemory));
        i += batch.length;
        const renders = batch.map((b) => getRender(db, b.id, tokenizerId)!);
        const T = Math.max(...renders.map((r) => r.nTokens));
        const B = renders.length;
        const idsFlat = new Int32Array(B * T).fill(padId);
        const maskFlat = new Int32Array(B * T);
        renders.forEach((r, b) => {
          idsFlat.set(r.tokenIds, b * T);
          maskFlat.fill(1, b * T, b * T + r.nTokens);
        });
        const logits = tf.tidy(() => {
          const ids = tf.tensor2d(idsFlat, [B, T], 'int32');
          const attn = tf.tensor2d(maskFlat, [B, T], 'int32');
          return forward(model.config, model.weights, ids, attn);
        });
        const results = tokenSignalsFromLogits(
          logits,
          renders.map((r) => r.tokenIds),
          renders.map((r) => r.nTokens),
          { entropy: want.has('token_entropy'), rank: want.has('token_rank') },
        );
        logits.dispose();
        const perExample = new Map<string, Array<[number, number | null]>>();
        const put = (signal: string, id: number, v: number | null) => {
          if (!perExample.has(signal)) perExample.set(signal, []);
          perExample.get(signal)!.push([id, v]);
        };
        db.transaction(() => {
          renders.forEach((r, b) => {
            const s = results[b]!;
            for (const sig of tokenSignals) insertToken.run(runId, r.exampleId, sig, toBlob(s[sig]));
            const mean = maskedMean(s.token_loss, r.labelMask);
            if (want.has('mean_loss')) put('mean_loss', r.exampleId, mean);
            if (want.has('ppl')) put('ppl', r.exampleId, mean === null ? null : Math.exp(mean));
            let response = 0;
            for (let t = 0; t < r.nTokens; t++) if (r.roles[t] === 2) response++;
            if (want.has('response_tokens')) put('response_tokens', r.exampleId, response);
            if (want.has('trainable_tokens')) put('trainable_tokens', r.exampleId, r.nLabel);
            put('length_tokens', r.exampleId, r.nTokens);
          });
          for (const [signal, values] of perExample) writeExampleSignal(db, runId, signal, values);
          done += B;
          db.prepare('UPDATE score_runs SET cursor = ? WHERE id = ?').run(done, runId);
        })();
        tokensDone += renders.reduce((a, r) => a + r.nTokens, 0);
        const secs = (Date.now() - started) / 1000;
        const eps = (done - (total - pending.length)) / Math.max(secs, 1e-3);
        ctx.progress({
          current: done,
          total,
          message: `scored ${done}/${total}`,
          etaSeconds: eps > 0 ? (total - done) / eps : null,
          stats: { examplesPerSec: Math.round(eps * 10) / 10, tokensPerSec: Math.round(tokensDone / Math.max(secs, 1e-3)), runId },
        });
        await new Promise((r) => setImmediate(r));
      }
      const secs = (Date.now() - started) / 1000;
      if (pending.length && secs > 0) {
        db.prepare(`INSERT OR REPLACE INTO project_meta (key, value) VALUES ('score_examples_per_sec', ?)`).run(String(pending.length / secs));
      }
      db.prepare(`UPDATE score_runs SET status = 'done', finished_at = datetime('now'), cursor = ? WHERE id = ?`).run(done, runId);
      return {
        message: `scored ${total} examples`,
        stats: { runId, examples: total, tokensPerSec: Math.round(tokensDone / Math.max(secs, 1e-3)), seconds: Math.round(secs * 10) / 10 },
      };
    } finally {
      disposeModel(model);
    }
  } catch (err) {
    try {
      db.prepare(`UPDATE score_runs SET status = ?, error = ? WHERE job_id = ?`).run(
        err instanceof WinnowError && err.code === 'cancelled' ? 'cancelled' : 'failed',
        (err as Error).message,
        ctx.jobId,
      );
    } catch {
      // the database itself may be the problem; the job error says so
    }
    throw err;
  } finally {
    db.close();
  }
}
