/**
 * paramMasks.compute as a job: one gradient pass (batch 1, one backward per example, scoring/passes/gradients.ts
 * `exampleGradients`) over a seeded choice of the subset's (or dataset's) examples, with the token policy training
 * would use, accumulating Σg (and Σg² for sq_wg) for the scope's tensors; then the mask (param-masks.ts) is stored
 * with its provenance. Not resumable: a cancelled pass is discarded (it is one pass; start it again).
 */
import * as tf from '@tensorflow/tfjs';
import { openProjectDb, type Db } from '../db';
import { disposeModel, loadModel, type LoadedModel } from '../models';
import { renderDataset } from '../data/renderDataset';
import { DEFAULT_RENDER } from '../api/examples';
import { layerBlockScores } from '../api/layers';
import { exampleGradients, seededChoice, type GradientExample } from '../scoring/passes/gradients';
import type { ParamMaskRequest } from '../../../preload/contract';
import type { JobContext, JobOutcome } from '../jobs/types';
import { WinnowError } from '../util/errors';
import { resolveLayerSpec } from './layers';
import { createTokenMasker } from './token-policy';
import { trainTokenPolicy } from '../training/run';
import { computeParamMask, type ParamMaskMethod, type TensorGrads } from './param-masks';
import { assertMaskNameFree, saveParamMask, type ParamMaskProvenance } from './param-masks-store';

export function methodOf(req: ParamMaskRequest): ParamMaskMethod {
  return req.method === 'gps'
    ? { method: 'gps', density: req.density, perRow: req.perRow }
    : { method: 'salience', metric: req.metric, density: req.density, topk: req.topk };
}

export function specOf(req: ParamMaskRequest): string {
  if (req.method === 'gps') return `gps:${req.perRow ?? req.density}`;
  return `salience:${req.metric}:${req.density}:${req.topk}`;
}

function candidateIds(db: Db, req: ParamMaskRequest): number[] {
  if (req.subsetId !== null) return db.prepare('SELECT example_id FROM subset_members WHERE subset_id = ? ORDER BY example_id').pluck().all(req.subsetId) as number[];
  if (req.datasetId !== undefined) return db.prepare('SELECT id FROM examples WHERE dataset_id = ? ORDER BY id').pluck().all(req.datasetId) as number[];
  return db.prepare('SELECT id FROM examples ORDER BY id').pluck().all() as number[];
}

/** The examples of the pass: those with a trainable token under the policy, then a seeded choice of `examples`. */
export async function gradientExamples(db: Db, req: ParamMaskRequest, model: LoadedModel): Promise<GradientExample[]> {
  const ids = candidateIds(db, req);
  const datasets = [...new Set(ids.length ? (db.prepare(`SELECT DISTINCT dataset_id FROM examples WHERE id IN (SELECT value FROM json_each(?))`).pluck().all(JSON.stringify(ids)) as number[]) : [])];
  for (const d of datasets) await renderDataset(db, d, model.tokenizer, { ...DEFAULT_RENDER, maxTokens: req.maxTokens });
  const masker = createTokenMasker(db, { tokenizerId: model.tokenizer.id, modelId: req.modelId, policy: trainTokenPolicy(req) }, ids);
  const usable: GradientExample[] = [];
  const byId = new Map<number, GradientExample>();
  for (const id of ids) {
    const m = masker(id);
    if (!m) continue;
    const L = Math.min(m.ids.length, req.maxTokens);
    const mask = m.mask.subarray(0, L);
    if (!mask.some((v, t) => t > 0 && v === 1)) continue;
    byId.set(id, { tokenIds: m.ids.subarray(0, L), labelMask: mask });
  }
  for (const id of seededChoice([...byId.keys()], req.examples, req.seed)) usable.push(byId.get(id)!);
  if (!usable.length) throw new WinnowError('bad_input', `parameter mask: none of the ${ids.length} example(s) has a trainable token under the "${req.tokenPolicy}" policy`);
  return usable;
}

/** Σg (and Σg² when asked) per scope tensor over the examples; null when cancelled. */
export async function accumulateGradients(
  model: LoadedModel,
  names: string[],
  examples: GradientExample[],
  opts: { squares: boolean; onExample?: (done: number) => boolean | void },
): Promise<{ sumG: tf.Tensor[]; sumG2: tf.Tensor[] | null } | null> {
  const sumG = names.map((n) => tf.zerosLike(model.weights[n]!));
  const sumG2 = opts.squares ? names.map((n) => tf.zerosLike(model.weights[n]!)) : null;
  let ok = false;
  try {
    for (let i = 0; i < examples.length; i++) {
      // null: no position to learn — gradientExamples keeps only examples with one, so this never adds anything
      const gs = exampleGradients(model, examples[i]!, names) ?? [];
      gs.forEach((g, k) => {
        const s = tf.add(sumG[k]!, g);
        sumG[k]!.dispose();
        sumG[k] = s;
        if (sumG2) {
          const q = tf.tidy(() => tf.add(sumG2[k]!, tf.square(g)));
          sumG2[k]!.dispose();
          sumG2[k] = q;
        }
        g.dispose();
      });
      if (opts.onExample?.(i + 1) === false) return null;
      await new Promise((r) => setImmediate(r));
    }
    ok = true;
    return { sumG, sumG2 };
  } finally {
    if (!ok) for (const t of [...sumG, ...(sumG2 ?? [])]) t.dispose();
  }
}

export async function runParamMaskJob(ctx: JobContext): Promise<JobOutcome> {
  const req = ctx.params as unknown as ParamMaskRequest;
  const db = openProjectDb(ctx.dbPath);
  let model: LoadedModel | null = null;
  try {
    assertMaskNameFree(db, req.name);
    const dir = db.prepare('SELECT path FROM models WHERE id = ?').pluck().get(req.modelId) as string | undefined;
    if (!dir) throw new WinnowError('not_found', `model ${req.modelId} not found`);
    ctx.progress({ current: 0, total: req.examples, message: 'loading model' });
    model = await loadModel(dir);
    const m = model;
    const names = resolveLayerSpec(req.scope, m.tensors, layerBlockScores(db, req.modelId, req.scope));
    ctx.progress({ current: 0, total: req.examples, message: 'rendering examples' });
    const examples = await gradientExamples(db, req, m);
    const started = Date.now();
    const sums = await accumulateGradients(m, names, examples, {
      squares: req.method === 'salience' && req.metric === 'sq_wg',
      onExample: (k) => {
        const secs = (Date.now() - started) / 1000;
        ctx.progress({ current: k, total: examples.length, message: `gradients ${k}/${examples.length}`, etaSeconds: ((examples.length - k) * secs) / k });
        return !ctx.isCancelled();
      },
    });
    if (!sums) throw new WinnowError('cancelled', 'parameter mask cancelled; nothing was saved');
    ctx.progress({ current: examples.length, total: examples.length, message: 'choosing entries' });
    const info = new Map(m.tensors.map((t) => [t.name, t]));
    const grads: TensorGrads[] = [];
    for (let k = 0; k < names.length; k++) {
      grads.push({
        info: info.get(names[k]!)!,
        weight: (await m.weights[names[k]!]!.data()) as Float32Array,
        sumG: (await sums.sumG[k]!.data()) as Float32Array,
        sumG2: sums.sumG2 ? ((await sums.sumG2[k]!.data()) as Float32Array) : undefined,
      });
    }
    for (const t of [...sums.sumG, ...(sums.sumG2 ?? [])]) t.dispose();
    const method = methodOf(req);
    const tensors = computeParamMask(grads, method);
    const scopeParams = grads.reduce((a, g) => a + g.info.size, 0);
    const subsetName = req.subsetId !== null ? ((db.prepare('SELECT name FROM subsets WHERE id = ?').pluck().get(req.subsetId) as string | undefined) ?? null) : null;
    const provenance: ParamMaskProvenance = {
      spec: specOf(req),
      method: req.method,
      metric: req.method === 'salience' ? req.metric : null,
      density: req.method === 'gps' && req.perRow !== undefined ? null : req.density,
      perRow: req.method === 'gps' ? (req.perRow ?? null) : null,
      topk: req.method === 'gps' ? 'per_row' : req.topk,
      scope: req.scope,
      examples: examples.length,
      seed: req.seed,
      subsetId: req.subsetId,
      subsetName,
      datasetId: req.datasetId ?? null,
      tokenPolicy: { ...trainTokenPolicy(req) },
      maxTokens: req.maxTokens,
      modelHash: m.hash,
      modelPath: dir,
      seconds: Math.round((Date.now() - started) / 100) / 10,
    };
    const saved = saveParamMask(db, { name: req.name, modelId: req.modelId, scopeParams, provenance, tensors });
    return {
      message: `parameter mask "${saved.name}": ${saved.trainableParams} of ${scopeParams} entries in ${saved.tensors.length} tensor(s), from ${examples.length} example(s)`,
      stats: { maskId: saved.id, trainableParams: saved.trainableParams, scopeParams, tensors: saved.tensors.length, examples: examples.length },
    };
  } finally {
    if (model) disposeModel(model);
    db.close();
  }
}
