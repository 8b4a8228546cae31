/**
 * The demo project opens already scored (issue 20): once the import of the bundled GSM8K train file finishes in the
 * demo project, a score run of the bundled stories260K on a seeded sample of its rows is queued, an ordinary job the
 * user sees in the job list, so the Examples table, the token view and the map have something to show at once. It
 * happens after that import only: a project made by the user, or a dataset imported later, is never scored unasked.
 */
import { resolve } from 'node:path';
import type { ApiInput, Job, SignalId } from '../../../preload/contract';
import { listDatasets } from '../db';
import { findModelIdByPath } from '../db/models';
import { DEMO_PROJECT, demoDatasetPath, demoModelPath, type OpenProject } from './project';

/** What the demo scores: per-token loss (the token view's colours), mean loss and IFD (sortable columns), embeddings (the map). */
export const DEMO_SIGNALS: readonly SignalId[] = ['token_loss', 'mean_loss', 'ifd', 'embedding'];
/** How many rows: a few hundred, so it finishes within a minute or so on one CPU thread. */
export const DEMO_SAMPLE = 300;

/** The score run to queue after this job, or null when it is not the demo project's import of the demo dataset. */
export function demoScoreRequest(p: OpenProject, job: Job): ApiInput<'scoring.start'> | null {
  if (p.name !== DEMO_PROJECT || job.kind !== 'import' || job.status !== 'done') return null;
  const datasetId = Number(job.stats.datasetId);
  const dataset = listDatasets(p.db).find((d) => d.id === datasetId);
  if (!dataset || resolve(dataset.sourcePath) !== resolve(demoDatasetPath())) return null;
  const modelId = findModelIdByPath(p.db, resolve(demoModelPath()));
  if (modelId === undefined) return null;
  return { modelId, datasetId, signals: [...DEMO_SIGNALS], rows: { kind: 'sample', n: DEMO_SAMPLE, seed: 0 } } as ApiInput<'scoring.start'>;
}
