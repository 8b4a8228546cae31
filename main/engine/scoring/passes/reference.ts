/**
 * The reference model for `excess_loss` and `learnability`: one more forward pass over the same renders. Token
 * signals compare position by position, so the reference must use the scored model's tokenizer; anything else is
 * refused before any work, naming both models.
 */
import type { Db } from '../../db';
import { loadModel, disposeModel, loadTokenizer, type LoadedModel } from '../../models';
import { getModel } from '../../api/models-registry';
import { WinnowError } from '../../util/errors';

function mismatch(db: Db, modelId: number, refModelId: number, tok: string, refTok: string, vocab: number, refVocab: number): WinnowError {
  const info = getModel(db, modelId);
  const refInfo = getModel(db, refModelId);
  return new WinnowError(
    'bad_input',
    `reference model "${refInfo.name}" (id ${refModelId}, ${refInfo.path}) uses tokenizer ${refTok} (vocab ${refVocab}), ` +
      `but the scored model "${info.name}" (id ${modelId}, ${info.path}) uses tokenizer ${tok} (vocab ${vocab}): ` +
      'excess_loss and learnability compare token by token and need the same tokenizer',
    { modelId, refModelId },
  );
}

/** Cheap up-front check (tokenizer files only), e.g. for scoring.start before a job is queued. */
export async function assertSameTokenizer(db: Db, modelId: number, refModelId: number): Promise<void> {
  const [a, b] = await Promise.all([loadTokenizer(getModel(db, modelId).path), loadTokenizer(getModel(db, refModelId).path)]);
  if (a.id !== b.id || a.vocabSize !== b.vocabSize) throw mismatch(db, modelId, refModelId, a.id, b.id, a.vocabSize, b.vocabSize);
}

export async function loadReference(db: Db, refModelId: number, model: LoadedModel, modelId: number): Promise<LoadedModel> {
  const ref = await loadModel(getModel(db, refModelId).path);
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
