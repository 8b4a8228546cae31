/**
 * Export: writing a bundle (subset, masks, weights, configs) and opening one again.
 */
import { z } from 'zod';
import { id } from './common';
import { TokenPolicyOverrideSchema } from './masks';

export const ExportRequestSchema = z.object({
  outDir: z.string().min(1),
  subsetId: id.nullable(),
  datasetId: id.optional(),
  modelId: id.optional(),
  layerMaskId: id.optional(),
  /** param_mask: this mask, else the training run's */
  paramMaskId: id.optional(),
  trainRunId: id.optional(),
  /** configs: train_trl.py, axolotl.yaml, llamafactory.yaml (+ dataset_info.json) */
  what: z.array(z.enum(['subset', 'token_masks', 'layer_mask', 'param_mask', 'weights', 'scores', 'configs'])).min(1),
  /** weights: the whole tuned folder, or only the tensors training changed plus winnow_delta.json naming the base */
  weightsForm: z.enum(['full', 'changed']).default('full'),
  /**
   * weights: WiSE-FT, write (1−α)·base + α·tuned (the run's base model and its tuned model) instead of the tuned
   * weights; 1 (or unset) is the tuned model itself
   */
  wiseAlpha: z.number().min(0).max(1).optional(),
  overwrite: z.boolean().default(false),
  /** token mask as training applies it (selection/token-policy); default: the training run's policy, else response;
   * token_masks rows named `tokenMaskName` (hand-edited masks) replace the render's mask, default "edited" */
  ...TokenPolicyOverrideSchema.shape,
});
export type ExportRequest = z.infer<typeof ExportRequestSchema>;

/** What re-opening an export bundle restored. */
export interface BundleOpenResult {
  subsetId: number;
  /** null when the bundle has no layer mask */
  layerMaskId: number | null;
  /** the (first) dataset holding the subset's rows */
  datasetId: number;
  datasetIds: number[];
  /** datasets imported from the bundle's subset.jsonl because the project did not have them */
  importedDatasets: number;
  /** examples whose token mask was restored into token_masks */
  tokenMasks: number;
}

/** export.start, bundles.open: each call's input schema (composed into ApiInputs, index.ts). */
export const ExportInputs = {
  'export.start': ExportRequestSchema,
  'bundles.open': z.object({ dir: z.string().min(1) }),
} as const;

/** export.start, bundles.open: each call's output. */
export interface ExportOutputs {
  'export.start': { jobId: string };
  'bundles.open': BundleOpenResult;
}
