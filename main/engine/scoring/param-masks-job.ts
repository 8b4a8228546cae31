/**
 * paramMasks.compute as a job: one gradient pass (batch 1, one backward per example, scoring/passes/gradients.ts
 * `exampleGradients`) over a seeded choice of the subset's (or dataset's) examples, with the token policy training
 * would use, accumulating Σg for the scope's tensors (salience: its linear weight matrices unless `allParams`); then
 * the mask (param-masks.ts) is stored with its provenance.
 *
 * Optionally the rows a training run would hold out for eval (training/data.ts `splitEval`, same rows, token policy,
 * max tokens, eval fraction and seed) are left out before the choice, so the run's eval loss stays held out.
 *
 * Resumable like the scoring gradient pass: when the pass starts, its example ids (in pass order), the scope's tensor
 * names and a fingerprint of the examples' tokens and masks go to `job_state` (migration 009); the float32 sums and
 * the cursor follow as the pass goes — while they are small (WINNOW_MASK_STATE_BYTES, default 16 MiB) whenever
 * 50× the last save's time has passed since it (so saving costs at most ~2%), else at most every
 * WINNOW_MASK_SAVE_SECONDS (default 30) — and always on cancel. A resumed job restores the sums exactly and adds
 * the remaining examples in the same order, so its mask is bit-identical to an uninterrupted run's. The state is
 * deleted in the transaction that saves the mask, or by `jobs.discard`.
 */
import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs';
import { openProjectDb, renderKeyId, renderKeyOf, type Db } from '../db';
import { disposeModel, loadModel, type LoadedModel } from '../models';
import { renderDataset } from '../data/renderDataset';
import { DEFAULT_RENDER } from '../data/render-key';
import { layerBlockScores } from '../db/layers';
import { findModelRow } from '../db/models';
import { datasetsOfExamples, subsetName as subsetNameOf } from '../db/score-rows';
import { exampleGradients, seededChoice, type GradientExample } from './passes/gradients';
import type { PassState } from '../db/pass-state';
import type { ParamMaskRequest } from '../../../preload/contract';
import { jobParams, type JobContext, type JobOutcome } from '../util/job-context';
import { WinnowError } from '../util/errors';
import { resolveLayerSpec } from '../selection/layers';
import { createTokenMasker, trainTokenPolicy, type MaskedExample } from '../selection/token-policy';
import { isTrainable, splitEval, trainCandidateIds } from '../training/data';
import { computeParamMask, isLinearWeight, type ParamMaskMethod, type TensorGrads } from '../selection/param-masks';
import type { TensorInfo } from '../models/types';
import { assertMaskNameFree, paramMaskPassState, saveParamMask, type ParamMaskProvenance } from '../selection/param-masks-store';

/** What each salience metric computes, recorded with every mask (G = Σ_n g_n over the pass's examples). */
const SALIENCE_FORMS = { abs_g: '|Σg|', abs_wg: '|w·Σg|', sq_wg: '(w·Σg)²' } as const;

export function methodOf(req: ParamMaskRequest): ParamMaskMethod {
  return req.method === 'gps'
    ? { method: 'gps', density: req.density, perRow: req.perRow }
    : { method: 'salience', metric: req.metric, density: req.density, topk: req.topk, allParams: req.allParams };
}

export function specOf(req: ParamMaskRequest): string {
  if (req.method === 'gps') return `gps:${req.perRow ?? req.density}`;
  return `salience:${req.metric}:${req.density}:${req.topk}${req.allParams ? ':all' : ''}`;
}

/**
 * The tensors a mask's gradient pass covers: the scope's, and for salience only its linear weight matrices unless
 * `allParams` (as SPEFT scores its nn.Linear weights only).
 */
export function maskTensors(req: ParamMaskRequest, scope: string[], tensors: TensorInfo[]): string[] {
  if (req.method !== 'salience' || req.allParams) return scope;
  const info = new Map(tensors.map((t) => [t.name, t]));
  const names = scope.filter((n) => isLinearWeight(info.get(n)!));
  if (!names.length) {
    throw new WinnowError('bad_input', `parameter mask "${req.name}": scope "${req.scope}" has no linear weight matrix (salience scores those only; ask for all tensors of the scope with allParams, CLI ":all")`);
  }
  return names;
}

/** Small sums are saved once this many times the last save's duration has passed since it. */
const SAVE_COST_FACTOR = 50;

/** Read per job (not at import) so tests can change them. */
function savePolicy(): { bytes: number; seconds: number } {
  return { bytes: Number(process.env.WINNOW_MASK_STATE_BYTES ?? 16 << 20), seconds: Number(process.env.WINNOW_MASK_SAVE_SECONDS ?? 30) };
}

interface Meta {
  /** examples whose gradients are in the saved sums */
  cursor: number;
  total: number;
  /** the scope's tensors when the pass started (a `top:N:fim` scope follows layer scores that may change meanwhile) */
  names: string[];
  modelHash: string;
  /** sha-256 of the examples' ids, token ids and masks: a resumed pass must see the very same inputs */
  fingerprint: string;
  heldOut: number | null;
  /** time spent in the pass by earlier attempts */
  seconds: number;
}

/** Render the rows and build training's token masker over all of them (a global top-% cut is taken over every row). */
async function rowMasker(db: Db, req: ParamMaskRequest, model: LoadedModel): Promise<{ ids: number[]; masker: (id: number) => MaskedExample | null }> {
  const ids = trainCandidateIds(db, req.subsetId, req.datasetId);
  const datasets = datasetsOfExamples(db, ids);
  const opts = { ...DEFAULT_RENDER, maxTokens: req.maxTokens };
  for (const d of datasets) await renderDataset(db, d, model.tokenizer, opts);
  const keyId = renderKeyId(db, renderKeyOf(model.tokenizer, opts));
  return { ids, masker: createTokenMasker(db, { renderKeyId: keyId, modelId: req.modelId, policy: trainTokenPolicy(req) }, ids) };
}

/** The example as the pass differentiates it (at most maxTokens); null when no position is left to learn. */
function passExample(m: MaskedExample | null, maxTokens: number): GradientExample | null {
  if (!m) return null;
  const L = Math.min(m.ids.length, maxTokens);
  const mask = m.mask.subarray(0, L);
  return mask.some((v, t) => t > 0 && v === 1) ? { tokenIds: m.ids.subarray(0, L), labelMask: mask } : null;
}

/**
 * The examples of the pass: those with a trainable token under the policy, minus the eval split when asked for, then
 * a seeded choice of `examples` of them (in the choice's order). `heldOut`: how many eval rows were left out.
 */
export async function gradientExamples(db: Db, req: ParamMaskRequest, model: LoadedModel): Promise<{ ids: number[]; examples: GradientExample[]; heldOut: number | null }> {
  const { ids, masker } = await rowMasker(db, req, model);
  const trainable: number[] = [];
  const byId = new Map<number, GradientExample>();
  for (const id of ids) {
    const m = masker(id);
    // training's own test, so the split below is the one a run on these rows makes
    if (isTrainable(m)) trainable.push(id);
    const ex = passExample(m, req.maxTokens);
    if (ex) byId.set(id, ex);
  }
  const held = req.evalFraction !== undefined ? new Set(splitEval(trainable, req.evalFraction, req.evalSeed ?? 0).eval) : new Set<number>();
  const chosen = seededChoice([...byId.keys()].filter((id) => !held.has(id)), req.examples, req.seed);
  if (!chosen.length) {
    throw new WinnowError('bad_input', `parameter mask: none of the ${ids.length} example(s) has a trainable token under the "${req.tokenPolicy}" policy${held.size ? ` outside the ${held.size} eval row(s) left out` : ''}`);
  }
  return { ids: chosen, examples: chosen.map((id) => byId.get(id)!), heldOut: req.evalFraction !== undefined ? held.size : null };
}

function fingerprint(ids: ArrayLike<number>, examples: GradientExample[]): string {
  const h = createHash('sha256');
  examples.forEach((e, i) => {
    h.update(Int32Array.of(ids[i]!, e.tokenIds.length));
    h.update(e.tokenIds);
    h.update(e.labelMask);
  });
  return h.digest('hex');
}

/** Running Σg per tensor, as tensors; restored from saved float32 arrays bit for bit. */
class Sums {
  private constructor(readonly g: tf.Tensor[]) {}

  static start(model: LoadedModel, names: string[], saved?: { st: PassState }): Sums {
    const load = (key: string, n: string) => {
      const w = model.weights[n]!;
      const a = saved?.st.float32(`${key}:${n}`);
      if (saved && (!a || a.length !== w.size)) throw new WinnowError('conflict', `parameter mask: the saved sums of ${n} are missing or of the wrong size; discard the job and compute the mask again`);
      return a ? tf.tensor(a, w.shape, 'float32') : tf.zerosLike(w);
    };
    return new Sums(names.map((n) => load('g', n)));
  }

  add(grads: tf.Tensor[]): void {
    grads.forEach((g, k) => {
      const s = tf.add(this.g[k]!, g);
      this.g[k]!.dispose();
      this.g[k] = s;
      g.dispose();
    });
  }

  async arrays(): Promise<{ g: Float32Array[] }> {
    return { g: await Promise.all(this.g.map(async (t) => (await t.data()) as Float32Array)) };
  }

  dispose(): void {
    tf.dispose(this.g);
  }
}

export async function runParamMaskJob(ctx: JobContext): Promise<JobOutcome> {
  const req = jobParams('param_mask', ctx);
  const db = openProjectDb(ctx.dbPath);
  const st = paramMaskPassState(db, ctx.jobId);
  let model: LoadedModel | null = null;
  let sums: Sums | null = null;
  try {
    assertMaskNameFree(db, req.name);
    const dir = findModelRow(db, req.modelId)?.path;
    if (!dir) throw new WinnowError('not_found', `model ${req.modelId} not found`);
    const saved = st.json<Meta>('meta');
    ctx.progress({ current: saved?.cursor ?? 0, total: saved?.total ?? req.examples, message: 'loading model' });
    model = await loadModel(dir);
    const m = model;
    const pass = saved ? await resumePass(ctx, db, req, st, m, dir, saved) : await startPass(ctx, db, req, st, m);
    sums = pass.sums;
    const { meta, ids } = pass;
    const total = meta.total;
    const started = Date.now();
    const secondsBefore = meta.seconds;
    const startCursor = meta.cursor;
    await sumGradients(ctx, db, req, st, m, pass, started);

    ctx.progress({ current: total, total, message: 'choosing entries' });
    const sumsNow = await sums.arrays();
    const info = new Map(m.tensors.map((t) => [t.name, t]));
    const grads: TensorGrads[] = [];
    for (let k = 0; k < meta.names.length; k++) {
      grads.push({
        info: info.get(meta.names[k]!)!,
        weight: (await m.weights[meta.names[k]!]!.data()) as Float32Array,
        sumG: sumsNow.g[k]!,
      });
    }
    const tensors = computeParamMask(grads, methodOf(req));
    const scopeParams = grads.reduce((a, g) => a + g.info.size, 0);
    const provenance = maskProvenance(db, req, meta, info, { modelHash: m.hash, modelPath: dir, seconds: Math.round(10 * (secondsBefore + (Date.now() - started) / 1000)) / 10 });
    // the mask and the end of the saved pass in one transaction: a crash leaves one or the other
    const mask = db.transaction(() => {
      const s = saveParamMask(db, { name: req.name, modelId: req.modelId, scopeParams, provenance, tensors, exampleIds: ids });
      st.clear();
      return s;
    })();
    const held = meta.heldOut ? `, ${meta.heldOut} eval row(s) left out` : '';
    return {
      message: `parameter mask "${mask.name}": ${mask.trainableParams} of ${scopeParams} entries in ${mask.tensors.length} tensor(s), from ${total} example(s)${held}${startCursor > 0 ? ` (resumed at ${startCursor})` : ''}`,
      stats: { maskId: mask.id, trainableParams: mask.trainableParams, scopeParams, tensors: mask.tensors.length, examples: total, heldOut: meta.heldOut ?? 0 },
    };
  } finally {
    sums?.dispose();
    if (model) disposeModel(model);
    db.close();
  }
}

/** A pass under way: its meta, its examples in pass order, and the running sums. */
interface MaskPass {
  meta: Meta;
  ids: Int32Array;
  examples: GradientExample[];
  sums: Sums;
}

/** Resuming: the same examples in the same order, checked against what the pass started with; the sums restored. */
async function resumePass(ctx: JobContext, db: Db, req: ParamMaskRequest, st: PassState, m: LoadedModel, dir: string, meta: Meta): Promise<MaskPass> {
  if (meta.modelHash !== m.hash) throw new WinnowError('conflict', `parameter mask "${req.name}": the weights of ${dir} changed since its gradient pass started (hash ${meta.modelHash}, now ${m.hash}); discard the job and compute the mask again`);
  const missing = meta.names.filter((n) => !(n in m.weights));
  if (missing.length) throw new WinnowError('conflict', `parameter mask "${req.name}": tensor ${missing[0]} of the saved pass is not in ${dir}; discard the job and compute the mask again`);
  ctx.progress({ current: meta.cursor, total: meta.total, message: 'rendering examples' });
  const ids = st.int32('ids')!;
  const { masker } = await rowMasker(db, req, m);
  // an example with nothing left to learn shows up as empty, which no fingerprint of a started pass matches
  const examples = Array.from(ids, (id) => passExample(masker(id), req.maxTokens) ?? { tokenIds: new Int32Array(0), labelMask: new Uint8Array(0) });
  if (fingerprint(ids, examples) !== meta.fingerprint) {
    throw new WinnowError('conflict', `parameter mask "${req.name}": the examples of its gradient pass changed since it started (re-rendered, re-mapped, a changed token mask or subset); discard the job and compute the mask again`);
  }
  return { meta, ids, examples, sums: Sums.start(m, meta.names, meta.cursor > 0 ? { st } : undefined) };
}

/** A new pass: the scope's tensors and the examples chosen, saved before the first gradient. */
async function startPass(ctx: JobContext, db: Db, req: ParamMaskRequest, st: PassState, m: LoadedModel): Promise<MaskPass> {
  const names = maskTensors(req, resolveLayerSpec(req.scope, m.tensors, layerBlockScores(db, req.modelId, req.scope)), m.tensors);
  ctx.progress({ current: 0, total: req.examples, message: 'rendering examples' });
  const chosen = await gradientExamples(db, req, m);
  const ids = Int32Array.from(chosen.ids);
  const examples = chosen.examples;
  const meta: Meta = { cursor: 0, total: ids.length, names, modelHash: m.hash, fingerprint: fingerprint(ids, examples), heldOut: chosen.heldOut, seconds: 0 };
  db.transaction(() => {
    st.putArray('ids', ids);
    st.putJson('meta', meta);
  })();
  return { meta, ids, examples, sums: Sums.start(m, names) };
}

/**
 * Adds the remaining examples' gradients to the sums, saving them as savePolicy says (and on cancel, before the
 * error). `started`: when this attempt's pass began (meta.seconds adds the time since).
 */
async function sumGradients(ctx: JobContext, db: Db, req: ParamMaskRequest, st: PassState, m: LoadedModel, pass: MaskPass, started: number): Promise<void> {
  const { meta, examples, sums } = pass;
  const { names, total } = meta;
  const policy = savePolicy();
  const stateBytes = 4 * names.reduce((a, n) => a + m.weights[n]!.size, 0);
  const secondsBefore = meta.seconds;
  const startCursor = meta.cursor;
  let savedAt = Date.now();
  let saveMs = 0;
  let savedCursor = meta.cursor;
  const save = async (): Promise<void> => {
    const t0 = Date.now();
    const a = await sums.arrays();
    meta.seconds = secondsBefore + (Date.now() - started) / 1000;
    db.transaction(() => {
      names.forEach((n, k) => {
        st.putArray(`g:${n}`, a.g[k]!);
      });
      st.putJson('meta', meta);
    })();
    savedAt = Date.now();
    saveMs = savedAt - t0;
    savedCursor = meta.cursor;
  };
  const saveDue = (): boolean =>
    Date.now() - savedAt >= (stateBytes <= policy.bytes ? Math.min(policy.seconds * 1000, SAVE_COST_FACTOR * saveMs) : policy.seconds * 1000);
  if (startCursor > 0) ctx.log('info', `parameter mask "${req.name}": resuming its gradient pass at example ${startCursor} of ${total}`);

  for (let k = meta.cursor; k < total; k++) {
    if (ctx.isCancelled()) {
      if (savedCursor < meta.cursor) await save();
      throw new WinnowError('cancelled', `cancelled after ${meta.cursor} of ${total} examples; the gradient sums so far are saved — Resume continues from there, Discard drops them`);
    }
    // null: no position to learn — passExample keeps only examples with one, so this never adds anything
    sums.add(exampleGradients(m, examples[k]!, names) ?? []);
    meta.cursor = k + 1;
    if (meta.cursor < total && saveDue()) await save();
    const secs = (Date.now() - started) / 1000;
    const done = meta.cursor - startCursor;
    ctx.progress({ current: meta.cursor, total, message: `gradients ${meta.cursor}/${total}`, etaSeconds: ((total - meta.cursor) * secs) / done, stats: { examplesPerSec: Math.round((10 * done) / Math.max(secs, 1e-3)) / 10 } });
    await new Promise((r) => setImmediate(r));
  }
}

/** What the mask records of how it was made. */
function maskProvenance(
  db: Db, req: ParamMaskRequest, meta: Meta, info: Map<string, TensorInfo>, run: { modelHash: string; modelPath: string; seconds: number },
): ParamMaskProvenance {
  const subsetName = req.subsetId !== null ? (subsetNameOf(db, req.subsetId) ?? null) : null;
  return {
    spec: specOf(req),
    method: req.method,
    metric: req.method === 'salience' ? req.metric : null,
    metricForm: req.method === 'salience' ? SALIENCE_FORMS[req.metric] : null,
    // from the pass's own tensors: a pass resumed from before the linear-only default may hold others
    tensorsScored: meta.names.every((n) => isLinearWeight(info.get(n)!)) ? 'linear' : 'all',
    density: req.method === 'gps' && req.perRow !== undefined ? null : req.density,
    perRow: req.method === 'gps' ? (req.perRow ?? null) : null,
    topk: req.method === 'gps' ? 'per_row' : req.topk,
    scope: req.scope,
    examples: meta.total,
    seed: req.seed,
    evalSplit: req.evalFraction !== undefined ? { fraction: req.evalFraction, seed: req.evalSeed ?? 0, heldOut: meta.heldOut ?? 0 } : null,
    subsetId: req.subsetId,
    subsetName,
    datasetId: req.datasetId ?? null,
    tokenPolicy: { ...trainTokenPolicy(req) },
    maxTokens: req.maxTokens,
    modelHash: run.modelHash,
    modelPath: run.modelPath,
    seconds: run.seconds,
  };
}
