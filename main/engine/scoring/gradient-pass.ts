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
import { LayerAccumulator, exampleGradients, fimScale, seededChoice, squaredNorms } from './passes/gradients';
import { DEFAULT_GRAD_DIM, cosine, norm, projectRows } from './passes/projection';
import { PassState } from '../db/pass-state';
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
    const subset = p.subsetId !== undefined ? 'AND r.example_id IN (SELECT example_id FROM subset_members WHERE subset_id = ?)' : '';
    // a shard draws from the whole file, as the unsharded run does, and differentiates the drawn examples in its rows
    const from = scope.whole ?? scope;
    const args = p.subsetId !== undefined ? [...from.args, p.subsetId] : from.args;
    // examples with nothing to learn have a zero gradient and would only dilute the mean
    const candidates = db
      .prepare(`SELECT r.example_id FROM renders r JOIN examples e ON e.id = r.example_id WHERE ${from.sql} AND r.n_label > 0 ${subset} ORDER BY r.example_id`)
      .pluck()
      .all(...args) as number[];
    const mine = scope.whole
      ? new Set(db.prepare(`SELECT r.example_id FROM renders r JOIN examples e ON e.id = r.example_id WHERE ${scope.sql}`).pluck().all(...scope.args) as number[])
      : null;
    for (const id of seededChoice(candidates, p.fimExamples ?? DEFAULT_FIM_EXAMPLES, p.seed ?? 0)) if (!mine || mine.has(id)) mark(id, FIM);
  }
  if (EXAMPLE_GRADIENT_SIGNALS.some((s) => want.has(s))) {
    const ids = db.prepare(`SELECT r.example_id FROM renders r JOIN examples e ON e.id = r.example_id WHERE ${scope.sql} ORDER BY r.example_id`).pluck().all(...scope.args) as number[];
    for (const id of ids) mark(id, SCOPE);
  }
  if (want.has('grad_sim_base')) {
    if (p.targetSubsetId === undefined) throw new WinnowError('bad_input', 'grad_sim_base needs a target set: targetSubsetId (CLI --target-subset NAME)');
    const ids = db
      .prepare(
        `SELECT m.example_id FROM subset_members m JOIN renders r ON r.example_id = m.example_id AND r.render_key_id = ?
         WHERE m.subset_id = ? AND r.n_label > 0 ORDER BY m.example_id`,
      )
      .pluck()
      .all(keyId, p.targetSubsetId) as number[];
    if (!ids.length) throw new WinnowError('bad_input', `grad_sim_base: target subset ${p.targetSubsetId} has no rendered example with trainable tokens`);
    for (const id of ids) mark(id, TARGET);
  }
  const all = [...roles.keys()].sort((a, b) => a - b);
  const targets = all.filter((id) => roles.get(id)! & TARGET);
  const order = Int32Array.from([...targets, ...all.filter((id) => !(roles.get(id)! & TARGET))]);
  return { order, flags: Uint8Array.from(order, (id) => roles.get(id)!), nTargets: targets.length };
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
  let meta = st.json<Meta>('meta');
  if (meta?.done) return {};
  // a run from before this pass kept state: its finished layer scores mean the pass is done
  if (!meta && !EXAMPLE_GRADIENT_SIGNALS.some((s) => want.has(s)) &&
    (db.prepare('SELECT COUNT(*) FROM layer_scores WHERE run_id = ? AND signal = ?').pluck().get(runId, layerSignals[0]) as number) > 0) {
    return {};
  }
  if (!meta) {
    const chosen = chooseExamples(db, p, keyId, scope);
    // a shard may hold none of fim's drawn examples: its sums are then zero over zero examples
    if (!chosen.order.length && !scope.whole) throw new WinnowError('bad_input', `${p.signals.filter((s) => [...LAYER_GRADIENT_SIGNALS, ...EXAMPLE_GRADIENT_SIGNALS].includes(s as never)).join(', ')}: no rendered example with trainable tokens in scope`);
    meta = { cursor: 0, total: chosen.order.length, nTargets: chosen.nTargets, done: false };
    const m = meta;
    db.transaction(() => {
      st.putArray('order', chosen.order);
      st.putArray('flags', chosen.flags);
      st.putJson('meta', m);
    })();
  }
  const order = st.int32('order')!;
  const flags = st.uint8('flags')!;

  const allNames = model.tensors.map((t) => t.name).filter((n) => n in model.weights);
  const perExample = want.has('grad_norm') || want.has('grad_sim_base');
  const selNames = perExample ? gradientTensors(db, model, p.modelId, p.gradLayers) : [];
  // fim needs every tensor; otherwise only the chosen ones are differentiated
  const gradNames = layerSignals.length ? allNames : selNames;
  const selIdx = selNames.map((n) => gradNames.indexOf(n));
  const selParams = selIdx.reduce((a, k) => a + model.weights[gradNames[k]!]!.size, 0);
  const d = p.gradDim ?? DEFAULT_GRAD_DIM;
  const seed = p.seed ?? 0;

  const form = fimLossOf(p);
  // saved by an earlier version without the block sums: the fim examples are added again from the start
  const fimSaved = meta.cursor > 0 && st.json<number>('fim_count') !== undefined && st.float64('block_norm_sum') !== undefined;
  const acc = layerSignals.length
    ? new LayerAccumulator(allNames, model, fimSaved
      ? { sq: allNames.map((n) => st.float32(`sq:${n}`)!), normSum: st.float64('norm_sum')!, blockNormSum: st.float64('block_norm_sum')!, count: st.json<number>('fim_count')! }
      : undefined)
    : null;
  // The fim sums are one float per parameter (GPT-2 small: 500 MB), so past FIM_STATE_BYTES they are saved at most
  // every FIM_SAVE_SECONDS; a resumed pass re-adds the fim examples between their save and the cursor (same order,
  // so the same float32 sums), while the per-example values are saved with every batch.
  const accBytes = acc ? allNames.reduce((a, n) => a + 4 * model.weights[n]!.size, 0) : 0;
  let fimCursor = fimSaved ? (st.json<number>('fim_cursor') ?? meta.cursor) : 0;
  if (acc && fimCursor < meta.cursor) {
    for (let k = fimCursor; k < meta.cursor; k++) {
      if (ctx.isCancelled()) throw cancelled();
      if (!(flags[k]! & FIM)) continue;
      const r = getRender(db, order[k]!, keyId);
      const grads = r ? exampleGradients(model, r, gradNames) : null;
      if (!grads) continue;
      try {
        acc.add(grads, await squaredNorms(grads), fimScale(r!, form));
      } finally {
        tf.dispose(grads);
      }
    }
    fimCursor = meta.cursor;
  }
  let fimSavedAt = Date.now();
  const targetSum = st.float64('target_sum') ?? new Float64Array(d);
  const batchRows = Math.max(1, Math.min(p.batchSize, want.has('grad_sim_base') ? Math.floor(MAX_PROJECTION_BYTES / (4 * Math.max(1, selParams))) : p.batchSize));
  const started = Date.now();
  const startCursor = meta.cursor;
  let tokensDone = 0;
  // tokens still to read, for the ETA (util/eta.ts): one example's backward pass costs about its length
  const lengthOf = db.prepare('SELECT n_tokens FROM renders WHERE example_id = ? AND render_key_id = ?').pluck();
  let tokensLeft = 0;
  for (let k = meta.cursor; k < meta.total; k++) tokensLeft += (lengthOf.get(order[k]!, keyId) as number | undefined) ?? 0;

  try {
    while (meta.cursor < meta.total) {
      const from = meta.cursor;
      const to = Math.min(meta.total, from + batchRows);
      const normOut: Array<[number, number | null]> = [];
      const simOut: Array<[number, number | null]> = [];
      const rows: Float32Array[] = [];
      const rowAt: number[] = [];
      for (let k = from; k < to; k++) {
        if (ctx.isCancelled()) throw cancelled();
        const id = order[k]!;
        const f = flags[k]!;
        const r = getRender(db, id, keyId);
        if (!r) throw new WinnowError('not_found', `example ${id} is no longer rendered with render key ${keyId}; start the scoring again`);
        tokensDone += r.nTokens;
        tokensLeft -= r.nTokens;
        const grads = exampleGradients(model, r, gradNames);
        if (!grads) {
          if (f & SCOPE && want.has('grad_norm')) normOut.push([id, null]);
          if (f & SCOPE && want.has('grad_sim_base')) simOut.push([id, null]);
          continue;
        }
        try {
          const sq = await squaredNorms(grads);
          if (acc && f & FIM) acc.add(grads, sq, fimScale(r, form));
          if (f & SCOPE && want.has('grad_norm')) normOut.push([id, Math.sqrt(selIdx.reduce((a, k2) => a + sq[k2]!, 0))]);
          if (want.has('grad_sim_base') && f & (SCOPE | TARGET)) {
            const row = new Float32Array(selParams);
            let o = 0;
            for (const k2 of selIdx) {
              const v = (await grads[k2]!.data()) as Float32Array;
              row.set(v, o);
              o += v.length;
            }
            rows.push(row);
            rowAt.push(k);
          }
        } finally {
          tf.dispose(grads);
        }
        await new Promise((res) => setImmediate(res));
      }
      if (ctx.isCancelled()) throw cancelled();

      // projections: targets (first in the order) add to the mean; the others compare with the finished mean
      const newTproj: Array<[number, Float64Array]> = [];
      if (rows.length) {
        const proj = projectRows(rows, d, seed);
        proj.forEach((v, i) => {
          const k = rowAt[i]!;
          const id = order[k]!;
          if (flags[k]! & TARGET) {
            const n = norm(v);
            if (n > 0) for (let j = 0; j < d; j++) targetSum[j] += v[j]! / n;
            if (flags[k]! & SCOPE) newTproj.push([id, v]);
          } else {
            simOut.push([id, cosine(v, targetSum)]);
          }
        });
      }
      const targetsDone = want.has('grad_sim_base') && from < meta.nTargets && to >= meta.nTargets;
      if (targetsDone) {
        // target examples in scope get their grad_sim now that the mean is complete
        const waiting: Array<[number, Float64Array]> = st.keys('tproj:').map((key) => [Number(key.slice('tproj:'.length)), st.float64(key)!]);
        for (const [id, v] of [...waiting, ...newTproj]) simOut.push([id, cosine(v, targetSum)]);
      }
      const saveFim = acc !== null && (accBytes <= FIM_STATE_BYTES || Date.now() - fimSavedAt >= FIM_SAVE_SECONDS * 1000 || to === meta.total);
      const sums = saveFim ? await acc!.sums() : null;
      meta.cursor = to;
      const m = meta;
      db.transaction(() => {
        if (normOut.length) writeExampleSignal(db, runId, 'grad_norm', normOut);
        if (simOut.length) writeExampleSignal(db, runId, 'grad_sim_base', simOut);
        if (sums) {
          allNames.forEach((n, k) => st.putArray(`sq:${n}`, sums.sq[k]!));
          st.putArray('norm_sum', sums.normSum);
          st.putArray('block_norm_sum', sums.blockNormSum);
          st.putJson('fim_count', sums.count);
          st.putJson('fim_cursor', to);
        }
        if (want.has('grad_sim_base')) {
          st.putArray('target_sum', targetSum);
          if (targetsDone) for (const key of st.keys('tproj:')) st.delete(key);
          else for (const [id, v] of newTproj) st.putArray(`tproj:${id}`, v);
        }
        st.putJson('meta', m);
      })();
      if (saveFim) fimSavedAt = Date.now();
      const rate = etaFromTokens({ examplesDone: meta.cursor - startCursor, tokensDone, tokensLeft: Math.max(0, tokensLeft), seconds: (Date.now() - started) / 1000 });
      ctx.progress({
        current: meta.cursor,
        total: meta.total,
        message: `gradients ${meta.cursor}/${meta.total}`,
        etaSeconds: rate.etaSeconds,
        stats: { examplesPerSec: Math.round(rate.examplesPerSec * 10) / 10, tokensPerSec: Math.round(rate.tokensPerSec), tokensLeft: Math.max(0, tokensLeft), runId },
      });
    }

    const scores = acc ? await acc.scores() : null;
    const partial = acc && scope.whole ? { sums: await acc.sums(), blocks: acc.blocks } : null;
    const info = new Map(model.tensors.map((t) => [t.name, t]));
    const insert = db.prepare('INSERT OR REPLACE INTO layer_scores (run_id, tensor_name, block, kind, signal, value) VALUES (?, ?, ?, ?, ?, ?)');
    meta.done = true;
    const m = meta;
    db.transaction(() => {
      if (scores) {
        scores.names.forEach((name, k) => {
          const t = info.get(name)!;
          if (want.has('fim')) insert.run(runId, name, t.block, t.kind, 'fim', scores.fim[k]!);
          if (want.has('layer_grad_norm')) insert.run(runId, name, t.block, t.kind, 'layer_grad_norm', scores.gradNorm[k]!);
        });
        if (want.has('layer_grad_norm')) {
          scores.blocks.forEach((b, k) => insert.run(runId, blockRowName(b), b, BLOCK_ROW_KIND, 'layer_grad_norm', scores.blockGradNorm[k]!));
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
      if (scope.whole && want.has('grad_sim_base')) st.putArray(PARTIAL_SUM_KEYS.targetSum, targetSum);
      st.putJson('meta', m);
    })();
    const secs = (Date.now() - started) / 1000;
    if (meta.cursor > startCursor && secs > 0) {
      db.prepare(`INSERT OR REPLACE INTO project_meta (key, value) VALUES ('score_backward_examples_per_sec', ?)`).run(String((meta.cursor - startCursor) / secs));
    }
    return { gradientExamples: meta.total, fimExamples: scores?.examples ?? 0, gradientSeconds: Math.round(secs * 10) / 10 };
  } finally {
    acc?.dispose();
  }
}
