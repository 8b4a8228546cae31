/**
 * The second models of a scoring run, each one more forward pass over the same renders:
 *   reference (refModelId)     excess_loss, learnability — the LATER model: ℓ^θ − ℓ^ref with θ the base and ref the
 *                              model tuned from it (Token Cleaning's base − reference; LoBaSS's base vs fine-tuned)
 *   history (historyModelId)   sstoken — the EARLIER model: REL = ℓ^his − ℓ^θ with his the base and θ the model being
 *                              tuned (ssToken scripts/finetune.py: ref_losses, the base model's, minus the training
 *                              model's loss)
 * Scoring one pair (base, tuned) in the two roles gives REL_t = ℓ^base − ℓ^tuned = excess_loss_t; giving sstoken the
 * pair the other way round gives −excess_loss and a top-k% keeps the opposite tokens. Where the project knows that
 * one model was trained from the other (a train run's output, a changed-tensors folder naming its base), a pair in
 * the wrong roles is refused (assertModelRoles). Token signals compare position by position, so both models must use
 * the scored model's tokenizer; anything else is refused before any work, naming both models.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Db } from '../../db';
import { loadModel, disposeModel, loadTokenizer, type LoadedModel } from '../../models';
import { findModelIdByPath, findModelRow, modelRow } from '../../db/models';
import { trainRunsThatMade } from '../../db/score-runs';
import { readDeltaManifest } from '../../models/delta';
import { WinnowError } from '../../util/errors';

/** sstoken's history model: historyModelId, or — in a job queued before it existed — the refModelId it then used. */
export function historyModelOf(p: { signals: string[]; refModelId?: number; historyModelId?: number }): number | undefined {
  if (p.historyModelId !== undefined) return p.historyModelId;
  return p.signals.includes('sstoken') ? p.refModelId : undefined;
}

/**
 * The models `modelId` was trained from, nearest first, with how the project knows it: a train run whose output it
 * is (models.train_run_id, train_runs.out_model_id or out_dir), or a changed-tensors folder's winnow_delta.json base.
 */
export function modelAncestors(db: Db, modelId: number): Map<number, string> {
  const out = new Map<number, string>();
  let frontier = [modelId];
  for (let depth = 0; depth < 64 && frontier.length; depth++) {
    const next: number[] = [];
    for (const id of frontier) {
      const row = findModelRow(db, id);
      if (!row) continue;
      const parents: Array<[number, string]> = [];
      const runs = trainRunsThatMade(db, { trainRunId: row.train_run_id, modelId: id, path: row.path });
      for (const r of runs) parents.push([r.model_id, `train run ${r.id} started from it`]);
      try {
        const delta = existsSync(row.path) ? readDeltaManifest(row.path) : null;
        const base = delta ? findModelIdByPath(db, resolve(row.path, delta.base.path)) : undefined;
        if (base !== undefined) parents.push([base, `its winnow_delta.json names it as the base`]);
      } catch {
        // an unreadable manifest says nothing about the roles; loading the model reports it
      }
      for (const [pid, how] of parents) {
        if (pid === modelId || out.has(pid)) continue;
        out.set(pid, id === modelId ? how : `via model ${id}: ${how}`);
        next.push(pid);
      }
    }
    frontier = next;
  }
  return out;
}

const label = (db: Db, id: number): string => {
  const m = modelRow(db, id);
  return `"${m.name}" (id ${id}, ${m.path})`;
};

/**
 * Refuses a pair whose roles are swapped, where the project knows which model came from which:
 *  - excess_loss / learnability with a reference the scored model was trained from (the reference must be the later);
 *  - sstoken with a history model trained from the scored model (the history model must be the earlier);
 *  - one model given as both the later reference and the earlier history model.
 */
export function assertModelRoles(db: Db, p: { modelId: number; signals: string[]; refModelId?: number; historyModelId?: number }): void {
  const wantRef = p.signals.some((s) => s === 'excess_loss' || s === 'learnability');
  const wantHis = p.signals.includes('sstoken');
  if (wantRef && p.refModelId !== undefined && p.refModelId !== p.modelId) {
    const how = modelAncestors(db, p.modelId).get(p.refModelId);
    if (how) {
      throw new WinnowError(
        'bad_input',
        `roles swapped: the reference model ${label(db, p.refModelId)} is the model ${label(db, p.modelId)} was trained from (${how}). ` +
          'excess_loss and learnability take the LATER model as the reference (ℓ^θ − ℓ^ref, θ the base): score the base with the tuned model as --ref-model. ' +
          '(sstoken is the one that takes the earlier model, as --history-model.)',
        { modelId: p.modelId, refModelId: p.refModelId },
      );
    }
  }
  if (wantHis && p.historyModelId !== undefined && p.historyModelId !== p.modelId) {
    const how = modelAncestors(db, p.historyModelId).get(p.modelId);
    if (how) {
      throw new WinnowError(
        'bad_input',
        `roles swapped: the history model ${label(db, p.historyModelId)} was trained from the scored model ${label(db, p.modelId)} (${how}). ` +
          "sstoken's history model is the EARLIER one (REL = ℓ^his − ℓ^θ): score the tuned model with the base as --history-model.",
        { modelId: p.modelId, historyModelId: p.historyModelId },
      );
    }
  }
  if (wantRef && wantHis && p.refModelId !== undefined && p.refModelId === p.historyModelId && p.refModelId !== p.modelId) {
    throw new WinnowError('bad_input', `model ${label(db, p.refModelId)} is given as both the later reference (excess_loss, learnability) and the earlier history model (sstoken); one model cannot be both — score them in two runs`);
  }
}

function mismatch(db: Db, modelId: number, refModelId: number, tok: string, refTok: string, vocab: number, refVocab: number): WinnowError {
  const info = modelRow(db, modelId);
  const refInfo = modelRow(db, refModelId);
  return new WinnowError(
    'bad_input',
    `reference model "${refInfo.name}" (id ${refModelId}, ${refInfo.path}) uses tokenizer ${refTok} (vocab ${refVocab}), ` +
      `but the scored model "${info.name}" (id ${modelId}, ${info.path}) uses tokenizer ${tok} (vocab ${vocab}): ` +
      'excess_loss, learnability and sstoken compare token by token and need the same tokenizer',
    { modelId, refModelId },
  );
}

/** Cheap up-front check (tokenizer files only), e.g. for scoring.start before a job is queued. */
export async function assertSameTokenizer(db: Db, modelId: number, refModelId: number): Promise<void> {
  const [a, b] = await Promise.all([loadTokenizer(modelRow(db, modelId).path), loadTokenizer(modelRow(db, refModelId).path)]);
  if (a.id !== b.id || a.vocabSize !== b.vocabSize) throw mismatch(db, modelId, refModelId, a.id, b.id, a.vocabSize, b.vocabSize);
}

export async function loadReference(db: Db, refModelId: number, model: LoadedModel, modelId: number): Promise<LoadedModel> {
  const ref = await loadModel(modelRow(db, refModelId).path);
  if (ref.tokenizer.id !== model.tokenizer.id || ref.config.vocabSize !== model.config.vocabSize) {
    disposeModel(ref);
    throw mismatch(db, modelId, refModelId, model.tokenizer.id, ref.tokenizer.id, model.config.vocabSize, ref.config.vocabSize);
  }
  return ref;
}

/** excess_loss_t = ℓ_t^θ − ℓ_t^ref (position 0 stays NaN: no prediction). */
export function excessLoss(loss: Float32Array, refLoss: Float32Array): Float32Array {
  const out = new Float32Array(loss.length);
  for (let t = 0; t < loss.length; t++) out[t] = loss[t]! - refLoss[t]!;
  return out;
}

/**
 * learnability = (L_base − L_ft) / L_base with L = mean_loss under the scored model (base) and under the reference
 * (the later / fine-tuned model). LoBaSS's idea; its released code does not pin the formula, so this is Winnow's
 * definition (METHODS.md). null when either mean is missing or L_base is 0.
 */
export function learnability(base: number | null, ft: number | null): number | null {
  if (base === null || ft === null || base === 0) return null;
  return (base - ft) / base;
}
