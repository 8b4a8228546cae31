/**
 * The Map: 2-D layouts of the embeddings (PCA on the call, UMAP as a job) and K-means clusterings.
 */
import { z } from 'zod';
import { id, signalName } from './common';

/** map.umap: a seeded UMAP layout of the embeddings in scope, stored for examples.map method umap */
export const UmapRequestSchema = z.object({
  datasetId: id.optional(),
  seed: z.number().int().default(0),
  nNeighbors: z.number().int().min(2).max(200).default(15),
  minDist: z.number().min(0).max(1).default(0.1),
  /** 0: umap-js's default for the data size */
  nEpochs: z.number().int().min(0).max(5000).default(0),
  limit: z.number().int().positive().max(1_000_000).default(200_000),
});

/** clusters.start: seeded K-means (k-means++) on embedding, stored as the `cluster` column */
export const ClusterRequestSchema = z.object({
  datasetId: id.optional(),
  k: z.number().int().min(2).max(1000),
  seed: z.number().int().default(0),
  maxIter: z.number().int().min(1).max(1000).default(100),
});

export interface ExampleMap {
  /** x0, y0, x1, y1, … (2-D projection) */
  points: number[];
  ids: number[];
  /** colour value per point (null where the signal is missing) */
  values: Array<number | null>;
  /** set when there is nothing to draw, saying what to do */
  message: string | null;
  /** share of variance the two components explain (pca) */
  explained: number[];
  method: 'pca' | 'umap';
  /** umap: the stored layout's parameters */
  layout: { runId: number; seed: number; nNeighbors: number; minDist: number; createdAt: string } | null;
  /** names the points and their order: `values` of a valuesOnly call belong to the points of the call with this key */
  layoutKey: string | null;
}

/** A stored K-means run over `embedding` (the provenance of the `cluster` column). */
export interface ClusterInfo {
  runId: number;
  datasetId: number | null;
  k: number;
  seed: number;
  iterations: number;
  /** Σ squared distance to the assigned centroid at the end */
  objective: number;
  converged: boolean;
  n: number;
  dim: number;
  /** rows per cluster, index = cluster id */
  sizes: number[];
  createdAt: string;
}

/** examples.map, map.umap, clusters.*: each call's input schema (composed into ApiInputs, index.ts). */
export const MapInputs = {
  'examples.map': z.object({
    datasetId: id.optional(),
    /** column whose value colours each point */
    signal: signalName.optional(),
    /** pca: computed on the call; umap: the layout stored by the latest `map.umap` job */
    method: z.enum(['pca', 'umap']).default('pca'),
    limit: z.number().int().positive().max(1_000_000).default(200_000),
    /** only `values` (and `layoutKey`): recolouring keeps the points it has; they align when the layoutKeys match */
    valuesOnly: z.boolean().default(false),
  }),
  /** start a `umap` job: a seeded UMAP layout of the embeddings in scope, stored for examples.map method umap */
  'map.umap': UmapRequestSchema,
  /** start a `cluster` job: seeded K-means (k-means++) on embedding, stored as the `cluster` column */
  'clusters.start': ClusterRequestSchema,
  /** the latest clustering of the dataset: parameters, objective, cluster sizes (null when none) */
  'clusters.info': z.object({ datasetId: id.optional() }),
} as const;

/** examples.map, map.umap, clusters.*: each call's output. */
export interface MapOutputs {
  'examples.map': ExampleMap;
  'map.umap': { jobId: string };
  'clusters.start': { jobId: string };
  'clusters.info': ClusterInfo | null;
}
