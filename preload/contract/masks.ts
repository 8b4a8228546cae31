/**
 * Masks: token policies (which tokens count), hand-edited token masks, and parameter masks (salience / gps).
 */
import { z } from 'zod';
import { id } from './common';

/** token policies (selection/token-policy.ts): see TokenPolicySchema */
export const TOKEN_POLICIES = ['response', 'all', 'top_percent', 'critical'] as const;
export const TOKEN_SCOPES = ['example', 'global'] as const;

/**
 * Which tokens a training step, a parameter mask's gradient pass or an exported token mask counts. response: the
 * label mask (or the hand-edited mask `tokenMaskName` where one is saved); all: every token; top_percent: the top
 * `tokenPercent`% of response tokens by `tokenSignal`, per example or with one global threshold (`tokenScope`);
 * critical: the response tokens the latest `critical` run found critical (value > 0, eval/critical.ts).
 * Train and the parameter-mask pass take these fields with their defaults; export takes them all optional (absent:
 * the training run's). The screens ask for them with one component (renderer components/TokenPolicyFields.tsx), the
 * CLI reads them with one parser (main/cli tokenPolicyFlags).
 */
const tokenPolicyFields = {
  tokenPolicy: z.enum(TOKEN_POLICIES),
  tokenSignal: z.string().regex(/^[a-z][a-z0-9_]*$/),
  tokenPercent: z.number().gt(0).max(100),
  tokenScope: z.enum(TOKEN_SCOPES),
  tokenMaskName: z.string().min(1).max(200),
};
export const TokenPolicySchema = z.object({
  tokenPolicy: tokenPolicyFields.tokenPolicy.default('response'),
  tokenSignal: tokenPolicyFields.tokenSignal.default('excess_loss'),
  tokenPercent: tokenPolicyFields.tokenPercent.default(60),
  tokenScope: tokenPolicyFields.tokenScope.default('example'),
  tokenMaskName: tokenPolicyFields.tokenMaskName.optional(),
});
export type TokenPolicy = z.infer<typeof TokenPolicySchema>;
/** The same fields, each optional with no default (partial() of TokenPolicySchema would still fill the defaults). */
export const TokenPolicyOverrideSchema = z.object(tokenPolicyFields).partial();
export type TokenPolicyOverride = z.infer<typeof TokenPolicyOverrideSchema>;

/** Compute a parameter mask from one gradient pass (paramMasks.compute). */
export const ParamMaskRequestSchema = z.object({
  name: z.string().min(1).max(200),
  modelId: id,
  method: z.enum(['salience', 'gps']),
  metric: z.enum(['abs_g', 'abs_wg', 'sq_wg']).default('abs_wg'),
  /** salience: share of the scope's entries (global) or of each tensor's; gps: share of each row's inputs */
  density: z.number().gt(0).max(1).default(0.01),
  topk: z.enum(['global', 'per_tensor']).default('global'),
  /** salience: score every tensor of the scope (embeddings, norms, biases, the LM head); by default only its linear
   * weight matrices, as SPEFT does */
  allParams: z.boolean().default(false),
  /** gps: inputs kept per output row (overrides density) */
  perRow: z.number().int().positive().optional(),
  /** layer spec of the tensors the mask may open */
  scope: z.string().min(1).default('all'),
  subsetId: id.nullable().default(null),
  datasetId: id.optional(),
  /** examples in the gradient pass, a seeded choice among those with trainable tokens */
  examples: z.number().int().positive().max(100_000).default(100),
  seed: z.number().int().default(0),
  maxTokens: z.number().int().positive().max(1 << 16).default(256),
  ...TokenPolicySchema.shape,
  /** leave out the rows a training run on the same rows holds out for eval: its evalFraction (the Train form's "eval
   * rows %" / 100) and seed (`evalSeed`, default 0); the same token policy and maxTokens pick the same split. Absent:
   * every row may be in the pass */
  evalFraction: z.number().min(0).max(0.5).optional(),
  evalSeed: z.number().int().optional(),
});
export type ParamMaskRequest = z.infer<typeof ParamMaskRequestSchema>;

/** A named parameter mask (salience / gps): the entries of some tensors a run may change; bitsets stay in the engine. */
export interface ParamMaskInfo {
  id: number;
  name: string;
  modelId: number;
  method: 'salience' | 'gps';
  /** salience metric: abs_g |Σg|, abs_wg |w·Σg|, sq_wg (w·Σg)² (sq_wg_per_example: w²·Σg², a mask saved before
   * sq_wg followed SPEFT's Taylor-FO); null for gps */
  metric: string | null;
  /** share of entries asked for (salience: of the scope or of each tensor; gps: of each row's inputs); null for gps:N */
  density: number | null;
  /** gps: inputs kept per output row, when given as a count */
  perRow: number | null;
  topk: 'global' | 'per_tensor' | 'per_row';
  /** layer spec of the tensors the mask could open */
  scope: string;
  trainableParams: number;
  scopeParams: number;
  /** tensors with at least one trainable entry; every other tensor stays frozen */
  tensors: Array<{ name: string; shape: number[]; selected: number }>;
  provenance: Record<string, unknown>;
  createdAt: string;
}

export interface TokenMaskInfo {
  name: string;
  exampleId: number;
  tokenizerId: string;
  /** the render key it was drawn on (a mask also applies to a render whose tokens are a prefix of the ones it was drawn on) */
  renderKeyId: number;
  /** 1 = trained on, one entry per rendered token */
  mask: number[];
  trainable: number;
  provenance: Record<string, unknown>;
}

/** tokenMasks.*, paramMasks.*: each call's input schema (composed into ApiInputs, index.ts). */
export const MasksInputs = {
  'tokenMasks.save': z.object({
    exampleId: id,
    modelId: id.optional(),
    name: z.string().min(1).max(200).default('edited'),
    mask: z.array(z.number().int().min(0).max(1)).max(1 << 16),
    /** how the mask was made (e.g. the token policy), stored with it */
    provenance: z.record(z.string(), z.unknown()).optional(),
    /** the render the mask is drawn on (ExampleDetail.render.renderKeyId); default: the model's default render */
    renderKeyId: id.optional(),
  }),
  /** the named mask that applies to the render (renderKeyId, default: the model's default render), or null */
  'tokenMasks.get': z.object({ exampleId: id, modelId: id.optional(), name: z.string().min(1).max(200).default('edited'), renderKeyId: id.optional() }),
  'paramMasks.compute': ParamMaskRequestSchema,
  'paramMasks.list': z.object({ modelId: id.optional() }),
  'paramMasks.get': z.object({ maskId: id }),
  /** hand-edited token mask names and how many rows each holds */
  'tokenMasks.names': z.object({}),
} as const;

/** tokenMasks.*, paramMasks.*: each call's output. */
export interface MasksOutputs {
  'tokenMasks.save': TokenMaskInfo;
  'tokenMasks.get': TokenMaskInfo | null;
  'paramMasks.compute': { jobId: string };
  'paramMasks.list': ParamMaskInfo[];
  'paramMasks.get': ParamMaskInfo;
  'tokenMasks.names': Array<{ name: string; rows: number }>;
}
