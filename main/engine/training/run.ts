/**
 * Selective fine-tuning job. Only the chosen tensors become variables (with gradients and optimizer state); blocks
 * below the lowest trainable one run once outside the gradient tape. Checkpoints every N steps (and on cancel) hold
 * the trainable tensors, the optimizer state and the step; data order is a function of (seed, step), so a resumed run
 * continues its loss curve exactly where it stopped.
 * With a parameter mask the trainable set is the mask's tensors, and only the mask's entries change: the gradient is
 * masked before clipping and the optimizer writes new values only where the mask is 1 (optimizer.ts), so every
 * other entry stays bit-identical to the base weights.
 * With LoRA (cfg.lora) no base tensor is a variable: each targeted module gets A and B (models/lora.ts), added at its
 * linear layer by the forward's hook; the run writes a PEFT adapter folder (runs/N/adapter) and the merged model.
 * With `recordTrajectories` every example's loss is stored at each checkpoint (S2L, trajectories.ts); with `uds` each
 * micro-batch is scored in a forward pass and only its best share trains (UDS, selection/uds.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { join } from 'node:path';
import { openProjectDb, renderKeyId, renderKeyOf, describeRenderKey, getRenderKey, type Db } from '../db';
import { loadModel, disposeModel, embed, runBlocks, finalNorm, lmHead, saveModel, type LoadedModel } from '../models';
import { renderDataset } from '../data/renderDataset';
import { resolveLayerSpec } from '../selection/layers';
import { DEFAULT_RENDER } from '../data/render-key';
import type { TrainConfig } from '../../../preload/contract';
import { jobParams, type JobContext, type JobOutcome } from '../util/job-context';
import { WinnowError } from '../util/errors';
import { loadTrainData, microBatch, padBatch, type TrainData, type TrainExample } from './data';
import { weightedLmLoss } from './loss';
import { createOptimizer, clipToNorm, globalNorm } from './optimizer';
import { readAll } from '../compute/read';
import { learningRate } from './schedule';
import { keptCheckpointDir, keptCheckpointSteps, loadCheckpoint, saveCheckpoint } from './checkpoint';
import { layerBlockScores } from '../db/layers';
import { findModelPath } from '../db/models';
import {
  deleteTrainMetricsAfter, markTrainRunCancelled, markTrainRunDone, markTrainRunFailed, markTrainRunRunning, scopeDatasetIds, setTrainRunCheckpoint,
  setTrainRunRenderKey, setTrainRunStep, trainMetricInserter, trainRunRow, type TrainRunDbRow,
} from '../db/training';
import { deleteLossTrajectoriesAfter } from '../db/loss-trajectories';
import { trainTokenPolicy } from '../selection/token-policy';
import { getParamMask, loadParamMaskBits, paramMaskExampleIds } from '../selection/param-masks-store';
import { adapterConfig, initLora, loraScale, mergeLora, peftTensorName, withDropoutSeed, writeAdapter, type LoraHook } from '../models/lora';
import { resolveLora } from './lora';
import { mulberry32 } from '../util/random';
import { scopeLabel } from '../db/names';
import { UdsSelector, udsScoreBatch } from '../selection/uds';
import { perExampleLoss, writeTrajectoryStep } from './trajectories';

// the token policy a run's config names lives beside the policies (selection/token-policy.ts); callers keep this name
export { trainTokenPolicy };

function modelDir(db: Db, id: number): string {
  const p = findModelPath(db, id);
  if (!p) throw new WinnowError('not_found', `model ${id} not found`);
  return p;
}

/**
 * The tensors a run trains, and for a parameter mask each tensor's bool mask (the caller disposes them). The mask
 * must come from these very weights (LoadedModel.hash), since it addresses entries by position.
 */
export function trainableSet(db: Db, cfg: TrainConfig, m: LoadedModel): { names: string[]; masks: Map<string, tf.Tensor> } {
  if (cfg.paramMaskId === undefined) {
    return { names: resolveLayerSpec(cfg.layers, m.tensors, layerBlockScores(db, cfg.modelId, cfg.layers)), masks: new Map() };
  }
  const info = getParamMask(db, cfg.paramMaskId);
  const hash = info.provenance.modelHash;
  if (hash !== m.hash) {
    throw new WinnowError('conflict', `parameter mask "${info.name}" was computed on other weights (model hash ${String(hash)}, this model ${m.hash}); compute it again for this model`);
  }
  const masks = new Map<string, tf.Tensor>();
  for (const [name, t] of loadParamMaskBits(db, cfg.paramMaskId)) {
    const w = m.weights[name];
    if (!w || w.shape.join() !== t.shape.join()) throw new WinnowError('conflict', `parameter mask "${info.name}": tensor ${name} [${t.shape.join(', ')}] is not in the model with that shape`);
    masks.set(name, tf.tensor(t.mask, t.shape, 'bool'));
  }
  return { names: [...masks.keys()], masks };
}

/** The lowest block that holds a trainable tensor; embeddings (or a tied head) force 0; none → numLayers. */
export function lowestTrainableBlock(model: LoadedModel, trainable: Set<string>): number {
  let low = model.config.numLayers;
  for (const t of model.tensors) {
    if (!trainable.has(t.name)) continue;
    if (t.block === null) {
      if (t.kind === 'embed' || t.kind === 'pos_embed') return 0;
    } else low = Math.min(low, t.block);
  }
  return low;
}

export interface BatchLoss {
  /** the loss as a function of the variables (for tf.variableGrads) */
  loss: () => tf.Scalar;
  tokens: number;
  weightSum: number;
  dispose(): void;
}

export function lossOnBatch(
  model: LoadedModel,
  weights: Record<string, tf.Tensor>,
  batch: TrainExample[],
  opts: { padId: number; maxTokens: number; frozenBelow: number; dft: boolean; lora?: LoraHook },
): BatchLoss {
  const cfg = model.config;
  const { ids, weights: w, attn, B, T, tokens } = padBatch(batch, opts.padId, opts.maxTokens);
  const idsT = tf.tensor2d(ids, [B, T], 'int32');
  const attnT = tf.tensor2d(attn, [B, T], 'int32');
  // frozen prefix: computed once, outside the tape
  const prefix =
    opts.frozenBelow > 0 ? tf.tidy(() => runBlocks(cfg, weights, embed(cfg, weights, idsT), 0, opts.frozenBelow, attnT, undefined, opts.lora)) : null;
  let weightSum = 0;
  for (let b = 0; b < B; b++) for (let t = 1; t < T; t++) weightSum += w[b * T + t]!;
  return {
    loss: () => {
      const h0 = prefix ?? embed(cfg, weights, idsT);
      const h = runBlocks(cfg, weights, h0, opts.frozenBelow, cfg.numLayers, attnT, undefined, opts.lora);
      const logits = lmHead(cfg, weights, finalNorm(cfg, weights, h));
      return weightedLmLoss(logits, ids, w, B, T, { dft: opts.dft }).loss;
    },
    tokens,
    weightSum,
    dispose: () => {
      idsT.dispose();
      attnT.dispose();
      prefix?.dispose();
    },
  };
}

/**
 * A parameter mask chosen from gradients of this run's eval rows has seen them, so the eval loss is not fully held
 * out: how many did, and the warning (null when none, or when the mask predates recorded example ids).
 */
export function evalRowsSeenByMask(db: Db, cfg: TrainConfig, evalRows: TrainExample[]): { rows: number; warning: string } | null {
  if (cfg.paramMaskId === undefined) return null;
  const ids = paramMaskExampleIds(db, cfg.paramMaskId);
  if (!ids) return null;
  const seen = new Set(ids);
  const rows = evalRows.filter((e) => seen.has(e.exampleId)).length;
  if (!rows) return null;
  return {
    rows,
    warning: `${rows} of the ${evalRows.length} eval row(s) were in the gradient pass of parameter mask #${cfg.paramMaskId}, so the eval loss is not fully held out (compute the mask with this run's eval fraction ${cfg.evalFraction} and seed ${cfg.seed} to leave them out)`,
  };
}

type Optimizer = ReturnType<typeof createOptimizer>;
type ResolvedLora = NonNullable<ReturnType<typeof resolveLora>>;

/**
 * Renders the run's rows under its own render key (other jobs' renders, and the scores and masks on them, are left
 * as they are) and loads its train and eval rows; a run that started on another render key is refused.
 */
async function renderAndLoadData(ctx: JobContext, db: Db, runId: number, run: TrainRunDbRow, cfg: TrainConfig, m: LoadedModel): Promise<{ data: TrainData; evalSeen: ReturnType<typeof evalRowsSeenByMask> }> {
  // make sure every example is rendered with this tokenizer
  const datasets = scopeDatasetIds(db, cfg.subsetId, cfg.datasetId);
  // under the run's own render key: other jobs' renders (and the scores and masks on them) are left as they are
  const keyId = renderKeyId(db, renderKeyOf(m.tokenizer, { ...DEFAULT_RENDER, maxTokens: cfg.maxTokens }));
  if (run.render_key_id !== null && run.render_key_id !== keyId) {
    throw new WinnowError('conflict', `train run ${runId} started on ${describeRenderKey(getRenderKey(db, run.render_key_id))} and would now render with ${describeRenderKey(getRenderKey(db, keyId))} (the model's tokenizer files changed?): start a new run`);
  }
  setTrainRunRenderKey(db, runId, keyId);
  for (const d of datasets) {
    ctx.progress({ current: 0, total: cfg.steps, message: 'rendering examples' });
    await renderDataset(db, d, m.tokenizer, { ...DEFAULT_RENDER, maxTokens: cfg.maxTokens });
  }
  const data = loadTrainData(db, {
    subsetId: cfg.subsetId,
    datasetId: cfg.datasetId,
    renderKeyId: keyId,
    modelId: cfg.modelId,
    policy: trainTokenPolicy(cfg),
    evalFraction: cfg.evalFraction,
    seed: cfg.seed,
  });
  if (data.skippedEmpty) ctx.log('warn', `train run ${runId}: ${data.skippedEmpty} example(s) have no trainable tokens and are left out`);
  const evalSeen = evalRowsSeenByMask(db, cfg, data.eval);
  if (evalSeen) ctx.log('warn', `train run ${runId}: ${evalSeen.warning}`);
  return { data, evalSeen };
}

/**
 * The run's variables, added to `vars`: the trainable base tensors, or with LoRA each module's A and B (named as in
 * the adapter file, as are the checkpoint's tensors) and the hook that adds them; null without LoRA.
 */
function makeVariables(m: LoadedModel, cfg: TrainConfig, trainable: string[], lora: ResolvedLora | null, vars: Map<string, tf.Variable>): LoraHook | null {
  for (const name of trainable) {
    const v = tf.variable(m.weights[name]!, true);
    m.weights[name]!.dispose();
    m.weights[name] = v;
    vars.set(name, v);
  }
  // LoRA: A and B are the variables, named as in the adapter file (so are the checkpoint's tensors)
  if (!lora || !cfg.lora) return null;
  const hook: LoraHook = { scale: loraScale(cfg.lora), modules: new Map(), dropout: cfg.lora.dropout, dropoutSeed: null };
  const init = initLora(lora.modules, cfg.lora.r, cfg.seed);
  for (const mod of lora.modules) {
    const { A, B } = init.get(mod.key)!;
    const a = tf.variable(tf.tensor2d(A, [cfg.lora.r, mod.in]), true);
    const b = tf.variable(tf.tensor2d(B, [mod.out, cfg.lora.r]), true);
    vars.set(peftTensorName(m.config, mod.key, 'A'), a);
    vars.set(peftTensorName(m.config, mod.key, 'B'), b);
    hook.modules.set(mod.key, { A: a as tf.Variable<tf.Rank.R2>, B: b as tf.Variable<tf.Rank.R2> });
  }
  return hook;
}

/** Loads the run's checkpoint, when it has one, into the variables and the optimizer; returns the step to start at. */
function resumeFromCheckpoint(ctx: JobContext, db: Db, runId: number, ckptDir: string, vars: Map<string, tf.Variable>, o: Optimizer): number {
  const ckpt = loadCheckpoint(ckptDir);
  if (!ckpt) return 0;
  for (const [name, t] of ckpt.trainable) {
    const v = vars.get(name);
    if (!v) throw new WinnowError('conflict', `checkpoint of run ${runId} has tensor ${name} that the run does not train`);
    v.assign(t);
    t.dispose();
  }
  o.load(ckpt.optimizer);
  const start = ckpt.state.step;
  // steps after the checkpoint are recomputed: drop their metrics so the curve has no duplicates
  deleteTrainMetricsAfter(db, runId, start);
  deleteLossTrajectoriesAfter(db, runId, start);
  ctx.log('info', `train run ${runId}: resumed from step ${start}`);
  return start;
}

/** What one training step reads: the model, its rows, the variables and how they are trained. */
interface StepSetup {
  m: LoadedModel;
  cfg: TrainConfig;
  train: TrainExample[];
  vars: Map<string, tf.Variable>;
  masks: Map<string, tf.Tensor>;
  o: Optimizer;
  hook: LoraHook | null;
  padId: number;
  frozenBelow: number;
  uds: UdsSelector | null;
  /** rows UDS scored and kept so far */
  udsCount: { seen: number; kept: number };
}

/** The weighted mean loss over the eval rows with the current weights (adapters without dropout); null without eval rows. */
async function evalLoss(s: StepSetup, evalRows: TrainExample[]): Promise<number | null> {
  const { m, cfg, padId, hook } = s;
  if (!evalRows.length) return null;
  // the batch losses stay on the device until one read at the end
  const losses: tf.Tensor[] = [];
  const weights: number[] = [];
  for (let i = 0; i < evalRows.length; i += cfg.batchSize) {
    const batch = evalRows.slice(i, i + cfg.batchSize);
    const b = lossOnBatch(m, m.weights, batch, { padId, maxTokens: cfg.maxTokens, frozenBelow: 0, dft: false, lora: hook ? withDropoutSeed(hook, null) : undefined });
    losses.push(tf.tidy(() => b.loss()));
    weights.push(b.weightSum);
    b.dispose();
  }
  const read = await readAll(losses);
  tf.dispose(losses);
  let sum = 0;
  let wsum = 0;
  read.forEach((l, k) => {
    sum += l[0]! * weights[k]!;
    wsum += weights[k]!;
  });
  return wsum ? sum / wsum : null;
}

/**
 * One optimizer step at learning rate `lr`: gradients summed over the micro-batches (UDS keeps each one's best
 * share), averaged, masked, clipped and applied. Returns the mean loss, the gradient norm before clipping and the
 * tokens trained on.
 */
async function trainStep(s: StepSetup, step: number, lr: number): Promise<{ loss: number; gradNorm: number; tokens: number }> {
  const { m, cfg, vars, masks, hook, padId, uds } = s;
  // each micro-batch's dropout masks come from (seed, step, micro-batch), so a resumed run draws the same ones
  const dropoutSeed = (a: number) => Math.floor(mulberry32((cfg.seed * 1_000_003 + step * cfg.gradAccum + a) >>> 0)() * 2 ** 31);
  const varList = [...vars.values()];
  const names = [...vars.keys()];
  const acc = new Map<string, tf.Tensor>();
  const losses: tf.Tensor[] = [];
  let stepTokens = 0;
  for (let a = 0; a < cfg.gradAccum; a++) {
    let batch = microBatch(s.train, cfg.seed, step * cfg.gradAccum + a, cfg.batchSize);
    if (uds) {
      // forward only, adapters without dropout: the scores are the model's, not one dropout draw's
      const sc = await udsScoreBatch(m, m.weights, batch, { padId, maxTokens: cfg.maxTokens, seed: cfg.seed, lora: hook ? withDropoutSeed(hook, null) : undefined });
      const { kept } = uds.select(sc.utility, sc.sketches);
      s.udsCount.seen += batch.length;
      s.udsCount.kept += kept.length;
      batch = kept.map((i) => batch[i]!);
    }
    const b = lossOnBatch(m, m.weights, batch, {
      padId, maxTokens: cfg.maxTokens, frozenBelow: s.frozenBelow, dft: cfg.dftWeight, lora: hook ? withDropoutSeed(hook, dropoutSeed(a)) : undefined,
    });
    const { value, grads } = tf.variableGrads(b.loss, varList);
    losses.push(value); // read once per step, with the gradient norm
    for (const n of names) {
      const g = grads[vars.get(n)!.name];
      if (!g) continue;
      const prev = acc.get(n);
      if (prev) {
        acc.set(n, tf.keep(tf.add(prev, g)));
        prev.dispose();
        g.dispose();
      } else acc.set(n, g);
    }
    stepTokens += b.tokens;
    b.dispose();
  }
  if (cfg.gradAccum > 1) {
    for (const [n, g] of acc) {
      acc.set(n, tf.keep(tf.div(g, cfg.gradAccum)));
      g.dispose();
    }
  }
  // frozen entries of a masked tensor have no gradient: clipping and the moments see only trainable entries
  for (const [n, mk] of masks) {
    const g = acc.get(n);
    if (!g) continue;
    acc.set(n, tf.keep(tf.tidy(() => tf.where(mk, g, tf.zerosLike(g)))));
    g.dispose();
  }
  const normT = globalNorm(acc);
  const read = await readAll([normT, ...losses]);
  tf.dispose([normT, ...losses]);
  const gradNorm = read[0]![0]!;
  let lossSum = 0;
  for (const l of read.slice(1)) lossSum += l[0]!;
  clipToNorm(acc, gradNorm, cfg.clipNorm);
  s.o.apply(vars, acc, lr, masks);
  for (const g of acc.values()) g.dispose();
  return { loss: lossSum / cfg.gradAccum, gradNorm, tokens: stepTokens };
}

/**
 * The training loop from `start`: each step's metrics and progress, eval losses, LESS's kept checkpoints, S2L's
 * trajectories and the resume checkpoint; on cancel the checkpoint is saved and the run marked cancelled.
 */
async function trainLoop(
  ctx: JobContext, db: Db, runId: number, s: StepSetup,
  o: { start: number; data: TrainData; runDir: string; ckptDir: string; trainableCount: number },
): Promise<{ lastLoss: number; tokensTotal: number; started: number; trajectoryRows: number }> {
  const { m, cfg, vars, hook, padId } = s;
  const { start, data, runDir, ckptDir } = o;
  const insertMetric = trainMetricInserter(db);
  // LESS's warm-up: K checkpoints kept for good, each with the mean lr of the steps since the previous one
  const kept = cfg.keepCheckpoints ? keptCheckpointSteps(cfg.steps, cfg.keepCheckpoints) : [];
  const meanLr = (from: number, to: number) => {
    let sum = 0;
    for (let k = from; k < to; k++) sum += learningRate(cfg.schedule, cfg.lr, k, cfg.steps, cfg.warmupSteps);
    return sum / Math.max(1, to - from);
  };
  const trajectoryRows = [...data.train, ...data.eval];
  const recordTrajectory = async (step: number) => {
    ctx.progress({ current: step, total: cfg.steps, message: `recording ${trajectoryRows.length} losses (S2L) at step ${step}` });
    const losses = await perExampleLoss(m, m.weights, trajectoryRows, { padId, maxTokens: cfg.maxTokens, batchSize: cfg.batchSize, lora: hook ? withDropoutSeed(hook, null) : undefined });
    writeTrajectoryStep(db, runId, step, trajectoryRows, losses);
  };

  let lastLoss = NaN;
  let tokensTotal = 0;
  const started = Date.now();
  for (let step = start; step < cfg.steps; step++) {
    if (ctx.isCancelled()) {
      await saveCheckpoint(ckptDir, step, vars, s.o.state());
      markTrainRunCancelled(db, runId, step, ckptDir);
      throw new WinnowError('cancelled', `cancelled at step ${step}; checkpoint saved — resume to continue`);
    }
    const t0 = Date.now();
    const lr = learningRate(cfg.schedule, cfg.lr, step, cfg.steps, cfg.warmupSteps);
    const { loss, gradNorm, tokens: stepTokens } = await trainStep(s, step, lr);
    lastLoss = loss;
    tokensTotal += stepTokens;
    const tps = stepTokens / Math.max((Date.now() - t0) / 1000, 1e-3);
    insertMetric(runId, step + 1, 'train', lastLoss, lr, tps);
    setTrainRunStep(db, runId, step + 1);
    const elapsed = (Date.now() - started) / 1000;
    const perStep = elapsed / (step + 1 - start);
    ctx.progress({
      current: step + 1,
      total: cfg.steps,
      message: `step ${step + 1}/${cfg.steps} loss ${lastLoss.toFixed(4)}`,
      etaSeconds: perStep * (cfg.steps - step - 1),
      stats: { runId, loss: lastLoss, lr, tokensPerSec: Math.round(tps), gradNorm, trainableTensors: hook ? vars.size : o.trainableCount },
      metric: { runId, step: step + 1, split: 'train', loss: lastLoss, lr, tokensPerSec: tps },
    });
    if ((step + 1) % cfg.evalEvery === 0 || step + 1 === cfg.steps) {
      const ev = await evalLoss(s, data.eval);
      if (ev !== null) {
        insertMetric(runId, step + 1, 'eval', ev, lr, 0);
        ctx.progress({
          current: step + 1,
          total: cfg.steps,
          metric: { runId, step: step + 1, split: 'eval', loss: ev, lr, tokensPerSec: 0 },
          stats: { runId, loss: lastLoss, evalLoss: ev, lr, tokensPerSec: Math.round(tps) },
        });
      }
    }
    const keptAt = kept.indexOf(step + 1);
    if (keptAt >= 0) await saveCheckpoint(keptCheckpointDir(runDir, step + 1), step + 1, vars, s.o.state(), meanLr(keptAt > 0 ? kept[keptAt - 1]! : 0, step + 1));
    if (cfg.recordTrajectories && ((step + 1) % cfg.checkpointEvery === 0 || step + 1 === cfg.steps)) await recordTrajectory(step + 1);
    if ((step + 1) % cfg.checkpointEvery === 0 && step + 1 < cfg.steps) {
      await saveCheckpoint(ckptDir, step + 1, vars, s.o.state());
      setTrainRunCheckpoint(db, runId, ckptDir);
    }
    await new Promise((r) => setImmediate(r));
  }
  return { lastLoss, tokensTotal, started, trajectoryRows: trajectoryRows.length };
}

export async function runTrainJob(ctx: JobContext): Promise<JobOutcome> {
  const { runId } = jobParams('train', ctx);
  const db = openProjectDb(ctx.dbPath);
  let model: LoadedModel | null = null;
  const vars = new Map<string, tf.Variable>();
  const opt: { o: Optimizer | null } = { o: null };
  let masks = new Map<string, tf.Tensor>();
  try {
    const run = trainRunRow(db, runId);
    if (!run) throw new WinnowError('not_found', `train run ${runId} not found`);
    const cfg = JSON.parse(run.config_json) as TrainConfig;
    const runDir = join(ctx.projectDir, 'runs', String(runId));
    const ckptDir = join(runDir, 'checkpoint');
    markTrainRunRunning(db, runId);

    ctx.progress({ current: 0, total: cfg.steps, message: 'loading model' });
    const dir = modelDir(db, cfg.modelId);
    model = await loadModel(dir);
    const m = model;
    const lora = cfg.lora ? resolveLora(m.config, m.tensors, cfg.lora, cfg.layers, layerBlockScores(db, cfg.modelId, cfg.lora.layers ?? cfg.layers)) : null;
    const chosen = lora ? { names: [], masks: new Map<string, tf.Tensor>() } : trainableSet(db, cfg, m);
    masks = chosen.masks;
    const trainable = chosen.names;
    const frozenBelow = lora ? Math.min(...lora.blocks) : lowestTrainableBlock(m, new Set(trainable));
    const { data, evalSeen } = await renderAndLoadData(ctx, db, runId, run, cfg, m);

    const hook = makeVariables(m, cfg, trainable, lora, vars);
    opt.o = createOptimizer(cfg.optimizer, { weightDecay: cfg.weightDecay });
    const start = resumeFromCheckpoint(ctx, db, runId, ckptDir, vars, opt.o);

    const padId = m.tokenizer.padId ?? m.tokenizer.eosId ?? 0;
    // UDS's memory buffer lives for the run; a resumed run starts it empty (it is not in the checkpoint)
    const uds = cfg.uds ? new UdsSelector({ keep: cfg.uds.keep, bufferSize: cfg.uds.bufferSize, lambda: cfg.uds.lambda, seed: cfg.seed }) : null;
    const setup: StepSetup = { m, cfg, train: data.train, vars, masks, o: opt.o, hook, padId, frozenBelow, uds, udsCount: { seen: 0, kept: 0 } };
    const { lastLoss, tokensTotal, started, trajectoryRows } = await trainLoop(ctx, db, runId, setup, { start, data, runDir, ckptDir, trainableCount: trainable.length });

    let adapterDir: string | null = null;
    if (hook && lora) {
      ctx.progress({ current: cfg.steps, total: cfg.steps, message: 'saving the LoRA adapter' });
      adapterDir = join(runDir, 'adapter');
      await writeAdapter(adapterDir, m.config, hook, adapterConfig(m.config, lora.settings, lora.blocks, dir));
      // the merged model is what the rest of Winnow opens (Models screen, exports, scoring as a reference)
      mergeLora(m.config, m.weights, hook);
    }
    ctx.progress({ current: cfg.steps, total: cfg.steps, message: 'saving the tuned model' });
    const outDir = join(runDir, 'model');
    await saveModel(outDir, { config: m.config, weights: m.weights }, { tokenizerFrom: dir });
    markTrainRunDone(db, runId, outDir, cfg.steps);
    const secs = (Date.now() - started) / 1000;
    return {
      message: `trained ${cfg.steps} steps on ${hook ? `LoRA adapters of ${hook.modules.size} modules` : `${trainable.length} tensors`} with ${scopeLabel(db, cfg)}; final loss ${lastLoss.toFixed(4)}${evalSeen ? `; warning: ${evalSeen.warning}` : ''}`,
      stats: {
        runId, outDir, loss: lastLoss, tokensPerSec: Math.round(tokensTotal / Math.max(secs, 1e-3)), trainableTensors: hook ? vars.size : trainable.length,
        ...(adapterDir ? { adapterDir, loraModules: hook!.modules.size } : {}),
        ...(evalSeen ? { evalRowsInMaskPass: evalSeen.rows } : {}),
        ...(uds ? { udsSeen: setup.udsCount.seen, udsKept: setup.udsCount.kept } : {}),
        ...(cfg.recordTrajectories ? { trajectoryExamples: trajectoryRows } : {}),
      },
    };
  } catch (err) {
    if (!(err instanceof WinnowError && err.code === 'cancelled')) {
      try {
        markTrainRunFailed(db, runId, (err as Error).message);
      } catch {
        // reported through the job
      }
    }
    throw err;
  } finally {
    for (const mk of masks.values()) mk.dispose();
    opt.o?.dispose();
    // LoRA's A and B are variables outside the weights record
    if (model) for (const [n, v] of vars) if (model.weights[n] !== v) v.dispose();
    if (model) disposeModel(model);
    db.close();
  }
}
