/**
 * layer_scores rows of a whole block: layer_grad_norm's ‖g_block‖₂ (mean over examples of the norm of the block's
 * whole gradient) is not a sum of its tensors' rows, so it is stored as a row of its own with this kind and a name no
 * checkpoint tensor has.
 */
export const BLOCK_ROW_KIND = 'block';
export const blockRowName = (block: number): string => `<block ${block}>`;
