/**
 * S2L's loss trajectories, recorded during a run (`recordTrajectories`): at every checkpoint step (and the last step)
 * the mean loss of each example of the run's data — train and eval rows, under the run's token weights — is stored
 * in loss_trajectories. Recorded then because the run keeps only its latest checkpoint, so earlier ones cannot be
 * re-read afterwards.
 */
import * as tf from '@tensorflow/tfjs';
import type { Db } from '../db';
import { writeLossTrajectoryStep } from '../db/loss-trajectories';
import { embed, finalNorm, lmHead, runBlocks, type LoadedModel } from '../models';
import type { LoraHook } from '../models/lora';
import { readAll } from '../compute/read';
import { padBatch, type TrainExample } from './data';

/** Σ_t w_t ℓ_t / Σ_t w_t per example (NaN when it has no weighted token), in batches of `batchSize`. */
export async function perExampleLoss(
  model: LoadedModel,
  weights: Record<string, tf.Tensor>,
  examples: TrainExample[],
  opts: { padId: number; maxTokens: number; batchSize: number; lora?: LoraHook },
): Promise<number[]> {
  const cfg = model.config;
  const out: number[] = [];
  for (let i = 0; i < examples.length; i += opts.batchSize) {
    const batch = examples.slice(i, i + opts.batchSize);
    const { ids, weights: w, attn, B, T } = padBatch(batch, opts.padId, opts.maxTokens);
    const nllT = tf.tidy(() => {
      const idsT = tf.tensor2d(ids, [B, T], 'int32');
      const h = runBlocks(cfg, weights, embed(cfg, weights, idsT), 0, cfg.numLayers, tf.tensor2d(attn, [B, T], 'int32'), undefined, opts.lora);
      const logits = lmHead(cfg, weights, finalNorm(cfg, weights, h));
      const V = logits.shape[2];
      const z = logits.reshape([B * T, V]);
      // position (b, t) predicts ids[b, t+1]; the last position's target is a dummy 0 with weight 0
      const flat = new Int32Array(B * T);
      for (let b = 0; b < B; b++) for (let t = 0; t < T - 1; t++) flat[b * T + t] = (b * T + t) * V + ids[b * T + t + 1]!;
      return tf.sub(tf.logSumExp(z, 1), tf.gather(z.reshape([B * T * V]), tf.tensor1d(flat, 'int32')));
    });
    const [nll] = await readAll([nllT]);
    nllT.dispose();
    for (let b = 0; b < B; b++) {
      let s = 0;
      let ws = 0;
      for (let t = 0; t < T - 1; t++) {
        const wt = w[b * T + t + 1]!;
        s += wt * nll![b * T + t]!;
        ws += wt;
      }
      out.push(ws > 0 ? s / ws : NaN);
    }
  }
  return out;
}

export function writeTrajectoryStep(db: Db, runId: number, step: number, examples: TrainExample[], losses: number[]): void {
  writeLossTrajectoryStep(db, runId, step, examples.map((e) => e.exampleId), losses);
}
