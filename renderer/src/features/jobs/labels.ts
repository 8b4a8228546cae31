/** What the jobs drawer calls each job kind (the engine's kind ids are not words a user reads, e.g. `param_mask`). */
import type { JobKind } from '../../../../preload/contract';

export const JOB_KIND_LABELS: Record<JobKind, string> = {
  import: 'Import',
  remap: 'Re-map',
  score: 'Scoring',
  train: 'Training',
  export: 'Export',
  param_mask: 'Parameter mask',
  cluster: 'K-means',
  umap: 'UMAP layout',
  select: 'Subset rule',
  generate: 'Generation',
  eval: 'Evaluation',
};
