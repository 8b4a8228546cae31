import type Database from 'better-sqlite3';
/**
 * A real project for scoring tests: the engine service (in-process jobs) over a tmp dir, a dataset imported from the
 * fixtures, models registered by folder; scoring jobs run through runScoreJob with the full job params (the
 * service's contract does not carry fimExamples/seed yet).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { EngineService } from '../../../main/engine/api/service';
import { InProcessExecutor } from '../../../main/engine/jobs/runners';
import { runScoreJob, type ScoreParams } from '../../../main/engine/scoring/run';
import { modelPath } from '../../../main/engine/api/models-registry';
import { renderKeyId, renderKeyOf } from '../../../main/engine/db';
import type { JobProgress } from '../../../main/engine/jobs/types';
import type { ApiInput, ApiName, ApiOutputs, Job } from '../../../preload/contract';
import { callOk, finishedJob } from '../../support/engine';

export const GSM8K_50 = resolve(__dirname, '../../fixtures/data/gsm8k-50.jsonl');
export const STORIES = resolve(__dirname, '../../../resources/models/stories260K');

/** The first n rows of the 50-row GSM8K fixture as a JSONL file in `dir` (keeps model-heavy tests short). */
export function gsm8kRows(dir: string, n: number): string {
  const out = join(dir, `gsm8k-${n}.jsonl`);
  writeFileSync(out, readFileSync(GSM8K_50, 'utf8').trim().split('\n').slice(0, n).join('\n') + '\n');
  return out;
}

export class TestProject {
  readonly home = mkdtempSync(join(tmpdir(), 'winnow-scoring-'));
  readonly service = new EngineService({ projectsDir: this.home, mode: 'browser', executor: new InProcessExecutor() });
  private jobNo = 0;

  constructor(name = 'scoring') {
    this.service.open(name);
  }

  get db(): Database.Database {
    return this.service.current().db;
  }

  call<N extends ApiName>(name: N, input: ApiInput<N>): Promise<ApiOutputs[N]> {
    return callOk(this.service, name, input);
  }

  finished(jobId: string): Promise<Job> {
    return finishedJob(this.service, jobId);
  }

  async importDataset(path: string): Promise<number> {
    const { jobId } = await this.call('datasets.import', { path });
    return Number((await this.finished(jobId)).stats.datasetId);
  }

  /** The render key id of `tok` with the default options (or `maxTokens`): what scoring at that length reads. */
  renderKey(tok: { id: string; chatTemplate: string }, maxTokens = 512): number {
    return renderKeyId(this.db, renderKeyOf(tok, { labelPolicy: 'assistant', maxTokens }));
  }

  async addModel(path: string): Promise<number> {
    return (await this.call('models.add', { path })).id;
  }

  /** Run a scoring job in this process; returns the score run id. */
  async score(
    params: Partial<ScoreParams> & { modelId: number; signals: string[] },
    opts: { jobId?: string; isCancelled?: () => boolean; progress?: (p: JobProgress) => void } = {},
  ): Promise<number> {
    const jobId = opts.jobId ?? `test-${++this.jobNo}-${Date.now()}`;
    const full: ScoreParams = {
      batchSize: 8,
      maxTokens: 512,
      projectModelPath: modelPath(this.db, params.modelId),
      ...params,
    };
    const out = await runScoreJob({
      jobId,
      dbPath: this.service.current().dbPath,
      projectDir: this.service.current().dir,
      params: full as unknown as Record<string, unknown>,
      progress: opts.progress ?? (() => {}),
      isCancelled: opts.isCancelled ?? (() => false),
      log: () => {},
    });
    return Number(out.stats.runId);
  }

  close(): void {
    this.service.close();
    rmSync(this.home, { recursive: true, force: true });
  }
}

/** log-softmax of one logits row in float64 */
export function logSoftmax64(row: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) max = Math.max(max, row[i]!);
  let s = 0;
  for (let i = 0; i < row.length; i++) s += Math.exp(row[i]! - max);
  const lse = max + Math.log(s);
  return Float64Array.from({ length: row.length }, (_, i) => row[i]! - lse);
}

/** Logits of one unpadded sequence, [T][V], via the model's plain forward. */
export function logitsOf(
  fwd: (ids: tf.Tensor2D) => tf.Tensor3D,
  ids: ArrayLike<number>,
): number[][] {
  const t = tf.tidy(() => fwd(tf.tensor2d(Array.from(ids), [1, ids.length], 'int32')));
  const out = (t.arraySync() as number[][][])[0]!;
  t.dispose();
  return out;
}

/**
 * One example's loss written independently of the engine's loss: the mean over label positions t ≥ 1 of
 * −log softmax(logits[t−1])[x_t], picked with a one-hot product. Takes the weights in `names` order (for tf.grads).
 */
export function directLoss(
  fwd: (rec: Record<string, tf.Tensor>, ids: tf.Tensor2D) => tf.Tensor3D,
  vocab: number,
  ids: Int32Array,
  mask: Uint8Array,
  names: string[],
  constants: Record<string, tf.Tensor> = {},
): (...ws: tf.Tensor[]) => tf.Scalar {
  const T = ids.length;
  const targets: number[] = [];
  const w: number[] = [];
  for (let t = 1; t < T; t++) {
    targets.push(ids[t]!);
    w.push(mask[t] ? 1 : 0);
  }
  const n = w.reduce((a, b) => a + b, 0);
  return (...ws: tf.Tensor[]): tf.Scalar => {
    const rec: Record<string, tf.Tensor> = { ...constants };
    names.forEach((nm, k) => (rec[nm] = ws[k]!));
    const logits = fwd(rec, tf.tensor2d(Array.from(ids), [1, T], 'int32')).reshape([T, -1]).slice([0, 0], [T - 1, -1]);
    const picked = tf.sum(tf.mul(tf.logSoftmax(logits), tf.oneHot(tf.tensor1d(targets, 'int32'), vocab)), 1);
    return tf.div(tf.neg(tf.sum(tf.mul(picked, tf.tensor1d(w)))), n) as tf.Scalar;
  };
}
