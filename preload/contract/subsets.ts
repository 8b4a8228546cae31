/**
 * Subsets: the rules that pick rows, and the subsets they made.
 */
import { z } from 'zod';
import { id, signalName } from './common';

export const SubsetRuleSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('all') }),
  z.object({
    kind: z.literal('top'),
    signal: signalName,
    /** keep the k highest (or lowest with dir 'asc') */
    count: z.number().int().positive().optional(),
    percent: z.number().gt(0).max(100).optional(),
    dir: z.enum(['desc', 'asc']).default('desc'),
  }),
  z.object({
    kind: z.literal('threshold'),
    signal: signalName,
    min: z.number().optional(),
    max: z.number().optional(),
  }),
  z.object({ kind: z.literal('random'), count: z.number().int().positive(), seed: z.number().int().default(0) }),
  /** IFD's recipe: drop ifd > 1 (the prompt does not help), then keep the top by ifd (percent of the rows left) */
  z.object({
    kind: z.literal('ifd_top'),
    count: z.number().int().positive().optional(),
    percent: z.number().gt(0).max(100).optional(),
  }),
  /** set operation on existing subsets (difference: the first minus the others); names as they were when made */
  z.object({
    kind: z.literal('combine'),
    op: z.enum(['union', 'intersection', 'difference']),
    subsetIds: z.array(z.number().int().positive()).min(2).max(32),
    names: z.array(z.string()).optional(),
  }),
  /**
   * per-cluster quota over a K-means run (`cluster` column): `count` rows, or `percent` of each cluster (at least one),
   * ranked by `signal` (dir) or, without a signal, a seeded random sample. The engine fills `clusterRunId` (the latest
   * clustering when absent) and `k`.
   */
  z.object({
    kind: z.literal('cluster_quota'),
    count: z.number().int().positive().optional(),
    percent: z.number().gt(0).max(100).optional(),
    signal: signalName.optional(),
    dir: z.enum(['desc', 'asc']).default('desc'),
    seed: z.number().int().default(0),
    clusterRunId: z.number().int().positive().optional(),
    k: z.number().int().positive().optional(),
  }),
  /**
   * diversity: greedy k-center (farthest point) on `embedding` from a seeded start, optionally among a subset's rows.
   * The engine fills `radius` (every candidate lies within it of a selected row) and `candidates`.
   */
  z.object({
    kind: z.literal('kcenter'),
    count: z.number().int().positive().max(1_000_000),
    seed: z.number().int().default(0),
    subsetId: z.number().int().positive().optional(),
    subsetName: z.string().optional(),
    radius: z.number().optional(),
    candidates: z.number().int().optional(),
  }),
  /**
   * S2L: K-means (`clusters`, seeded) on the loss trajectories train run `runId` recorded, then `count` rows spread
   * over the clusters (smallest first, each its even share of what is left). The engine fills `checkpoints`,
   * `candidates` and `clusterSizes`.
   */
  z.object({
    kind: z.literal('s2l'),
    runId: z.number().int().positive(),
    count: z.number().int().positive(),
    clusters: z.number().int().positive().max(10_000).default(10),
    seed: z.number().int().default(0),
    checkpoints: z.array(z.number().int()).optional(),
    candidates: z.number().int().optional(),
    clusterSizes: z.array(z.number().int()).optional(),
  }),
  /**
   * UDS in one pass: the rows (in id order) in batches of `batchSize`, each scored by model `modelId` (nuclear norm of
   * its logits + lambda · distance to a buffer of earlier kept rows); the best `keep` share of each batch is kept.
   * Runs as a job (subsets.start). The engine fills `candidates`.
   */
  z.object({
    kind: z.literal('uds'),
    modelId: z.number().int().positive(),
    keep: z.number().gt(0).max(1).default(0.5),
    batchSize: z.number().int().min(2).max(512).default(8),
    bufferSize: z.number().int().positive().max(100_000).default(1024),
    lambda: z.number().min(0).default(2.5e-3),
    seed: z.number().int().default(0),
    maxTokens: z.number().int().positive().max(1 << 16).default(256),
    candidates: z.number().int().optional(),
  }),
  /**
   * the rows the Examples table shows under these filters: column ranges (the duplicates and cluster quick filters are
   * ranges too), a text search, optionally within subset `subsetId`, evaluated by the table's own query. The engine
   * fills `subsetName` and, when a filter reads token counts (n_tokens, n_label), the `renderKeyId` they were counted on.
   */
  z.object({
    kind: z.literal('filter'),
    filters: z.array(z.object({ column: signalName, min: z.number().optional(), max: z.number().optional() })).max(32).default([]),
    text: z.string().max(500).optional(),
    subsetId: z.number().int().positive().optional(),
    subsetName: z.string().optional(),
    renderKeyId: z.number().int().positive().optional(),
  }),
  /** hand-picked rows (e.g. a lasso on the Map); `source` says how they were picked */
  z.object({ kind: z.literal('ids'), ids: z.array(z.number().int().positive()).min(1).max(1_000_000), source: z.string().max(200).optional() }),
]);
export type SubsetRule = z.infer<typeof SubsetRuleSchema>;

/** subsets.start: a subset made by a `select` job (with progress and cancel, for k-center on many rows) */
export const SelectRequestSchema = z.object({ name: z.string().min(1).max(200), rule: SubsetRuleSchema, datasetId: id.optional() });

export interface SubsetInfo {
  id: number;
  name: string;
  size: number;
  rule: SubsetRule;
  createdAt: string;
  /** why the rows may no longer be what the rule would pick (e.g. its dataset was re-mapped and its scores deleted); null when current */
  staleReason: string | null;
}

/** subsets.*: each call's input schema (composed into ApiInputs, index.ts). */
export const SubsetsInputs = {
  'subsets.create': z.object({ name: z.string().min(1).max(200), rule: SubsetRuleSchema, datasetId: id.optional() }),
  /** the same as subsets.create, as a `select` job with progress and cancel (for k-center on many rows) */
  'subsets.start': SelectRequestSchema,
  'subsets.list': z.object({}),
  'subsets.delete': z.object({ subsetId: id }),
  /** runs a (stale) subset's stored rule again and puts the rows in its place: same id and name, not stale; refused for hand-picked rows */
  'subsets.recreate': z.object({ subsetId: id }),
  'subsets.combine': z.object({
    name: z.string().min(1).max(200),
    op: z.enum(['union', 'intersection', 'difference']),
    subsetIds: z.array(id).min(2).max(32),
  }),
} as const;

/** subsets.*: each call's output. */
export interface SubsetsOutputs {
  'subsets.create': SubsetInfo;
  'subsets.start': { jobId: string };
  'subsets.list': SubsetInfo[];
  'subsets.delete': { deleted: boolean };
  'subsets.recreate': SubsetInfo;
  'subsets.combine': SubsetInfo;
}
