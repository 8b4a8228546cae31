/**
 * grad_sim as LESS computes it (Xia et al. 2024, princeton-nlp/LESS less/data_selection: collect_grad_reps.py and
 * matching.py). It reads a LoRA warm-up run (`lessRunId`: a training run with `lora` and `keepCheckpoints`), whose
 * kept checkpoints hold A, B, Adam's moments (m = exp_avg, v = exp_avg_sq) and η̄_k, the mean learning rate of the
 * steps since the previous kept checkpoint. At each checkpoint k:
 *   - every example's gradient g of its mean response NLL with respect to the LoRA A and B (the base frozen, no
 *     dropout), one example at a time;
 *   - a training example (the scope) gives Adam's update direction from that checkpoint's state, without bias
 *     correction: m' = β1·m + (1−β1)·g, v' = β2·v + (1−β2)·g², feature m' / √(v' + ε);
 *   - a target example gives g itself (LESS's SGD gradients for the validation set);
 *   - every feature is projected to d dimensions (the seeded Rademacher projection grad_sim_base uses,
 *     passes/projection.ts) and normalised.
 * A subtask s (one target subset, or one value of `targetColumn` among the targets) has the mean T_s,k of its normalised target features; an example's score is
 * max over s of Σ_k η̄_k · x̂_k · T_s,k — the sum over checkpoints of η̄_k times the mean cosine with the subtask's
 * examples, then the max across subtasks, as matching.py reshapes and takes mean(-1).max(-1).
 * The pass keeps its running sums per finished checkpoint: a killed job resumes at the first unfinished checkpoint.
 */
import * as tf from '@tensorflow/tfjs';
import { join } from 'node:path';
import { exampleColumnReader, getRender, listSignalColumns, writeExampleSignal, type Db } from '../db';
import { embed, finalNorm, lmHead, runBlocks, type LoadedModel } from '../models';
import type { JobContext } from '../util/job-context';
import type { TrainConfig } from '../../../preload/contract';
import { WinnowError } from '../util/errors';
import { loraScale, peftTensorName, type LoraHook } from '../models/lora';
import { resolveLora } from '../training/lora';
import { listKeptCheckpoints, loadCheckpoint, type CheckpointState } from '../training/checkpoint';
import { weightedLmLoss } from '../training/loss';
import { layerBlockScores } from '../db/layers';
import { lossWeights } from './passes/gradients';
import { norm, projectRows } from './passes/projection';
import { PassState } from '../db/pass-state';
import { trainRunRow } from '../db/training';
import { learnableSubsetRenderIds, scopedRenderIds } from '../db/score-rows';
import type { Scope } from './gradient-pass';
import type { ScoreParams } from './params';

/** LESS projects its LoRA gradients to 8192 dimensions */
export const DEFAULT_LESS_GRAD_DIM = 8192;
/** the training run's AdamW (training/optimizer.ts defaults) */
const BETA1 = 0.9;
const BETA2 = 0.999;
const EPS = 1e-8;
const PASS = 'less';

export interface LessWarmup {
  cfg: TrainConfig;
  checkpoints: Array<{ step: number; dir: string }>;
}

/** The warm-up run grad_sim reads: a LoRA run of this model with kept checkpoints (refused with what is missing). */
export function lessWarmupRun(db: Db, projectDir: string, lessRunId: number | undefined, modelId: number, opts: { done?: boolean } = {}): LessWarmup {
  if (lessRunId === undefined) {
    throw new WinnowError('bad_input', 'grad_sim (LESS) needs a LoRA warm-up run: lessRunId or lessWarmup (CLI --less-run N, or --less-warmup P:EPOCHS:K to train one); the base model\'s plain gradients are grad_sim_base');
  }
  const row = trainRunRow(db, lessRunId);
  if (!row) throw new WinnowError('not_found', `grad_sim: train run ${lessRunId} (lessRunId) not found`);
  const cfg = JSON.parse(row.config_json) as TrainConfig;
  if (!cfg.lora) throw new WinnowError('bad_input', `grad_sim: train run ${lessRunId} trained whole tensors, not LoRA adapters; LESS needs a LoRA warm-up run`);
  if (row.model_id !== modelId) {
    throw new WinnowError('bad_input', `grad_sim: train run ${lessRunId} trained adapters on model ${row.model_id}, but the scored model is ${modelId}; score the warm-up's base model`);
  }
  if (opts.done && row.status !== 'done') {
    // a warm-up queued before this scoring (lessWarmup) that failed or was cancelled
    throw new WinnowError('conflict', `grad_sim: warm-up run ${lessRunId} is ${row.status}${row.error ? ` (${row.error})` : ''}; resume or finish it (Train screen), then resume this scoring`);
  }
  const checkpoints = listKeptCheckpoints(join(projectDir, 'runs', String(lessRunId)));
  if (!checkpoints.length) {
    throw new WinnowError('bad_input', `grad_sim: train run ${lessRunId} kept no checkpoints; train the warm-up with keepCheckpoints (CLI --keep-checkpoints K)`);
  }
  return { cfg, checkpoints };
}

/** The target subsets, one per subtask: `targetSubsetIds`, or the one `targetSubsetId`. */
export function targetSubsets(p: Pick<ScoreParams, 'targetSubsetId' | 'targetSubsetIds'>): number[] {
  const ids = p.targetSubsetIds?.length ? p.targetSubsetIds : p.targetSubsetId !== undefined ? [p.targetSubsetId] : [];
  if (!ids.length) throw new WinnowError('bad_input', 'grad_sim needs a target set: targetSubsetId or targetSubsetIds (CLI --target-subset NAME[,NAME…])');
  return [...new Set(ids)];
}

/**
 * ∇ of one example's mean response NLL with respect to the adapters' A and B (in `names` order: each module's A then
 * B), the base weights constant. null when the example has no position to learn. The caller disposes the tensors.
 */
function loraGradients(model: LoadedModel, hook: LoraHook, keys: string[], tokenIds: Int32Array, labelMask: Uint8Array): tf.Tensor[] | null {
  const weights = lossWeights(labelMask);
  if (!weights.some((w) => w > 0)) return null;
  const T = tokenIds.length;
  const cfg = model.config;
  const params = keys.flatMap((k) => [hook.modules.get(k)!.A, hook.modules.get(k)!.B]);
  return tf.tidy(() => {
    const ids = tf.tensor2d(tokenIds, [1, T], 'int32');
    const lossOf = (...ws: tf.Tensor[]): tf.Scalar => {
      const h: LoraHook = { ...hook, modules: new Map(keys.map((k, i) => [k, { A: ws[2 * i] as tf.Tensor2D, B: ws[2 * i + 1] as tf.Tensor2D }])) };
      const out = runBlocks(cfg, model.weights, embed(cfg, model.weights, ids), 0, cfg.numLayers, undefined, undefined, h);
      return weightedLmLoss(lmHead(cfg, model.weights, finalNorm(cfg, model.weights, out)), tokenIds, weights, 1, T, { dft: false }).loss;
    };
    return tf.grads(lossOf)(params);
  });
}

/**
 * The scope (training) examples and the targets with their subtasks, targets first, each id once. A subtask is one
 * target subset, or with `column` one value of that example column among all the targets (empty values one more).
 */
function chooseExamples(db: Db, keyId: number, scope: Scope, subsets: number[], column?: string): { order: number[]; scopeIdx: Int32Array; subtasks: number[][]; nTasks: number } {
  const inScope = scopedRenderIds(db, scope);
  const tasksOf = new Map<number, number[]>();
  subsets.forEach((sid, s) => {
    const ids = learnableSubsetRenderIds(db, keyId, sid);
    if (!ids.length) throw new WinnowError('bad_input', `grad_sim: target subset ${sid} has no rendered example with trainable tokens`);
    for (const id of ids) tasksOf.set(id, [...(tasksOf.get(id) ?? []), s]);
  });
  const targets = [...tasksOf.keys()].sort((a, b) => a - b);
  let nTasks = subsets.length;
  if (column !== undefined) {
    if (!listSignalColumns(db).includes(column)) {
      throw new WinnowError('bad_input', `grad_sim: targetColumn "${column}" is not an example column (columns: ${listSignalColumns(db).join(', ')})`);
    }
    const get = exampleColumnReader(db, column);
    const valueOf = new Map(targets.map((id) => [id, get(id)]));
    const values = [...new Set(valueOf.values())].sort((a, b) => (a === null ? 1 : b === null ? -1 : a - b));
    for (const id of targets) tasksOf.set(id, [values.indexOf(valueOf.get(id)!)]);
    nTasks = values.length;
  }
  const isTarget = new Set(targets);
  const order = [...targets, ...inScope.filter((id) => !isTarget.has(id))];
  const scopeSet = new Set(inScope);
  // scopeIdx[k]: the example's row in the scores (−1: a target outside the scope)
  let n = 0;
  const scopeIdx = Int32Array.from(order, (id) => (scopeSet.has(id) ? n++ : -1));
  return { order, scopeIdx, subtasks: order.map((id) => tasksOf.get(id) ?? []), nTasks };
}

/** What the LESS pass works with once its examples are chosen. */
interface Less {
  ctx: JobContext;
  db: Db;
  runId: number;
  p: ScoreParams;
  model: LoadedModel;
  keyId: number;
  /** the adapted modules, and their A and B tensors' names (each module's A then B) */
  keys: string[];
  names: string[];
  /** the examples, targets first; each one's row in the scores (−1: a target outside the scope) and subtasks */
  order: number[];
  scopeIdx: Int32Array;
  subtasks: number[][];
  /** subtasks, projection dimensions and seed */
  S: number;
  d: number;
  seed: number;
  /** Σ_k η̄_k x̂_k·T_s,k per (scope example, subtask); NaN: the example has nothing to learn */
  score: Float64Array;
  K: number;
  started: number;
}

export async function lessPass(ctx: JobContext, db: Db, runId: number, p: ScoreParams, model: LoadedModel, scope: Scope, keyId: number): Promise<Record<string, number>> {
  const warm = lessWarmupRun(db, ctx.projectDir, p.lessRunId, p.modelId, { done: true });
  const subsets = targetSubsets(p);
  const st = new PassState(db, runId, PASS);
  let meta = st.json<{ checkpoint: number; done: boolean }>('meta');
  if (meta?.done) return {};
  const { order, scopeIdx, subtasks, nTasks } = chooseExamples(db, keyId, scope, subsets, p.targetColumn);
  const nScope = scopeIdx.reduce((a, v) => a + (v >= 0 ? 1 : 0), 0);
  if (!nScope) throw new WinnowError('bad_input', 'grad_sim: no rendered example in scope');
  const S = nTasks;
  // Σ_k η̄_k x̂_k·T_s,k per (scope example, subtask); NaN: the example has nothing to learn
  const saved = meta ? st.float64('score') : undefined;
  if (saved && saved.length !== nScope * S) {
    throw new WinnowError('conflict', `score run ${runId}: the scope or the target subsets changed since its first checkpoint (${saved.length / S} examples then, ${nScope} now); start a new scoring`);
  }
  const score = saved ?? new Float64Array(nScope * S);
  meta ??= { checkpoint: 0, done: false };

  const lora = warm.cfg.lora!;
  const resolved = resolveLora(model.config, model.tensors, lora, warm.cfg.layers, layerBlockScores(db, warm.cfg.modelId, lora.layers ?? warm.cfg.layers));
  const keys = resolved.modules.map((m) => m.key);
  const s: Less = {
    ctx, db, runId, p, model, keyId, keys, names: keys.flatMap((k) => [peftTensorName(model.config, k, 'A'), peftTensorName(model.config, k, 'B')]),
    order, scopeIdx, subtasks, S, d: p.gradDim ?? DEFAULT_LESS_GRAD_DIM, seed: p.seed ?? 0, score, K: warm.checkpoints.length, started: Date.now(),
  };

  for (let k = meta.checkpoint; k < s.K; k++) {
    await checkpointScores(s, warm.checkpoints[k]!.dir, k, lora);
    meta.checkpoint = k + 1;
    const mm = meta;
    db.transaction(() => {
      st.putArray('score', score);
      st.putJson('meta', mm);
    })();
  }

  const out: Array<[number, number | null]> = [];
  order.forEach((id, i) => {
    const row = scopeIdx[i]!;
    if (row < 0) return;
    let best = -Infinity;
    for (let t = 0; t < S; t++) best = Math.max(best, score[row * S + t]!);
    out.push([id, Number.isFinite(best) ? best : null]);
  });
  meta.done = true;
  const mm = meta;
  db.transaction(() => {
    writeExampleSignal(db, runId, 'grad_sim', out);
    st.clearExcept(['meta']);
    st.putJson('meta', mm);
  })();
  return { lessCheckpoints: s.K, lessExamples: order.length, lessSeconds: Math.round(((Date.now() - s.started) / 1000) * 10) / 10 };
}

/** Checkpoint k's term of every scope example's scores: η̄_k · x̂_k·T_s,k, added to s.score. */
async function checkpointScores(s: Less, dir: string, k: number, lora: NonNullable<TrainConfig['lora']>): Promise<void> {
  const { order, scopeIdx, subtasks, S, d, score } = s;
  const ck = loadCheckpoint(dir);
  if (!ck) throw new WinnowError('not_found', `grad_sim: checkpoint ${dir} of run ${s.p.lessRunId} could not be read`);
  const lr = (ck.state as CheckpointState).lr;
  const hook: LoraHook = { scale: loraScale(lora), modules: new Map(), dropout: 0, dropoutSeed: null };
  try {
    if (lr === undefined) throw new WinnowError('bad_input', `grad_sim: checkpoint ${dir} has no learning rate (written before kept checkpoints recorded one); train the warm-up again`);
    const { m, v } = await adapterState(s, ck, dir, hook);
    const P = m.reduce((a, x) => a + x.length, 0);
    const targetSum = Array.from({ length: S }, () => new Float64Array(d));
    const targetCount = new Float64Array(S);
    // scope examples that are also targets wait for the finished means
    const waiting: Array<[number, Float64Array]> = [];
    const addScore = (i: number, x: Float64Array): void => {
      for (let t = 0; t < S; t++) {
        const sum = targetSum[t]!;
        let dot = 0;
        for (let e = 0; e < d; e++) dot += x[e]! * sum[e]!;
        // the mean over the subtask's targets of the cosine, weighted by the checkpoint's learning rate
        score[scopeIdx[i]! * S + t] += lr * (dot / targetCount[t]!);
      }
    };
    const batch = Math.max(1, Math.min(s.p.batchSize, Math.floor((64 << 20) / (4 * Math.max(1, P)))));
    const total = s.K * order.length;
    for (let from = 0; from < order.length; from += batch) {
      const { rows, rowOf } = await batchFeatures(s, hook, m, v, P, from, Math.min(order.length, from + batch));
      const proj = projectRows(rows, d, s.seed);
      proj.forEach((x, j) => {
        const { k: i, target } = rowOf[j]!;
        const n = norm(x);
        if (n > 0) for (let e = 0; e < d; e++) x[e] = x[e]! / n;
        if (target) {
          for (const t of subtasks[i]!) {
            const sum = targetSum[t]!;
            for (let e = 0; e < d; e++) sum[e] += x[e]!;
            targetCount[t] += 1;
          }
        } else if (subtasks[i]!.length) waiting.push([i, x]);
        else addScore(i, x);
      });
      const done = k * order.length + Math.min(order.length, from + batch);
      const secs = (Date.now() - s.started) / 1000;
      s.ctx.progress({ current: done, total, message: `LESS gradients, checkpoint ${k + 1}/${s.K}: ${Math.min(order.length, from + batch)}/${order.length}`, stats: { runId: s.runId, checkpoint: k + 1 }, etaSeconds: done > 0 ? (secs / done) * (total - done) : null });
    }
    for (const [i, x] of waiting) addScore(i, x);
  } finally {
    for (const t of ck.trainable.values()) t.dispose();
    for (const t of ck.optimizer.tensors.values()) t.dispose();
  }
}

/** The checkpoint's adapters, set on `hook`, and Adam's moments of each adapter tensor (in s.names order). */
async function adapterState(s: Less, ck: NonNullable<ReturnType<typeof loadCheckpoint>>, dir: string, hook: LoraHook): Promise<{ m: Float32Array[]; v: Float32Array[] }> {
  const config = s.model.config;
  for (const key of s.keys) {
    const A = ck.trainable.get(peftTensorName(config, key, 'A'));
    const B = ck.trainable.get(peftTensorName(config, key, 'B'));
    if (!A || !B) throw new WinnowError('conflict', `grad_sim: checkpoint ${dir} has no adapter for ${key}`);
    hook.modules.set(key, { A: A as tf.Tensor2D, B: B as tf.Tensor2D });
  }
  const m: Float32Array[] = [];
  const v: Float32Array[] = [];
  for (const n of s.names) {
    const mt = ck.optimizer.tensors.get(`${n}.exp_avg`);
    const vt = ck.optimizer.tensors.get(`${n}.exp_avg_sq`);
    if (!mt || !vt) throw new WinnowError('conflict', `grad_sim: checkpoint ${dir} has no Adam state for ${n} (LESS needs an adamw warm-up)`);
    m.push((await mt.data()) as Float32Array);
    v.push((await vt.data()) as Float32Array);
  }
  return { m, v };
}

/**
 * The features of order[from, to) to project: a target's gradient g itself, a scope example's Adam update direction
 * from the checkpoint's moments (m, v). An example with nothing to learn gets NaN scores and no feature.
 */
async function batchFeatures(
  s: Less, hook: LoraHook, m: Float32Array[], v: Float32Array[], P: number, from: number, to: number,
): Promise<{ rows: Float32Array[]; rowOf: Array<{ k: number; target: boolean }> }> {
  const { order, scopeIdx, S, score } = s;
  const rows: Float32Array[] = [];
  const rowOf: Array<{ k: number; target: boolean }> = [];
  for (let i = from; i < to; i++) {
    if (s.ctx.isCancelled()) throw new WinnowError('cancelled', 'cancelled');
    const r = getRender(s.db, order[i]!, s.keyId);
    if (!r) throw new WinnowError('not_found', `example ${order[i]} is no longer rendered with render key ${s.keyId}; start the scoring again`);
    const grads = loraGradients(s.model, hook, s.keys, r.tokenIds, r.labelMask);
    if (!grads) {
      if (scopeIdx[i]! >= 0) for (let t = 0; t < S; t++) score[scopeIdx[i]! * S + t] = NaN;
      continue;
    }
    const g = new Float32Array(P);
    let o = 0;
    for (const t of grads) {
      g.set((await t.data()) as Float32Array, o);
      o += t.size;
    }
    tf.dispose(grads);
    if (s.subtasks[i]!.length) {
      rows.push(g);
      rowOf.push({ k: i, target: true });
    }
    if (scopeIdx[i]! >= 0) {
      // Adam's update direction from the checkpoint's moments, no bias correction (collect_grad_reps.py)
      const f = new Float32Array(P);
      let q = 0;
      m.forEach((mk, j) => {
        const vk = v[j]!;
        for (let e = 0; e < mk.length; e++, q++) {
          const m1 = BETA1 * mk[e]! + (1 - BETA1) * g[q]!;
          const v1 = BETA2 * vk[e]! + (1 - BETA2) * g[q]! * g[q]!;
          f[q] = m1 / Math.sqrt(v1 + EPS);
        }
      });
      rows.push(f);
      rowOf.push({ k: i, target: false });
    }
    await new Promise((res) => setImmediate(res));
  }
  return { rows, rowOf };
}
