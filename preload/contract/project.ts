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

/** The compute backends, fastest first (the order the engine's compute/backend.ts tries them in). */
export const BACKEND_NAMES = ['webgpu', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

/**
 * The backend the user chose in the app (app.setBackend) and what this engine knows of each backend, so the badge's
 * popover offers only the ones that can start here. What is known comes from the compute worker's starts since the
 * engine started: the automatic start tries the backends fastest first and says why each faster one did not start.
 */
export interface BackendChoice {
  /** the saved choice; null: automatic (the fastest backend found) */
  prefer: BackendName | null;
  /** WINNOW_BACKEND when it is set: it wins over the saved choice, which cannot be changed in the app then */
  envForced: string | null;
  backends: Array<{
    name: BackendName;
    /**
     * running: jobs run on it now; started: it started here before; untried: not tried since the engine started;
     * software: webgpu found only a software adapter (SwiftShader, lavapipe), which it uses only when chosen;
     * unavailable: it did not start (why says why)
     */
    state: 'running' | 'started' | 'untried' | 'software' | 'unavailable';
    /** webgpu on a software adapter (running, or started before) */
    software?: boolean;
    why?: string;
  }>;
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

export interface AppInfo {
  version: string;
  /** null while the compute backend is still starting (ask again), or when it did not come up (`backendDown`) */
  backend: BackendInfo | null;
  /** why the compute backend did not come up; absent while it is starting and once it is up */
  backendDown?: string;
  /** null where the backend cannot be changed while the engine runs (the CLI: WINNOW_BACKEND only) */
  backendChoice: BackendChoice | null;
  projectsDir: string;
  mode: 'electron' | 'browser';
}

/** app.info, project.*: each call's input schema (composed into ApiInputs, index.ts). */
export const ProjectInputs = {
  'app.info': z.object({}),
  /**
   * Restart the compute worker on a backend (null: automatic, the fastest found) and save the choice in WINNOW_HOME.
   * Refused while a job runs or is queued, and when WINNOW_BACKEND is set; a backend that does not start leaves the
   * previous one running and the error says why. Answers what app.info answers after the switch.
   */
  'app.setBackend': z.object({ prefer: z.enum(BACKEND_NAMES).nullable() }),
  'project.open': z.object({ name: z.string().min(1).max(200).optional() }),
  /** what the project holds, for the first screen's steps: scores and subsets counted on `datasetId` when given */
  'project.progress': z.object({ datasetId: id.optional() }),
} as const;

/** app.info, project.*: each call's output. */
export interface ProjectOutputs {
  'app.info': AppInfo;
  'app.setBackend': AppInfo;
  'project.open': ProjectInfo;
  'project.progress': ProjectProgress;
}
