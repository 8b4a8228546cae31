/**
 * The reference model for `excess_loss` and `learnability`: one more forward pass over the same renders. Token
 * signals compare position by position, so the reference must use the scored model's tokenizer; anything else is
 * refused before any work, naming both models.
 */
import type { Db } from '../../db';
import { loadModel, disposeModel, type LoadedModel } from '../../models';
import { getModel } from '../../api/models-registry';
import { WinnowError } from '../../util/errors';

export async function loadReference(db: Db, refModelId: number, model: LoadedModel, modelId: number): Promise<LoadedModel> {
  const refInfo = getModel(db, refModelId);
  const ref = await loadModel(refInfo.path);
  if (ref.tokenizer.id !== model.tokenizer.id || ref.config.vocabSize !== model.config.vocabSize) {
    const info = getModel(db, modelId);
    disposeModel(ref);
    throw new WinnowError(
      'bad_input',
      `reference model "${refInfo.name}" (id ${refModelId}, ${refInfo.path}) uses tokenizer ${ref.tokenizer.id} (vocab ${ref.config.vocabSize}), ` +
        `but the scored model "${info.name}" (id ${modelId}, ${info.path}) uses tokenizer ${model.tokenizer.id} (vocab ${model.config.vocabSize}): ` +
        'excess_loss and learnability compare token by token and need the same tokenizer',
      { modelId, refModelId },
    );
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
