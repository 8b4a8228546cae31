/**
 * layer_scores rows of a whole block: layer_grad_norm's ‖g_block‖₂ (mean over examples of the norm of the block's
 * whole gradient) is not a sum of its tensors' rows, so it is stored as a row of its own with this kind and a name no
 * checkpoint tensor has.
 */
export const BLOCK_ROW_KIND = 'block';
export const blockRowName = (block: number): string => `<block ${block}>`;

/**
 * The loss form of a run's fim / layer_grad_norm: the run's `fimLoss` ('sum' or 'mean' response NLL per example); a
 * run whose params have none was started before the option existed, when it was always the mean.
 */
export function fimLossOf(p: { fimLoss?: 'sum' | 'mean' }): 'sum' | 'mean' {
  return p.fimLoss ?? 'mean';
}
