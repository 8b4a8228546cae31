/**
 * What the engine pushes to every client (job progress, training metrics, logs, engine status, the project).
 */
import type { Job } from './jobs';
import type { ProjectInfo } from './project';
import type { TrainMetric } from './training';

export type EngineEvent =
  | { type: 'job'; job: Job }
  | { type: 'train.metric'; runId: number; jobId: string; metric: TrainMetric }
  | { type: 'log'; level: 'info' | 'warn' | 'error'; message: string }
  | { type: 'engine'; status: 'ready' | 'restarting' | 'down'; message: string }
  | { type: 'project'; project: ProjectInfo };
