import { BLOCK_ROW_KIND } from '../db/layers';

// layer_scores rows of a whole block are stored with kind BLOCK_ROW_KIND (db/layers.ts, which reads them) and a name no
// checkpoint tensor has
export { BLOCK_ROW_KIND };
export const blockRowName = (block: number): string => `<block ${block}>`;

/**
 * The loss form of a run's fim / layer_grad_norm: the run's `fimLoss` ('sum' or 'mean' response NLL per example); a
 * run whose params have none was started before the option existed, when it was always the mean.
 */
export function fimLossOf(p: { fimLoss?: 'sum' | 'mean' }): 'sum' | 'mean' {
  return p.fimLoss ?? 'mean';
}
