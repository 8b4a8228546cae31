/**
 * The app and the open project: the backend the engine runs on, what the project holds, the first screen's progress.
 */
import { z } from 'zod';
import { id } from './common';
import type { DatasetInfo } from './datasets';
import type { ModelInfo } from './models';

export interface BackendInfo {
  name: string;
  reason: string;
  unavailable: Array<{ name: string; why: string }>;
  threads: number;
  /** webgpu only: the adapter and the largest buffer it takes (bytes) */
  adapter?: GpuAdapterInfo;
}

export interface GpuAdapterInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** SwiftShader, lavapipe, llvmpipe, WARP: a CPU emulating a GPU */
  software: boolean;
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
  shaderF16: boolean;
  vulkanFrom: string | null;
}

export interface ProjectInfo {
  name: string;
  path: string;
  datasets: DatasetInfo[];
  models: ModelInfo[];
}

/** Counts behind the first screen's check marks (`project.progress`). */
export interface ProjectProgress {
  datasets: number;
  models: number;
  /** finished score runs (on the dataset asked about, else on any) */
  scoreRuns: number;
  /** subsets with rows (of the dataset asked about, else of any) */
  subsets: number;
  /** finished training runs */
  trainRuns: number;
  /** bundles written */
  exports: number;
}

/** app.info, project.*: each call's input schema (composed into ApiInputs, index.ts). */
export const ProjectInputs = {
  'app.info': z.object({}),
  'project.open': z.object({ name: z.string().min(1).max(200).optional() }),
  /** what the project holds, for the first screen's steps: scores and subsets counted on `datasetId` when given */
  'project.progress': z.object({ datasetId: id.optional() }),
} as const;

/** app.info, project.*: each call's output. */
export interface ProjectOutputs {
  'app.info': {
    version: string;
    /** null while the compute backend is still starting (ask again), or when it did not come up (`backendDown`) */
    backend: BackendInfo | null;
    /** why the compute backend did not come up; absent while it is starting and once it is up */
    backendDown?: string;
    projectsDir: string;
    mode: 'electron' | 'browser';
  };
  'project.open': ProjectInfo;
  'project.progress': ProjectProgress;
}
