/**
 * The gradient pass of a scoring job: one backward pass per example (batch 1), shared by every gradient signal.
 *   fim, layer_grad_norm  over N seeded examples (default 100) of the scope or `subsetId`, every tensor
 *   grad_norm             every example of the scope, over the `gradLayers` tensors (default all)
 *   grad_sim_base         every example of the scope: cosine between its projected gradient and the mean of the
 *                         target set's normalised projected gradients (passes/projection.ts)
 * An example in several of these sets is differentiated once. The examples are put in a fixed order when the pass
 * starts — the target set first, so its mean is complete before any other example needs it — and that order, the
 * cursor and the running sums (fim's Σg² per tensor, Σ‖g‖ per tensor, the target sum, the projections of target
 * examples still waiting for the mean) are written with each finished batch's per-example values in one
 * transaction. A job killed mid-pass resumes at the last finished batch and ends with the values of an
 * uninterrupted run (the float32 sums are restored exactly and added to in the same order).
 *
 * A `winnow score --shard` run (scope.whole set) draws fim's examples over the whole file and differentiates those in
 * its rows, and keeps its sums when it is done (PARTIAL_SUM_KEYS) for scoring/shard.ts to write and `winnow merge` to add.
 */
import * as tf from '@tensorflow/tfjs';
import { getRender, writeExampleSignal, type Db } from '../db';
import type { LoadedModel } from '../models';
import type { JobContext } from '../util/job-context';
import { WinnowError } from '../util/errors';
import { resolveLayerSpec } from '../selection/layers';
import { layerBlockScores } from '../db/layers';
import { DEFAULT_FIM_EXAMPLES, EXAMPLE_GRADIENT_SIGNALS, LAYER_GRADIENT_SIGNALS } from './plan';
import { BLOCK_ROW_KIND, blockRowName, fimLossOf } from './layer-rows';
import { LayerAccumulator, exampleGradients, fimScale, seededChoice, squaredNorms, type LayerSums } from './passes/gradients';
import { DEFAULT_GRAD_DIM, cosine, norm, projectRows } from './passes/projection';
import { PassState } from '../db/pass-state';
import { countLayerScores, layerScoreInserter, recordThroughput } from '../db/score-runs';
import { learnableRenderIds, learnableSubsetRenderIds, renderLengthReader, scopedRenderIds } from '../db/score-rows';
import type { ScoreParams } from './params';
import { etaFromTokens } from '../util/eta';

const PASS = 'gradients';
const FIM = 1;
const SCOPE = 2;
const TARGET = 4;
/** gradients of one batch held for the projection (B × P float32) */
const MAX_PROJECTION_BYTES = 256 << 20;
/** fim sums up to this size are saved with every batch; larger ones at most every FIM_SAVE_SECONDS (env overrides for tests) */
const FIM_STATE_BYTES = Number(process.env.WINNOW_FIM_STATE_BYTES ?? 64 << 20);
const FIM_SAVE_SECONDS = Number(process.env.WINNOW_FIM_SAVE_SECONDS ?? 30);

interface Meta {
  cursor: number;
  total: number;
  nTargets: number;
  done: boolean;
}

export interface Scope {
  sql: string;
  args: unknown[];
  /** a `--shard` run's scope before it was cut to the shard's rows: fim draws its examples from this */
  whole?: Scope;
}

/**
 * What a `--shard` run keeps of the pass once it is done (the rest is cleared as in any run): the fim /
 * layer_grad_norm sums over the shard's share of the drawn examples, for `winnow merge` to add up (scoring/shard.ts).
 */
export const PARTIAL_SUM_KEYS = { sq: 'partial:sq:', normSum: 'partial:norm_sum', blockNormSum: 'partial:block_norm_sum', count: 'partial:count', names: 'partial:names', blocks: 'partial:blocks', targetSum: 'partial:target_sum' };

function cancelled(): WinnowError {
  return new WinnowError('cancelled', 'cancelled');
}

/** The tensors a per-example gradient signal is taken over: `gradLayers` (a layer spec) or every tensor. */
export function gradientTensors(db: Db, model: LoadedModel, modelId: number, spec: string | undefined): string[] {
  const all = model.tensors.map((t) => t.name).filter((n) => n in model.weights);
  if (!spec || spec.trim() === 'all') return all;
  const chosen = new Set(resolveLayerSpec(spec, model.tensors, layerBlockScores(db, modelId, spec)));
  const names = all.filter((n) => chosen.has(n));
  if (!names.length) throw new WinnowError('bad_input', `gradLayers "${spec}" selects no tensor of ${model.dir}`);
  return names;
}

/** Fixed example order and roles, chosen once per run. */
function chooseExamples(db: Db, p: ScoreParams, keyId: number, scope: Scope): { order: Int32Array; flags: Uint8Array; nTargets: number } {
  const want = new Set(p.signals);
  const roles = new Map<number, number>();
  const mark = (id: number, f: number) => roles.set(id, (roles.get(id) ?? 0) | f);
  if (LAYER_GRADIENT_SIGNALS.some((s) => want.has(s))) {
    // a shard draws from the whole file, as the unsharded run does, and differentiates the drawn examples in its rows
    // (examples with nothing to learn have a zero gradient and would only dilute the mean)
    const candidates = learnableRenderIds(db, scope.whole ?? scope, p.subsetId);
    const mine = scope.whole ? new Set(scopedRenderIds(db, scope)) : null;
    for (const id of seededChoice(candidates, p.fimExamples ?? DEFAULT_FIM_EXAMPLES, p.seed ?? 0)) if (!mine || mine.has(id)) mark(id, FIM);
  }
  if (EXAMPLE_GRADIENT_SIGNALS.some((s) => want.has(s))) {
    for (const id of scopedRenderIds(db, scope)) mark(id, SCOPE);
  }
  if (want.has('grad_sim_base')) {
    if (p.targetSubsetId === undefined) throw new WinnowError('bad_input', 'grad_sim_base needs a target set: targetSubsetId (CLI --target-subset NAME)');
    const ids = learnableSubsetRenderIds(db, keyId, p.targetSubsetId);
    if (!ids.length) throw new WinnowError('bad_input', `grad_sim_base: target subset ${p.targetSubsetId} has no rendered example with trainable tokens`);
    for (const id of ids) mark(id, TARGET);
  }
  const all = [...roles.keys()].sort((a, b) => a - b);
  const targets = all.filter((id) => roles.get(id)! & TARGET);
  const order = Int32Array.from([...targets, ...all.filter((id) => !(roles.get(id)! & TARGET))]);
  return { order, flags: Uint8Array.from(order, (id) => roles.get(id)!), nTargets: targets.length };
}

/** What one gradient pass works with once it has started (or resumed). */
interface Pass {
  ctx: JobContext;
  db: Db;
  runId: number;
  model: LoadedModel;
  keyId: number;
  want: Set<string>;
  st: PassState;
  /** the examples in pass order, and each one's roles (FIM | SCOPE | TARGET) */
  order: Int32Array;
  flags: Uint8Array;
  /** every tensor (fim's), the differentiated ones, and the per-example signals' among those */
  allNames: string[];
  gradNames: string[];
  selIdx: number[];
  selParams: number;
  /** grad_sim_base's projection: dimensions and seed */
  d: number;
  seed: number;
  form: ReturnType<typeof fimLossOf>;
}

/** One batch's per-example values, and the gradients grad_sim_base projects (with their places in the order). */
interface BatchOut {
  normOut: Array<[number, number | null]>;
  simOut: Array<[number, number | null]>;
  rows: Float32Array[];
  rowAt: number[];
}

export async function gradientPass(
  ctx: JobContext,
  db: Db,
  runId: number,
  p: ScoreParams,
  model: LoadedModel,
  scope: Scope,
  keyId: number,
): Promise<Record<string, number>> {
  const want = new Set(p.signals);
  const layerSignals = LAYER_GRADIENT_SIGNALS.filter((s) => want.has(s));
  const st = new PassState(db, runId, PASS);
  const meta = startOrResume(db, runId, p, scope, keyId, st, layerSignals);
  if (!meta) return {};

  const allNames = model.tensors.map((t) => t.name).filter((n) => n in model.weights);
  const perExample = want.has('grad_norm') || want.has('grad_sim_base');
  const selNames = perExample ? gradientTensors(db, model, p.modelId, p.gradLayers) : [];
  // fim needs every tensor; otherwise only the chosen ones are differentiated
  const gradNames = layerSignals.length ? allNames : selNames;
  const selIdx = selNames.map((n) => gradNames.indexOf(n));
  const s: Pass = {
    ctx, db, runId, model, keyId, want, st, order: st.int32('order')!, flags: st.uint8('flags')!, allNames, gradNames, selIdx,
    selParams: selIdx.reduce((a, k) => a + model.weights[gradNames[k]!]!.size, 0), d: p.gradDim ?? DEFAULT_GRAD_DIM, seed: p.seed ?? 0, form: fimLossOf(p),
  };

  const acc = await restoreFim(s, meta, layerSignals.length > 0);
  // The fim sums are one float per parameter (GPT-2 small: 500 MB), so past FIM_STATE_BYTES they are saved at most
  // every FIM_SAVE_SECONDS; a resumed pass re-adds the fim examples between their save and the cursor (same order,
  // so the same float32 sums), while the per-example values are saved with every batch.
  const accBytes = acc ? allNames.reduce((a, n) => a + 4 * model.weights[n]!.size, 0) : 0;
  let fimSavedAt = Date.now();
  const targetSum = st.float64('target_sum') ?? new Float64Array(s.d);
  const batchRows = Math.max(1, Math.min(p.batchSize, want.has('grad_sim_base') ? Math.floor(MAX_PROJECTION_BYTES / (4 * Math.max(1, s.selParams))) : p.batchSize));
  const started = Date.now();
  const startCursor = meta.cursor;
  // tokens still to read, for the ETA (util/eta.ts): one example's backward pass costs about its length
  const tokens = { done: 0, left: 0 };
  const lengthOf = renderLengthReader(db);
  for (let k = meta.cursor; k < meta.total; k++) tokens.left += lengthOf(s.order[k]!, keyId) ?? 0;

  try {
    while (meta.cursor < meta.total) {
      const from = meta.cursor;
      const to = Math.min(meta.total, from + batchRows);
      const out = await differentiateBatch(s, acc, from, to, tokens);
      if (ctx.isCancelled()) throw cancelled();
      const { newTproj, targetsDone } = projectBatch(s, meta, targetSum, out, from, to);
      const saveFim = acc !== null && (accBytes <= FIM_STATE_BYTES || Date.now() - fimSavedAt >= FIM_SAVE_SECONDS * 1000 || to === meta.total);
      const sums = saveFim ? await acc!.sums() : null;
      meta.cursor = to;
      saveBatch(s, meta, out, sums, targetSum, newTproj, targetsDone);
      if (saveFim) fimSavedAt = Date.now();
      const rate = etaFromTokens({ examplesDone: meta.cursor - startCursor, tokensDone: tokens.done, tokensLeft: Math.max(0, tokens.left), seconds: (Date.now() - started) / 1000 });
      ctx.progress({
        current: meta.cursor,
        total: meta.total,
        message: `gradients ${meta.cursor}/${meta.total}`,
        etaSeconds: rate.etaSeconds,
        stats: { examplesPerSec: Math.round(rate.examplesPerSec * 10) / 10, tokensPerSec: Math.round(rate.tokensPerSec), tokensLeft: Math.max(0, tokens.left), runId },
      });
    }
    const fimExamples = await finishPass(s, meta, acc, targetSum, scope.whole !== undefined);
    const secs = (Date.now() - started) / 1000;
    if (meta.cursor > startCursor && secs > 0) recordThroughput(db, 'score_backward_examples_per_sec', (meta.cursor - startCursor) / secs);
    return { gradientExamples: meta.total, fimExamples, gradientSeconds: Math.round(secs * 10) / 10 };
  } finally {
    acc?.dispose();
  }
}

/**
 * The pass's meta: the saved one of an earlier attempt, or a new one, with the example order and roles chosen and
 * saved now. null when the pass is done.
 */
function startOrResume(db: Db, runId: number, p: ScoreParams, scope: Scope, keyId: number, st: PassState, layerSignals: string[]): Meta | null {
  const want = new Set(p.signals);
  const meta = st.json<Meta>('meta');
  if (meta?.done) return null;
  // a run from before this pass kept state: its finished layer scores mean the pass is done
  if (!meta && !EXAMPLE_GRADIENT_SIGNALS.some((s) => want.has(s)) && countLayerScores(db, runId, layerSignals[0]!) > 0) return null;
  if (meta) return meta;
  const chosen = chooseExamples(db, p, keyId, scope);
  // a shard may hold none of fim's drawn examples: its sums are then zero over zero examples
  if (!chosen.order.length && !scope.whole) throw new WinnowError('bad_input', `${p.signals.filter((s) => [...LAYER_GRADIENT_SIGNALS, ...EXAMPLE_GRADIENT_SIGNALS].includes(s as never)).join(', ')}: no rendered example with trainable tokens in scope`);
  const m: Meta = { cursor: 0, total: chosen.order.length, nTargets: chosen.nTargets, done: false };
  db.transaction(() => {
    st.putArray('order', chosen.order);
    st.putArray('flags', chosen.flags);
    st.putJson('meta', m);
  })();
  return m;
}

/**
 * fim's running sums (null without a layer signal): restored as last saved, and the fim examples between that save
 * and the cursor added again.
 */
async function restoreFim(s: Pass, meta: Meta, layerSignals: boolean): Promise<LayerAccumulator | null> {
  const { st, allNames, model } = s;
  // saved by an earlier version without the block sums: the fim examples are added again from the start
  const fimSaved = meta.cursor > 0 && st.json<number>('fim_count') !== undefined && st.float64('block_norm_sum') !== undefined;
  const acc = layerSignals
    ? new LayerAccumulator(allNames, model, fimSaved
      ? { sq: allNames.map((n) => st.float32(`sq:${n}`)!), normSum: st.float64('norm_sum')!, blockNormSum: st.float64('block_norm_sum')!, count: st.json<number>('fim_count')! }
      : undefined)
    : null;
  const fimCursor = fimSaved ? (st.json<number>('fim_cursor') ?? meta.cursor) : 0;
  if (acc && fimCursor < meta.cursor) {
    for (let k = fimCursor; k < meta.cursor; k++) {
      if (s.ctx.isCancelled()) throw cancelled();
      if (!(s.flags[k]! & FIM)) continue;
      const r = getRender(s.db, s.order[k]!, s.keyId);
      const grads = r ? exampleGradients(model, r, s.gradNames) : null;
      if (!grads) continue;
      try {
        acc.add(grads, await squaredNorms(grads), fimScale(r!, s.form));
      } finally {
        tf.dispose(grads);
      }
    }
  }
  return acc;
}

/** One backward pass per example of order[from, to): fim's sums, grad_norm, and the gradients to project. */
async function differentiateBatch(s: Pass, acc: LayerAccumulator | null, from: number, to: number, tokens: { done: number; left: number }): Promise<BatchOut> {
  const { want, selIdx } = s;
  const out: BatchOut = { normOut: [], simOut: [], rows: [], rowAt: [] };
  for (let k = from; k < to; k++) {
    if (s.ctx.isCancelled()) throw cancelled();
    const id = s.order[k]!;
    const f = s.flags[k]!;
    const r = getRender(s.db, id, s.keyId);
    if (!r) throw new WinnowError('not_found', `example ${id} is no longer rendered with render key ${s.keyId}; start the scoring again`);
    tokens.done += r.nTokens;
    tokens.left -= r.nTokens;
    const grads = exampleGradients(s.model, r, s.gradNames);
    if (!grads) {
      if (f & SCOPE && want.has('grad_norm')) out.normOut.push([id, null]);
      if (f & SCOPE && want.has('grad_sim_base')) out.simOut.push([id, null]);
      continue;
    }
    try {
      const sq = await squaredNorms(grads);
      if (acc && f & FIM) acc.add(grads, sq, fimScale(r, s.form));
      if (f & SCOPE && want.has('grad_norm')) out.normOut.push([id, Math.sqrt(selIdx.reduce((a, k2) => a + sq[k2]!, 0))]);
      if (want.has('grad_sim_base') && f & (SCOPE | TARGET)) {
        const row = new Float32Array(s.selParams);
        let o = 0;
        for (const k2 of selIdx) {
          const v = (await grads[k2]!.data()) as Float32Array;
          row.set(v, o);
          o += v.length;
        }
        out.rows.push(row);
        out.rowAt.push(k);
      }
    } finally {
      tf.dispose(grads);
    }
    await new Promise((res) => setImmediate(res));
  }
  return out;
}

/**
 * The batch's projections: targets (first in the order) add to the mean; the others compare with the finished mean.
 * Returns the projections of targets in scope (waiting for the mean) and whether the mean is complete with this batch.
 */
function projectBatch(s: Pass, meta: Meta, targetSum: Float64Array, out: BatchOut, from: number, to: number): { newTproj: Array<[number, Float64Array]>; targetsDone: boolean } {
  const { d, flags, order } = s;
  const newTproj: Array<[number, Float64Array]> = [];
  if (out.rows.length) {
    const proj = projectRows(out.rows, d, s.seed);
    proj.forEach((v, i) => {
      const k = out.rowAt[i]!;
      const id = order[k]!;
      if (flags[k]! & TARGET) {
        const n = norm(v);
        if (n > 0) for (let j = 0; j < d; j++) targetSum[j] += v[j]! / n;
        if (flags[k]! & SCOPE) newTproj.push([id, v]);
      } else {
        out.simOut.push([id, cosine(v, targetSum)]);
      }
    });
  }
  const targetsDone = s.want.has('grad_sim_base') && from < meta.nTargets && to >= meta.nTargets;
  if (targetsDone) {
    // target examples in scope get their grad_sim now that the mean is complete
    const waiting: Array<[number, Float64Array]> = s.st.keys('tproj:').map((key) => [Number(key.slice('tproj:'.length)), s.st.float64(key)!]);
    for (const [id, v] of [...waiting, ...newTproj]) out.simOut.push([id, cosine(v, targetSum)]);
  }
  return { newTproj, targetsDone };
}

/** A finished batch's values and the pass's state up to its end (meta.cursor), in one transaction. */
function saveBatch(
  s: Pass, meta: Meta, out: BatchOut, sums: LayerSums | null, targetSum: Float64Array, newTproj: Array<[number, Float64Array]>, targetsDone: boolean,
): void {
  const { db, runId, st } = s;
  db.transaction(() => {
    if (out.normOut.length) writeExampleSignal(db, runId, 'grad_norm', out.normOut);
    if (out.simOut.length) writeExampleSignal(db, runId, 'grad_sim_base', out.simOut);
    if (sums) {
      s.allNames.forEach((n, k) => st.putArray(`sq:${n}`, sums.sq[k]!));
      st.putArray('norm_sum', sums.normSum);
      st.putArray('block_norm_sum', sums.blockNormSum);
      st.putJson('fim_count', sums.count);
      st.putJson('fim_cursor', meta.cursor);
    }
    if (s.want.has('grad_sim_base')) {
      st.putArray('target_sum', targetSum);
      if (targetsDone) for (const key of st.keys('tproj:')) st.delete(key);
      else for (const [id, v] of newTproj) st.putArray(`tproj:${id}`, v);
    }
    st.putJson('meta', meta);
  })();
}

/**
 * The layer scores, and the pass marked done with its sums cleared (a shard's share kept for `winnow merge`), in one
 * transaction. Returns how many examples fim was taken over.
 */
async function finishPass(s: Pass, meta: Meta, acc: LayerAccumulator | null, targetSum: Float64Array, shard: boolean): Promise<number> {
  const { db, runId, st, want, model, allNames } = s;
  const scores = acc ? await acc.scores() : null;
  const partial = acc && shard ? { sums: await acc.sums(), blocks: acc.blocks } : null;
  const info = new Map(model.tensors.map((t) => [t.name, t]));
  const insert = layerScoreInserter(db, { replace: true });
  meta.done = true;
  db.transaction(() => {
    if (scores) {
      scores.names.forEach((name, k) => {
        const t = info.get(name)!;
        if (want.has('fim')) insert(runId, { tensorName: name, block: t.block, kind: t.kind, signal: 'fim', value: scores.fim[k]! });
        if (want.has('layer_grad_norm')) insert(runId, { tensorName: name, block: t.block, kind: t.kind, signal: 'layer_grad_norm', value: scores.gradNorm[k]! });
      });
      if (want.has('layer_grad_norm')) {
        scores.blocks.forEach((b, k) => insert(runId, { tensorName: blockRowName(b), block: b, kind: BLOCK_ROW_KIND, signal: 'layer_grad_norm', value: scores.blockGradNorm[k]! }));
      }
    }
    // the sums are not needed once the results are written; the marker says the pass is done
    st.clearExcept(['meta']);
    if (partial) {
      // a shard's share of the sums, for winnow merge: float32 Σg² as it summed them, widened exactly to float64
      partial.sums.sq.forEach((a, k) => st.putArray(`${PARTIAL_SUM_KEYS.sq}${allNames[k]!}`, Float64Array.from(a)));
      st.putArray(PARTIAL_SUM_KEYS.normSum, partial.sums.normSum);
      st.putArray(PARTIAL_SUM_KEYS.blockNormSum, partial.sums.blockNormSum);
      st.putJson(PARTIAL_SUM_KEYS.count, partial.sums.count);
      st.putJson(PARTIAL_SUM_KEYS.names, allNames.map((n) => ({ name: n, size: model.weights[n]!.size, block: info.get(n)!.block, kind: info.get(n)!.kind })));
      st.putJson(PARTIAL_SUM_KEYS.blocks, partial.blocks);
    }
    // every shard adds up the whole target set (a file of its own): merge checks they all compared with one mean
    if (shard && want.has('grad_sim_base')) st.putArray(PARTIAL_SUM_KEYS.targetSum, targetSum);
    st.putJson('meta', meta);
  })();
  return scores?.examples ?? 0;
}
